// Package collect is the Kubernetes collector use case: the pods of a run followed,
// every line appended once to its log, one collector per run across replicas.
package collect

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/blastlog/blastlog/core/event"
	"github.com/blastlog/blastlog/core/job"
	"github.com/blastlog/blastlog/core/merge"
	"github.com/blastlog/blastlog/core/signal"
	"github.com/blastlog/blastlog/core/target"
	"github.com/blastlog/blastlog/ports"
)

// Config tunes collection. Zero values are defaults.
type Config struct {
	Holder     string        // this replica's lease holder id (required)
	MaxFollows int           // concurrent log follows in this process: 64
	TailLines  int64         // first open of a container: 2000
	LeaseTTL   time.Duration // 15s, renewed every third of it
	Watchdog   time.Duration // a stream silent this long after its container ended is closed: 10s
	Poll       time.Duration // run status and idle checks: 1s
	Settle     time.Duration // a terminal run stops once no new container appeared for this long: 5s
	Now        func() time.Time
}

// Collector follows the pods of runs and appends every line, once, to their logs.
// One collector per run across replicas (a lease); per-target checkpoints make a
// takeover duplicate-free.
type Collector struct {
	Cluster ports.Cluster // the cluster of every run, unless ClusterFor is set
	// ClusterFor finds a run's cluster from its record (AKS: one cluster per run).
	ClusterFor  func(ctx context.Context, r job.Record) (ports.Cluster, error)
	Log         ports.EventLog
	Jobs        ports.JobDirectory
	Statuses    ports.StatusReader
	Leases      ports.Leases
	Checkpoints ports.Checkpoints
	Active      ports.ActiveRuns
	Config      Config

	once  sync.Once
	slots chan struct{}

	mu       sync.Mutex
	degraded map[string]string // run -> the last "cannot reach its cluster" reason noticed
}

// ErrLeaseHeld: another replica collects this run.
var ErrLeaseHeld = errors.New("another collector holds the run")

func (c *Collector) init() {
	c.once.Do(func() { c.slots = make(chan struct{}, c.Config.maxFollows()) })
}

// Defaults of Config (CONTRACT §6): envconf reads the same constants.
const (
	DefaultMaxFollows = 64
	DefaultTailLines  = 2000
)

func (c Config) maxFollows() int {
	if c.MaxFollows > 0 {
		return c.MaxFollows
	}
	return DefaultMaxFollows
}

func (c Config) tailLines() int64 {
	if c.TailLines > 0 {
		return c.TailLines
	}
	return DefaultTailLines
}

func (c Config) leaseTTL() time.Duration { return orDefault(c.LeaseTTL, 15*time.Second) }
func (c Config) watchdog() time.Duration { return orDefault(c.Watchdog, 10*time.Second) }
func (c Config) poll() time.Duration     { return orDefault(c.Poll, time.Second) }
func (c Config) settle() time.Duration   { return orDefault(c.Settle, 5*time.Second) }

func (c Config) now() time.Time {
	if c.Now != nil {
		return c.Now()
	}
	return time.Now()
}

func orDefault(d, def time.Duration) time.Duration {
	if d > 0 {
		return d
	}
	return def
}

// follow is the collector's state of one target.
type follow struct {
	t        target.Target
	phase    followPhase
	ended    bool // the container has terminated (per the watch) or the pod is gone
	previous bool // a newer instance replaced it: its log is read with previous=true
	changed  chan struct{}
	notified string // the last notice emitted for it
}

// followPhase is where a target is: waiting for a follow slot, followed, or done.
type followPhase uint8

const (
	queued followPhase = iota
	following
	done
)

