package collect

import (
	"context"
	"sync"
	"time"

	"github.com/blastlog/blastlog/core/job"
	"github.com/blastlog/blastlog/core/merge"
	"github.com/blastlog/blastlog/core/signal"
	"github.com/blastlog/blastlog/core/target"
	"github.com/blastlog/blastlog/ports"
)

// targetState is where a target (one container instance) is.
type targetState uint8

const (
	queued    targetState = iota // seen, not yet read
	following                    // holds a follow slot: one long-lived stream
	polling                      // no slot: read about every Config.PollEvery
	draining                     // its container ended: a last read to the end of its log
	done                         // its lines are stored and its container_ended notice too
)

// tstate is the collector's state of one target. Fields are guarded by runState.mu.
type tstate struct {
	t        target.Target
	state    targetState
	ended    bool // the container has terminated (per the watch) or the pod is gone
	previous bool // a newer instance replaced it: its log is read with previous=true
	read     bool // a read of its log has succeeded at least once
	busy     bool // a poll of it is in flight: no follow may start meanwhile
	changed  chan struct{}
	notified string           // the last notice emitted for it
	cp       merge.Checkpoint // what is stored (saved to Checkpoints after each batch)
	nextPoll time.Time
	polledAt time.Time // when its last poll began
	usage    *usage    // what the metrics API measured of it; nil before a sample
}

// runState is one run being collected.
type runState struct {
	c         *Collector
	cluster   ports.Cluster
	lease     *leaseClock
	jobID     string
	namespace string
	run       target.Run
	started   time.Time // when the run's collection began (shared by every holder)
	objs      *objects  // its events, waiting pods and batch Jobs
	ctx       context.Context

	mu       sync.Mutex
	ckpts    map[string]merge.Checkpoint // loaded at the start, by target key
	targets  map[string]*tstate
	recent   map[string]*recentLines // per pod UID + container: lines stored, by instance
	newest   time.Time               // when the last new target appeared
	wake     chan struct{}           // the dispatcher's: a slot or a target changed
	pollWake chan struct{}           // the poll loop's: a polled target ended
	wg       sync.WaitGroup

	// The run loop's own: what its node notices said (nodes.go).
	nodes          map[string]*nodeUse
	nodesForbidden bool
	// endedBefore: what an earlier holder kept when it ended the run's collection
	// (idle.go); nil when none did. That end, and its due look, stand.
	endedBefore []byte
}

// observe takes a pod change from the watch (or from a list).
func (rs *runState) observe(ch ports.PodChange) {
	ts := target.Targets(rs.run, ch.Pod)
	if len(ts) > 0 {
		p := ch.Pod
		p.Deleted = p.Deleted || ch.Deleted
		rs.objs.pod(rs.ctx, p)
	}
	rs.mu.Lock()
	defer rs.mu.Unlock()
	for _, t := range ts {
		if t.ContainerID == "" {
			continue // not started: it gets a target once it has an instance
		}
		rs.previousLocked(t)
		f, ok := rs.targets[t.Key()]
		if !ok {
			f = &tstate{t: t, changed: make(chan struct{}, 1), cp: rs.ckpts[t.Key()]}
			if f.cp.Ended {
				f.state = done // finished under an earlier holder
			}
			rs.targets[t.Key()] = f
			rs.newest = rs.c.Config.now()
			// A new instance of a container (a restart in place) supersedes the old one:
			// the pod's status no longer shows the old one ending, so end it here.
			for _, old := range rs.targets {
				if old != f && old.t.PodUID == t.PodUID && old.t.Container == t.Container && !old.previous {
					old.previous, old.ended = true, true
					if t.Last.ID == old.t.ContainerID {
						// How it ended, from the pod's lastState: its exit is the attempt's.
						old.t.ExitCode, old.t.Reason = t.Last.ExitCode, t.Last.Reason
						if !t.Last.FinishedAt.IsZero() {
							old.t.FinishedAt = t.Last.FinishedAt
						}
					}
					signal.Notify(old.changed)
				}
			}
		}
		if !f.previous {
			f.t.State, f.t.ExitCode, f.t.Reason = t.State, t.ExitCode, t.Reason
			if !t.StartedAt.IsZero() {
				f.t.StartedAt = t.StartedAt
			}
			if !t.FinishedAt.IsZero() {
				f.t.FinishedAt = t.FinishedAt
			}
		}
		if (t.State == target.Terminated || ch.Deleted) && !f.ended {
			f.ended = true
			if f.state == polling {
				f.nextPoll = time.Time{} // due now: its pod may be deleted soon
				signal.Notify(rs.pollWake)
			}
		}
		signal.Notify(f.changed)
	}
	signal.Notify(rs.wake)
}

