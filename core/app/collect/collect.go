package collect

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/blastlog/blastlog/core/event"
	"github.com/blastlog/blastlog/core/job"
	"github.com/blastlog/blastlog/core/merge"
	"github.com/blastlog/blastlog/core/sanitize"
	"github.com/blastlog/blastlog/core/target"
	"github.com/blastlog/blastlog/ports"
)

// Config tunes collection. A zero field takes its Default*.
type Config struct {
	Holder     string        // this replica's lease holder id (required)
	MaxFollows int           // concurrent long-lived log follows in this process
	TailLines  int64         // first read of a container that ran before collection
	LeaseTTL   time.Duration // renewed every third of it (a crashed holder is replaced within ~4s)
	Watchdog   time.Duration // a stream silent this long after its container ended is closed
	Poll       time.Duration // run status and idle checks
	PollEvery  time.Duration // how often a container without a follow is read
	Settle     time.Duration // a terminal run stops once no new container appeared for this long
	GiveUp     time.Duration // a run whose cluster fails this long leaves collection
	// WaitingAfter: a pod of the run that has not started this long gets a waiting
	// notice per cause.
	WaitingAfter time.Duration
	// MetricsEvery: the run's namespace's PodMetrics are listed this often; negative:
	// never (BLASTLOG_K8S_METRICS_EVERY=off).
	MetricsEvery time.Duration
	// StallAfter: a running container that used under StallCPU cores and wrote no
	// line this long has stalled (BLASTLOG_STALL_AFTER).
	StallAfter time.Duration
	// IdleAfter: a run's nodes still up this long after it ended are a cluster left
	// running (BLASTLOG_IDLE_AFTER).
	IdleAfter time.Duration
	Now       func() time.Time
}

// Defaults of Config; envconf reads the same constants.
const (
	DefaultMaxFollows   = 64   // BLASTLOG_K8S_MAX_FOLLOWS
	DefaultTailLines    = 2000 // BLASTLOG_K8S_TAIL_LINES
	DefaultQPS          = 100  // BLASTLOG_K8S_QPS: the Pacer's budget
	DefaultLeaseTTL     = 3 * time.Second
	DefaultWatchdog     = 10 * time.Second
	DefaultPoll         = time.Second
	DefaultPollEvery    = 2 * time.Second
	DefaultSettle       = 5 * time.Second
	DefaultGiveUp       = 30 * time.Minute
	DefaultWaitingAfter = 30 * time.Second
	DefaultMetricsEvery = 15 * time.Second // BLASTLOG_K8S_METRICS_EVERY
	DefaultStallAfter   = 15 * time.Minute // BLASTLOG_STALL_AFTER
	DefaultIdleAfter    = 15 * time.Minute // BLASTLOG_IDLE_AFTER
)

// StallCPU: below this many cores a container does nothing (BLAST searching uses
// whole cores; waiting on a disk or a download uses none).
const StallCPU = 0.05

// Each setting's one accessor: the value, or its Default* when unset.
func (c Config) maxFollows() int             { return cmp.Or(c.MaxFollows, DefaultMaxFollows) }
func (c Config) tailLines() int64            { return cmp.Or(c.TailLines, DefaultTailLines) }
func (c Config) leaseTTL() time.Duration     { return cmp.Or(c.LeaseTTL, DefaultLeaseTTL) }
func (c Config) watchdog() time.Duration     { return cmp.Or(c.Watchdog, DefaultWatchdog) }
func (c Config) poll() time.Duration         { return cmp.Or(c.Poll, DefaultPoll) }
func (c Config) pollEvery() time.Duration    { return cmp.Or(c.PollEvery, DefaultPollEvery) }
func (c Config) settle() time.Duration       { return cmp.Or(c.Settle, DefaultSettle) }
func (c Config) giveUp() time.Duration       { return cmp.Or(c.GiveUp, DefaultGiveUp) }
func (c Config) waitingAfter() time.Duration { return cmp.Or(c.WaitingAfter, DefaultWaitingAfter) }
func (c Config) metricsEvery() time.Duration { return cmp.Or(c.MetricsEvery, DefaultMetricsEvery) }
func (c Config) stallAfter() time.Duration   { return cmp.Or(c.StallAfter, DefaultStallAfter) }
func (c Config) idleAfter() time.Duration    { return cmp.Or(c.IdleAfter, DefaultIdleAfter) }