// runState is one run being collected.
type runState struct {
	c         *Collector
	cluster   ports.Cluster
	jobID     string
	namespace string
	run       target.Run
	ckpts     map[string][]byte
	mu        sync.Mutex
	follows   map[string]*follow
	pending   []*follow
	recent    map[string]*recentLines // per pod UID + container: lines stored, by instance
	newest    time.Time               // when the last new target appeared
	wake      chan struct{}
	wg        sync.WaitGroup
}

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
	go c.keepLease(ctx, cancel, jobID)

	cluster := c.Cluster
	if c.ClusterFor != nil {
		if cluster, err = c.ClusterFor(ctx, rec); err != nil {
			c.degrade(ctx, jobID, err)
			return err
		}
		c.mu.Lock()
		delete(c.degraded, jobID) // reachable again: a later failure is news
		c.mu.Unlock()
	}
	ckpts, err := c.Checkpoints.Load(ctx, jobID)
	if err != nil {
		return err
	}
	elb := rec.ELBJobID
	if elb == "" {
		elb = jobID
	}
	rs := &runState{c: c, cluster: cluster, recent: map[string]*recentLines{}, jobID: jobID, namespace: rec.Namespace, run: target.Run{ID: elb}, ckpts: ckpts, follows: map[string]*follow{},
		wake: make(chan struct{}, 1)}
	rs.notice(ctx, "collector_started", fmt.Sprintf("collecting the pods of run %s in namespace %s", elb, rec.Namespace))

	watchErr := make(chan error, 1)
	go func() { watchErr <- cluster.WatchPods(ctx, rec.Namespace, rs.observe) }()
	defer rs.wg.Wait()
	tick := time.NewTicker(c.Config.poll())
	defer tick.Stop()
	for {
		rs.dispatch(ctx)
		select {
		case <-ctx.Done():
			return ctx.Err()
		case err := <-watchErr:
			return err
		case <-rs.wake:
		case <-tick.C:
			if rs.finished(ctx) {
				cancel()
				rs.wg.Wait()
				return c.Active.Done(context.WithoutCancel(ctx), jobID)
			}
		}
	}
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
		e := event.System(jobID, "", "degraded", "cannot reach the run's cluster: "+err.Error(), c.Config.now())
		c.Log.Append(ctx, jobID, []event.Event{e})
	}
}

func (c *Collector) keepLease(ctx context.Context, cancel context.CancelFunc, jobID string) {
	t := time.NewTicker(c.Config.leaseTTL() / 3)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			if ok, err := c.Leases.Renew(ctx, jobID, c.Config.Holder, c.Config.leaseTTL()); err == nil && !ok {
				cancel() // another replica took over: stop at once
				return
			}
		}
	}
}

// observe takes a pod change from the watch (or from a list).
func (rs *runState) observe(ch ports.PodChange) {
	ts := target.Targets(rs.run, ch.Pod)
	rs.mu.Lock()
	defer rs.mu.Unlock()
	rs.observeLocked(ch, ts)
}

func (rs *runState) observeLocked(ch ports.PodChange, ts []target.Target) {
	for _, t := range ts {
		if t.ContainerID == "" {
			continue // not started: it gets a target once it has an instance
		}
		f, ok := rs.follows[t.Key()]
		if !ok {
			f = &follow{t: t, changed: make(chan struct{}, 1)}
			rs.follows[t.Key()] = f
			rs.pending = append(rs.pending, f) // phase queued
			rs.newest = rs.c.Config.now()
			// A new instance of a container (a restart in place) supersedes the old one:
			// the pod's status no longer shows the old one ending, so end it here.
			for _, old := range rs.follows {
				if old != f && old.t.PodUID == t.PodUID && old.t.Container == t.Container && !old.previous {
					old.previous, old.ended = true, true
					signal.Notify(old.changed)
				}
			}
		}
		f.t.State = t.State
		if t.State == target.Terminated || ch.Deleted {
			f.ended = true
		}
		signal.Notify(f.changed)
	}
	signal.Notify(rs.wake)
}

// dispatch starts queued follows while slots are free, running containers first.
func (rs *runState) dispatch(ctx context.Context) {
	for {
		rs.mu.Lock()
		if len(rs.pending) == 0 {
			rs.mu.Unlock()
			return
		}
		pick := 0
		for i, f := range rs.pending {
			if f.t.State == target.Running {
				pick = i
				break
			}
		}
		f := rs.pending[pick]
		rs.mu.Unlock()
		select {
		case rs.c.slots <- struct{}{}:
		default:
			return // all slots busy: the rest wait their turn
		}
		rs.mu.Lock()
		rs.pending = append(rs.pending[:pick], rs.pending[pick+1:]...)
		f.phase = following
		rs.mu.Unlock()
		rs.wg.Add(1)
		go func() {
			defer rs.wg.Done()
			defer func() { <-rs.c.slots; signal.Notify(rs.wake) }()
			rs.follow(ctx, f)
		}()
	}
}