// waitsForPreviousLocked: an earlier instance of f's container is not read to its end
// yet; f waits for it, so that a container's instances reach the log in order.
// rs.mu is held.
func (rs *runState) waitsForPreviousLocked(f *tstate) bool {
	if f.t.Restart == 0 {
		return false
	}
	for _, o := range rs.targets {
		if o.previous && o.state != done && o.t.Restart < f.t.Restart && o.t.PodUID == f.t.PodUID && o.t.Container == f.t.Container {
			return true
		}
	}
	return false
}

// previousLocked makes a target of the instance before t when the collector never saw
// it (it restarted in place between two looks at the pod): the pod's lastState names
// it and says how it ended, and its log is still there as the container's previous
// one. rs.mu is held.
func (rs *runState) previousLocked(t target.Target) {
	if t.Last.ID == "" {
		return
	}
	prev := t
	prev.ContainerID, prev.State, prev.Restart = t.Last.ID, target.Terminated, max(0, t.Restart-1)
	prev.ExitCode, prev.Reason, prev.StartedAt, prev.FinishedAt = t.Last.ExitCode, t.Last.Reason, t.Last.StartedAt, t.Last.FinishedAt
	if _, ok := rs.targets[prev.Key()]; ok {
		return
	}
	f := &tstate{t: prev, changed: make(chan struct{}, 1), cp: rs.ckpts[prev.Key()], previous: true, ended: true}
	if f.cp.Ended {
		f.state = done
	}
	rs.targets[prev.Key()] = f
	rs.newest = rs.c.Config.now()
}

// dispatch gives free follow slots to running containers first, then to any not yet
// read; every target without a slot is polled.
func (rs *runState) dispatch(ctx context.Context) {
	for {
		rs.mu.Lock()
		var pick *tstate
		for _, f := range rs.targets {
			if (f.state != queued && f.state != polling) || f.busy || rs.waitsForPreviousLocked(f) {
				continue
			}
			if f.t.State == target.Running && !f.ended {
				pick = f
				break
			}
			if pick == nil && f.state == queued {
				pick = f
			}
		}
		if pick == nil {
			rs.mu.Unlock()
			return
		}
		select {
		case rs.c.slots <- struct{}{}:
		default:
			// All slots busy: the rest are polled.
			for _, f := range rs.targets {
				if f.state == queued {
					f.state = polling
				}
			}
			rs.mu.Unlock()
			return
		}
		pick.state = following
		rs.mu.Unlock()
		rs.wg.Add(1)
		go func() {
			defer rs.wg.Done()
			defer func() { <-rs.c.slots; signal.Notify(rs.wake) }()
			rs.follow(ctx, pick)
		}()
	}
}

// finished: the run is terminal and nothing is left to read.
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
	for _, f := range rs.targets {
		if f.state != done {
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
	rs.mu.Lock()
	before := len(rs.targets)
	rs.mu.Unlock()
	for _, p := range pods {
		rs.observe(ports.PodChange{Pod: p})
	}
	rs.mu.Lock()
	grew := len(rs.targets) != before
	rs.mu.Unlock()
	return !grew
}

// notice appends a collector notice to the run's log.
func (rs *runState) notice(ctx context.Context, kind, text string) {
	rs.c.appendNotice(ctx, rs.jobID, kind, text)
}

// noticeFor emits a notice about a target once per change of kind.
func (rs *runState) noticeFor(ctx context.Context, f *tstate, kind, text string) {
	rs.mu.Lock()
	same := f.notified == kind
	f.notified = kind
	rs.mu.Unlock()
	if !same {
		rs.notice(ctx, kind, text)
	}
}