func (c Config) now() time.Time {
	if c.Now != nil {
		return c.Now()
	}
	return time.Now()
}

// Collector follows the pods of runs and appends every line, once, to their logs.
// One collector per run across replicas (a lease); per-target checkpoints make a
// takeover duplicate-free.
type Collector struct {
	Clusters    ports.ClusterSource
	Log         ports.EventLog
	Jobs        ports.JobDirectory
	Statuses    ports.StatusReader
	Leases      ports.Leases
	Checkpoints ports.Checkpoints
	Active      ports.ActiveRuns
	// Ended are the runs whose nodes are looked at after they ended (idle.go); nil:
	// none are.
	Ended ports.EndedRuns
	// Prices price a cluster left running (nil: its nodes only).
	Prices ports.PriceBook
	// Pacer is the API request budget every follow's open, pod read and poll waits
	// for (BLASTLOG_K8S_QPS); nil: none.
	Pacer  ports.Pacer
	Config Config

	once  sync.Once
	slots chan struct{}
	// pollNanos is the time between the last two polls of one running container (a metric).
	pollNanos atomic.Int64

	mu       sync.Mutex
	degraded map[string]string // run -> the last "cannot reach its cluster" reason noticed
}

// ErrLeaseHeld: another replica collects this run.
var ErrLeaseHeld = errors.New("another collector holds the run")

// errLeaseLost: this collector's lease ran out (paused, or taken over): stop at once.
var errLeaseLost = errors.New("the collector's lease ran out")

func (c *Collector) init() {
	c.once.Do(func() { c.slots = make(chan struct{}, c.Config.maxFollows()) })
}

// pace waits for the request budget.
func (c *Collector) pace(ctx context.Context) error {
	if c.Pacer == nil {
		return ctx.Err()
	}
	return c.Pacer.Wait(ctx)
}

// PollInterval is the time between the last two polls of one running container: the
// ~2 s of Config.PollEvery, stretched when the request budget does not allow it.
func (c *Collector) PollInterval() time.Duration { return time.Duration(c.pollNanos.Load()) }

// startedKey is the checkpoint entry holding when the run's collection began, so that
// every holder tells containers that ran before it (tailed) from later ones (read
// from their first line) the same way.
const startedKey = "_collection_started"