// finished: the run is terminal and nothing is left to follow.
func (rs *runState) finished(ctx context.Context) bool {
	st, err := rs.c.Statuses.Statuses(ctx, []string{rs.jobID})
	if err != nil || !job.Status(st[rs.jobID]).Terminal() {
		return false
	}
	rs.mu.Lock()
	if rs.c.Config.now().Sub(rs.newest) < rs.c.Config.settle() {
		rs.mu.Unlock()
		return false // the watch may still be delivering pods
	}
	for _, f := range rs.follows {
		if f.phase != done || len(rs.pending) > 0 {
			rs.mu.Unlock()
			return false
		}
	}
	rs.mu.Unlock()
	// A watch can lag: only a fresh list says that no container is left unseen.
	pods, err := rs.cluster.ListPods(ctx, rs.namespace)
	if err != nil {
		return false
	}
	before := len(rs.follows)
	for _, p := range pods {
		rs.observe(ports.PodChange{Pod: p})
	}
	rs.mu.Lock()
	grew := len(rs.follows) != before
	rs.mu.Unlock()
	return !grew
}

// follow collects one target until its container has ended and its log is drained,
// the pod is gone, or ctx ends. A dropped stream is resumed from the checkpoint.
func (rs *runState) follow(ctx context.Context, f *follow) {
	rs.mu.Lock()
	t := f.t // identity fields never change; the watch updates State under the lock
	rs.mu.Unlock()
	key := t.Key()
	var committed merge.Cursor
	if raw, ok := rs.ckpts[key]; ok {
		json.Unmarshal(raw, &committed)
	}
	backoff := 200 * time.Millisecond
	for ctx.Err() == nil {
		working := clone(committed)
		// The log API names a container, not an instance: make sure the instance this
		// target is about is still the current one before reading "the" log.
		if !rs.current(ctx, f, t) {
			rs.finish(f)
			return
		}
		rs.mu.Lock()
		previous := f.previous
		rs.mu.Unlock()
		req := ports.LogRequest{Namespace: t.Namespace, Pod: t.Pod, Container: t.Container, Previous: previous}
		if !working.SinceTime().IsZero() {
			working.Resume()
			req.SinceTime = working.SinceTime()
		} else if working.Lines == 0 {
			req.TailLines = rs.c.Config.tailLines()
		}
		rs.noticeFor(ctx, f, "following", fmt.Sprintf("following %s/%s", t.Pod, t.Container))
		var batch []event.Event
		flush := func() error {
			if len(batch) == 0 {
				return nil
			}
			if _, err := rs.c.Log.Append(ctx, rs.jobID, batch); err != nil {
				return err
			}
			batch = batch[:0]
			state, _ := json.Marshal(&working)
			if err := rs.c.Checkpoints.Save(ctx, rs.jobID, key, state); err != nil {
				return err
			}
			committed = clone(working)
			return nil
		}
		sctx, stop := context.WithCancel(ctx)
		last := make(chan struct{}, 1)
		go rs.watchdog(sctx, f, last, stop)
		err := rs.cluster.FollowLog(sctx, req, func(line []byte, more bool) error {
			signal.Notify(last)
			ts, content, perr := merge.ParseLine(line)
			if perr != nil {
				ts, content = rs.c.Config.now().UTC(), line
			}
			if working.Accept(ts, content) && rs.firstInstance(t, merge.LineHash(ts, content)) {
				batch = append(batch, merge.Event(rs.jobID, t, ts, content))
			}
			if !more || len(batch) >= 256 {
				return flush()
			}
			return nil
		})
		stopped := sctx.Err() != nil && ctx.Err() == nil // the watchdog closed it
		stop()
		if ferr := flush(); ferr != nil && err == nil {
			err = ferr
		}
		rs.mu.Lock()
		ended := f.ended
		rs.mu.Unlock()
		switch {
		case ctx.Err() != nil:
			return
		case err == nil && (ended || stopped || previous):
			rs.finish(f)
			return
		case errors.Is(err, ports.ErrNotFound):
			rs.finish(f) // the pod is gone; what was read is kept
			return
		case errors.Is(err, ports.ErrCut):
			// The container runs on: resume at once from the last line stored.
		case errors.Is(err, ports.ErrForbidden):
			rs.noticeFor(ctx, f, "degraded", fmt.Sprintf("cannot read the log of %s/%s: the collector lacks permission (pods/log get): %v",
				t.Pod, t.Container, err))
			rs.finish(f)
			return
		case errors.Is(err, ports.ErrWaiting):
			rs.noticeFor(ctx, f, "waiting", fmt.Sprintf("waiting for %s/%s to start", t.Pod, t.Container))
			select {
			case <-ctx.Done():
				return
			case <-f.changed:
			case <-time.After(2 * time.Second):
			}
			continue
		case err != nil:
			// Lines not stored are read again: the next round starts from committed.
			select {
			case <-ctx.Done():
				return
			case <-time.After(backoff):
			}
			backoff = min(backoff*2, 10*time.Second)
			continue
		}
		backoff = 200 * time.Millisecond // a cut stream, or one ended before the watch said so: resume
	}
}