// Collect follows jobID's pods until the run is terminal and every target is drained,
// ctx ends, or the lease is lost. ErrLeaseHeld when another replica collects it.
func (c *Collector) Collect(ctx context.Context, jobID string) error {
	c.init()
	rec, err := c.Jobs.Get(ctx, jobID)
	if err != nil {
		return err
	}
	ok, err := c.Leases.Acquire(ctx, jobID, c.Config.Holder, c.Config.leaseTTL())
	if err != nil {
		return err
	}
	if !ok {
		return ErrLeaseHeld
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	defer c.Leases.Release(context.WithoutCancel(ctx), jobID, c.Config.Holder)
	lease := &leaseClock{ttl: c.Config.leaseTTL()}
	lease.renewed(c.Config.now().Add(-time.Millisecond)) // acquired just now
	go c.keepLease(ctx, cancel, jobID, lease)

	cluster, err := c.Clusters.For(ctx, rec)
	if err != nil {
		c.degrade(ctx, jobID, err)
		return err
	}
	c.mu.Lock()
	delete(c.degraded, jobID) // reachable again: a later failure is news
	c.mu.Unlock()
	ckpts, err := c.Checkpoints.Load(ctx, jobID)
	if err != nil {
		return err
	}
	started := c.Config.now()
	if raw, ok := ckpts[startedKey]; ok {
		started.UnmarshalText(raw)
	} else {
		// Not saved (a store refusing writes): this holder still uses it; a later one
		// may take a later start and tail a little more.
		b, _ := started.UTC().MarshalText()
		c.Checkpoints.Save(ctx, jobID, startedKey, b)
	}
	elb := rec.ELBJobID
	if elb == "" {
		elb = jobID
	}
	rs := &runState{c: c, cluster: cluster, lease: lease, jobID: jobID, namespace: rec.Namespace, run: target.Run{ID: elb},
		started: started, ckpts: map[string]merge.Checkpoint{}, targets: map[string]*tstate{},
		recent: map[string]*recentLines{}, wake: make(chan struct{}, 1), pollWake: make(chan struct{}, 1), nodes: map[string]*nodeUse{}}
	rs.objs, rs.ctx = newObjects(rs, ckpts), ctx
	rs.endedBefore = ckpts[endedKey]
	for k, raw := range ckpts {
		if strings.HasPrefix(k, "_") {
			continue // startedKey, and the notices' entries (objects)
		}
		var cp merge.Checkpoint
		if json.Unmarshal(raw, &cp) == nil {
			rs.ckpts[k] = cp
		}
	}
	rs.catchUp(ctx)
	rs.notice(ctx, "collector_started", fmt.Sprintf("collecting the pods of run %s in namespace %s", elb, rec.Namespace))

	watchErr := make(chan error, 1)
	go func() { watchErr <- cluster.WatchPods(ctx, rec.Namespace, rs.observe) }()
	rs.wg.Add(3)
	go func() { defer rs.wg.Done(); rs.pollLoop(ctx) }()
	go func() { defer rs.wg.Done(); rs.objs.watch(ctx, rec.Namespace) }()
	go func() { defer rs.wg.Done(); rs.sampleLoop(ctx) }()
	defer rs.wg.Wait()
	tick := time.NewTicker(c.Config.poll())
	defer tick.Stop()
	// Why the collection stopped when ctx ended: its lease ran out (keepLease cancels
	// ctx then), or the caller's ctx.
	ended := func() error {
		if lease.lost.Load() {
			return errLeaseLost
		}
		return ctx.Err()
	}
	for {
		rs.dispatch(ctx)
		select {
		case <-ctx.Done():
			return ended()
		case err := <-watchErr:
			if ctx.Err() != nil {
				return ended() // the watch saw ctx end first: the same stop
			}
			if err != nil {
				// A watch that cannot list (RBAC, a deleted namespace) is news, not a
				// silent retry; and a cached per-run cluster is looked up afresh.
				rs.notice(ctx, "degraded", "cannot watch the run's pods: "+err.Error())
				if f, ok := c.Clusters.(forgetter); ok {
					f.Forget(rec)
				}
			}
			return err
		case <-rs.wake:
		case <-tick.C:
			rs.objs.checkWaiting(ctx)
			rs.followNodes(ctx)
			if rs.finished(ctx) {
				cancel()
				rs.wg.Wait()
				rs.watchEnded(context.WithoutCancel(ctx))
				return c.Active.Done(context.WithoutCancel(ctx), jobID)
			}
		}
	}
}

// forgetter is a ClusterSource that caches clusters (AKS) and can drop one.
type forgetter interface{ Forget(job.Record) }

// leaseClock is the local view of the lease: an append is made only while the lease
// is surely still held (its last renewal's start plus the TTL, with a margin), so a
// collector paused past its lease never appends after a new holder took over.
type leaseClock struct {
	ttl   time.Duration
	until atomic.Int64 // unix nanos
	lost  atomic.Bool
}

func (l *leaseClock) renewed(at time.Time) { l.until.Store(at.Add(l.ttl - l.ttl/10).UnixNano()) }

func (l *leaseClock) valid(now time.Time) bool {
	return !l.lost.Load() && now.UnixNano() < l.until.Load()
}

// degrade notes once per distinct reason that a run's cluster cannot be reached.
func (c *Collector) degrade(ctx context.Context, jobID string, err error) {
	c.mu.Lock()
	if c.degraded == nil {
		c.degraded = map[string]string{}
	}
	same := c.degraded[jobID] == err.Error()
	c.degraded[jobID] = err.Error()
	c.mu.Unlock()
	if !same {
		c.appendNotice(ctx, jobID, "degraded", "cannot reach the run's cluster: "+err.Error())
	}
}

// appendNotice stores a notice; its text goes through the sanitiser like every line
// (an SDK error may span lines or carry a token).
func (c *Collector) appendNotice(ctx context.Context, jobID, kind, text string) {
	e := event.System(jobID, "", kind, sanitize.Line(text), c.Config.now())
	c.Log.Append(ctx, jobID, []event.Event{e})
}

func (c *Collector) keepLease(ctx context.Context, cancel context.CancelFunc, jobID string, lease *leaseClock) {
	t := time.NewTicker(c.Config.leaseTTL() / 3)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			at := c.Config.now()
			ok, err := c.Leases.Renew(ctx, jobID, c.Config.Holder, c.Config.leaseTTL())
			switch {
			case err == nil && ok:
				lease.renewed(at)
			case err == nil && !ok:
				lease.lost.Store(true)
				cancel() // another replica took over: stop at once
				return
			case !lease.valid(c.Config.now()):
				lease.lost.Store(true)
				cancel() // could not renew in time: another may hold it now
				return
			}
		}
	}
}

// runFailures is the per-run backoff of Run.
type runFailures struct {
	since, next time.Time
	wait        time.Duration
}

// Run collects every active run this replica can lease, until ctx ends: a run whose
// lease another replica holds is tried again each round, so a replica that dies is
// replaced once its lease expires. A run whose collection fails is retried with a
// backoff of its own (1 s doubling to 5 min); after Config.GiveUp of failures it gets
// a degraded notice and leaves the active set.
func (c *Collector) Run(ctx context.Context) {
	c.init()
	var mu sync.Mutex
	running := map[string]bool{}
	failing := map[string]*runFailures{}
	var wg sync.WaitGroup
	defer wg.Wait()
	if c.Ended != nil {
		wg.Add(1)
		go func() { defer wg.Done(); c.lookAfterEnds(ctx) }()
	}
	tick := time.NewTicker(c.Config.poll())
	defer tick.Stop()
	for {
		if ids, err := c.Active.Active(ctx); err == nil {
			now := c.Config.now()
			for _, id := range ids {
				mu.Lock()
				busy := running[id]
				f := failing[id]
				if busy || (f != nil && now.Before(f.next)) {
					mu.Unlock()
					continue
				}
				running[id] = true
				mu.Unlock()
				wg.Add(1)
				go func() {
					defer wg.Done()
					err := c.Collect(ctx, id)
					mu.Lock()
					defer mu.Unlock()
					delete(running, id)
					if err == nil || errors.Is(err, ErrLeaseHeld) || errors.Is(err, errLeaseLost) || ctx.Err() != nil {
						delete(failing, id)
						return
					}
					f := failing[id]
					if f == nil {
						f = &runFailures{since: c.Config.now(), wait: time.Second}
						failing[id] = f
					} else {
						f.wait = min(2*f.wait, 5*time.Minute)
					}
					f.next = c.Config.now().Add(f.wait)
					if c.Config.now().Sub(f.since) >= c.Config.giveUp() {
						c.appendNotice(ctx, id, "degraded", fmt.Sprintf("collection of the run's pods failed for %v and has stopped: %v",
							c.Config.giveUp(), err))
						c.Active.Done(ctx, id)
						delete(failing, id)
					}
				}()
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
	}
}