// current checks the pod now: a newer instance of the container makes f a previous
// one; false when the pod is gone.
func (rs *runState) current(ctx context.Context, f *follow, self target.Target) bool {
	p, err := rs.cluster.Pod(ctx, self.Namespace, self.Pod)
	if errors.Is(err, ports.ErrNotFound) {
		return false
	}
	if err != nil {
		return true // unknown: try the log, which answers for itself
	}
	for _, t := range target.Targets(rs.run, p) {
		if t.Container != self.Container || t.ContainerID == "" {
			continue
		}
		rs.mu.Lock()
		switch {
		case t.ContainerID != self.ContainerID:
			f.previous, f.ended = true, true
		case t.State == target.Terminated:
			f.ended = true // the watch may not have said so yet
		}
		rs.mu.Unlock()
	}
	return true
}

// watchdog closes a stream that stays silent after its container has ended.
func (rs *runState) watchdog(ctx context.Context, f *follow, activity <-chan struct{}, stop context.CancelFunc) {
	quiet := time.NewTimer(rs.c.Config.watchdog())
	defer quiet.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-activity:
			quiet.Reset(rs.c.Config.watchdog())
		case <-quiet.C:
			rs.mu.Lock()
			ended := f.ended
			rs.mu.Unlock()
			if ended {
				stop()
				return
			}
			quiet.Reset(rs.c.Config.watchdog())
		}
	}
}

func (rs *runState) finish(f *follow) {
	rs.mu.Lock()
	f.phase = done
	rs.mu.Unlock()
}

// recentLines remembers which instance stored the latest lines of one container.
type recentLines struct {
	by    map[uint64]string
	order []uint64
}

// The race concerns the first lines after a restart; 512 per container (~25 KB) covers it
// without growing with a long log or with thousands of containers.
const maxRecent = 512

// firstInstance reports whether a line may be stored by instance t: false when another
// instance of the same container already stored it. The log API names containers, not
// instances: right after a restart the kubelet may serve the new instance while the
// pod's status still names the old one, and the old instance's resumed follow reads
// the new instance's lines. Kubelet timestamps are nanosecond-precise, so the same
// (timestamp, content) under two instances is the same line.
func (rs *runState) firstInstance(t target.Target, h uint64) bool {
	key := t.PodUID + "/" + t.Container
	rs.mu.Lock()
	defer rs.mu.Unlock()
	r := rs.recent[key]
	if r == nil {
		r = &recentLines{by: map[uint64]string{}}
		rs.recent[key] = r
	}
	if inst, ok := r.by[h]; ok {
		return inst == t.ContainerID
	}
	r.by[h] = t.ContainerID
	r.order = append(r.order, h)
	if len(r.order) > maxRecent {
		delete(r.by, r.order[0])
		r.order = r.order[1:]
	}
	return true
}

func clone(c merge.Cursor) merge.Cursor {
	out := c
	out.Seen = make(map[uint64]int, len(c.Seen))
	for k, v := range c.Seen {
		out.Seen[k] = v
	}
	return out
}

// notice appends a collector notice to the run's log.
func (rs *runState) notice(ctx context.Context, kind, text string) {
	e := event.System(rs.jobID, "", kind, text, rs.c.Config.now())
	rs.c.Log.Append(ctx, rs.jobID, []event.Event{e})
}

// noticeFor emits a notice about a target once per change of kind.
func (rs *runState) noticeFor(ctx context.Context, f *follow, kind, text string) {
	rs.mu.Lock()
	same := f.notified == kind
	f.notified = kind
	rs.mu.Unlock()
	if !same {
		rs.notice(ctx, kind, text)
	}
}

// Run collects every active run this replica can lease, until ctx ends: a run whose
// lease another replica holds is tried again each round, so a replica that dies is
// replaced once its lease expires.
func (c *Collector) Run(ctx context.Context) {
	c.init()
	var mu sync.Mutex
	running := map[string]bool{}
	var wg sync.WaitGroup
	defer wg.Wait()
	tick := time.NewTicker(c.Config.poll())
	defer tick.Stop()
	for {
		if ids, err := c.Active.Active(ctx); err == nil {
			for _, id := range ids {
				mu.Lock()
				busy := running[id]
				running[id] = true
				mu.Unlock()
				if busy {
					continue
				}
				wg.Add(1)
				go func() {
					defer wg.Done()
					c.Collect(ctx, id)
					mu.Lock()
					delete(running, id)
					mu.Unlock()
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
