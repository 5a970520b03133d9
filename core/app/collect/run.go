package collect

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/blastlog/blastlog/core/event"
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

// follow reads one target through a long-lived stream until its container has ended
// and its log is drained, the pod is gone, or ctx ends. A dropped stream is resumed
// from the checkpoint.
func (rs *runState) follow(ctx context.Context, f *tstate) {
	backoff := 200 * time.Millisecond
	for ctx.Err() == nil {
		// The log API names a container, not an instance: make sure the instance this
		// target is about is still the current one before reading "the" log.
		if !rs.current(ctx, f) {
			rs.finish(ctx, f, nil, true)
			return
		}
		rs.startRead(f)
		stopped, err := rs.readOnce(ctx, f, true)
		rs.mu.Lock()
		ended, previous := f.ended, f.previous
		rs.mu.Unlock()
		switch {
		case ctx.Err() != nil || errors.Is(err, errLeaseLost):
			return
		case err == nil && (ended || stopped || previous):
			rs.finish(ctx, f, nil, false)
			return
		case errors.Is(err, ports.ErrNotFound):
			rs.finish(ctx, f, err, true) // the pod is gone; what was read is kept
			return
		case errors.Is(err, ports.ErrCut):
			// The container runs on: resume at once from the last line stored.
		case errors.Is(err, ports.ErrForbidden):
			rs.forbidden(ctx, f, err)
			return
		case errors.Is(err, ports.ErrWaiting):
			rs.noticeFor(ctx, f, "waiting", fmt.Sprintf("waiting for %s/%s to start", f.t.Pod, f.t.Container))
			select {
			case <-ctx.Done():
				return
			case <-f.changed:
			case <-time.After(2 * time.Second):
			}
			continue
		case err != nil:
			// Lines not stored are read again: the next round starts from the checkpoint.
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

// startRead notes that a read begins; a read that begins after the container ended
// drains it (true).
func (rs *runState) startRead(f *tstate) bool {
	rs.mu.Lock()
	defer rs.mu.Unlock()
	if f.ended {
		f.state = draining
	}
	return f.ended
}

// forbidden ends a target whose log the collector may not read, saying which
// permission is missing.
func (rs *runState) forbidden(ctx context.Context, f *tstate, err error) {
	rs.noticeFor(ctx, f, "degraded", fmt.Sprintf("cannot read the log of %s/%s: the collector lacks permission (pods/log get): %v",
		f.t.Pod, f.t.Container, err))
	rs.finish(ctx, f, err, false)
}

// pollers bounds the polls of one run in flight at once.
const pollers = 8

// pollLoop reads every polled target about every Config.PollEvery, as the request
// budget allows. A container that has ended goes first: its pod may be deleted
// seconds later, while a running one can wait. A slot is refilled as soon as its
// poll returns, so one slow read does not hold back the others.
func (rs *runState) pollLoop(ctx context.Context) {
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	var inflight sync.WaitGroup
	defer inflight.Wait()
	free := pollers
	done := make(chan struct{}, pollers)
	for {
		select {
		case <-ctx.Done():
			return
		case <-done:
			free++
		case <-rs.pollWake:
		case <-tick.C:
		}
		for _, f := range rs.duePolls(free) {
			free--
			inflight.Add(1)
			go func() {
				defer func() { inflight.Done(); done <- struct{}{} }()
				rs.pollOne(ctx, f)
			}()
		}
	}
}

// duePolls marks busy and returns up to n polled targets due now: ended ones first,
// then those waiting longest.
func (rs *runState) duePolls(n int) []*tstate {
	if n <= 0 {
		return nil
	}
	now := rs.c.Config.now()
	rs.mu.Lock()
	defer rs.mu.Unlock()
	var due []*tstate
	for _, f := range rs.targets {
		if f.state == polling && !f.busy && !f.nextPoll.After(now) && !rs.waitsForPreviousLocked(f) {
			due = append(due, f)
		}
	}
	slices.SortFunc(due, func(a, b *tstate) int {
		if a.ended != b.ended {
			if a.ended {
				return -1
			}
			return 1
		}
		return a.nextPoll.Compare(b.nextPoll)
	})
	due = due[:min(n, len(due))]
	for _, f := range due {
		f.busy = true
		if !f.ended && !f.polledAt.IsZero() {
			rs.c.pollNanos.Store(int64(now.Sub(f.polledAt)))
		}
		f.polledAt = now
	}
	return due
}

// pollOne reads a polled target once, to the end of what the kubelet holds.
func (rs *runState) pollOne(ctx context.Context, f *tstate) {
	endedBefore := rs.startRead(f)
	_, err := rs.readOnce(ctx, f, false)
	switch {
	case ctx.Err() != nil || errors.Is(err, errLeaseLost):
		rs.unbusy(f)
		return
	case err == nil && endedBefore:
		rs.finish(ctx, f, nil, false) // read after it ended: that was all of it
		rs.unbusy(f)
		return
	case errors.Is(err, ports.ErrNotFound):
		rs.finish(ctx, f, err, true)
		rs.unbusy(f)
		return
	case errors.Is(err, ports.ErrForbidden):
		rs.forbidden(ctx, f, err)
		rs.unbusy(f)
		return
	}
	rs.mu.Lock()
	if f.state == draining {
		f.state = polling // the read failed: drain again next round
	}
	f.nextPoll = rs.c.Config.now().Add(rs.c.Config.pollEvery())
	f.busy = false
	rs.mu.Unlock()
	signal.Notify(rs.wake) // a slot may take it now
}

func (rs *runState) unbusy(f *tstate) {
	rs.mu.Lock()
	f.busy = false
	rs.mu.Unlock()
}

// readOnce reads f's log once from its checkpoint: to the end of the stream (follow)
// or of what the kubelet holds now (a poll), appending what is new in batches and
// saving the checkpoint after each. stopped: the watchdog closed a silent stream of
// an ended container.
func (rs *runState) readOnce(ctx context.Context, f *tstate, follow bool) (stopped bool, err error) {
	r := rs.planRead(f, follow)
	if follow {
		rs.noticeFor(ctx, f, "following", fmt.Sprintf("following %s/%s", r.t.Pod, r.t.Container))
	}
	if err := rs.c.pace(ctx); err != nil {
		return false, err
	}
	sctx, stop := context.WithCancel(ctx)
	if follow {
		go rs.watchdog(sctx, f, r.activity, stop)
	}
	err = rs.cluster.FollowLog(sctx, r.req, func(line []byte, more bool) error { return r.line(ctx, line, more) })
	stopped = sctx.Err() != nil && ctx.Err() == nil // the watchdog closed it
	stop()
	if ferr := r.flush(ctx); ferr != nil && (err == nil || errors.Is(ferr, errLeaseLost)) {
		err = ferr
	}
	if err == nil {
		rs.mu.Lock()
		f.read = true
		rs.mu.Unlock()
	}
	return stopped, err
}

// logRead is one read of a target's log: the request, the checkpoint it moves, and
// the batch of new lines not yet appended.
type logRead struct {
	rs      *runState
	f       *tstate
	t       target.Target
	req     ports.LogRequest
	working merge.Checkpoint // the checkpoint as this read moves it; f.cp once stored
	// first: nothing of this target was read before.
	first bool
	// checkRotation: a resume reads its whole second again, so the lines of it already
	// stored must come back before any new one. If none does, the kubelet's current
	// file no longer holds that second: the log was rotated and what was written in
	// between is lost.
	checkRotation bool
	batch         []event.Event
	read          int64         // lines received, new or not
	activity      chan struct{} // a signal per line, for the watchdog
}

// planRead builds the request that reads f from its checkpoint: from the start, from
// the checkpoint's second, or only the tail of a container that ran before
// collection began.
func (rs *runState) planRead(f *tstate, follow bool) *logRead {
	rs.mu.Lock()
	t, previous, working := f.t, f.previous, f.cp.Clone()
	rs.mu.Unlock()
	r := &logRead{rs: rs, f: f, t: t, working: working, activity: make(chan struct{}, 1),
		req: ports.LogRequest{Namespace: t.Namespace, Pod: t.Pod, Container: t.Container, Previous: previous, Follow: follow}}
	r.first = working.SinceTime().IsZero() && working.Lines == 0
	r.checkRotation = !r.first && len(working.Seen) > 0
	if !r.first {
		r.working.Resume()
		r.req.SinceTime = r.working.SinceTime()
	} else if !t.StartedAt.IsZero() && t.StartedAt.Before(rs.started.Truncate(time.Second)) {
		// It ran before collection began: only its tail. A container that started
		// later is read from its first line. (The API gives start times in whole
		// seconds: one that started in the second collection began is read whole.)
		r.req.TailLines = rs.c.Config.tailLines()
	}
	return r
}

// line takes one line of the log: a line seen before is skipped by its (timestamp,
// content) hash; a new one is sanitised and batched. A full batch, or the last line
// the kubelet has for now, is appended.
func (r *logRead) line(ctx context.Context, raw []byte, more bool) error {
	signal.Notify(r.activity)
	r.read++
	ts, content, perr := merge.ParseLine(raw)
	if perr != nil {
		ts, content = r.rs.c.Config.now().UTC(), raw
	}
	if r.working.Accept(ts, content) {
		if r.checkRotation {
			r.checkRotation = false
			if r.working.Replayed() == 0 && ts.UTC().Truncate(time.Second).After(r.req.SinceTime) {
				r.working.Rotated = true
			}
		}
		// Every new line moves the sanitiser's state, stored or not.
		line := r.working.Sanitizer.Line(string(content))
		if r.rs.firstInstance(r.t, merge.LineHash(ts, content)) {
			r.batch = append(r.batch, merge.Event(r.rs.jobID, r.t, ts, content, line))
		}
	}
	if !more || len(r.batch) >= 256 {
		return r.flush(ctx)
	}
	return nil
}

// flush appends the batch while the lease is surely held, then moves the checkpoint.
// Stored: the checkpoint in memory moves on even if saving it fails (the next batch
// saves it again), so the batch is never appended twice by this holder.
func (r *logRead) flush(ctx context.Context) error {
	if len(r.batch) == 0 {
		return nil
	}
	rs := r.rs
	if !rs.lease.valid(rs.c.Config.now()) {
		return errLeaseLost
	}
	if _, err := rs.c.Log.Append(ctx, rs.jobID, r.batch); err != nil {
		return err
	}
	r.batch = r.batch[:0]
	if r.first && r.req.TailLines > 0 && r.read >= r.req.TailLines {
		r.working.Tailed = true
	}
	rs.mu.Lock()
	r.f.cp = r.working.Clone()
	rs.mu.Unlock()
	state, _ := json.Marshal(&r.working)
	rs.c.Checkpoints.Save(ctx, rs.jobID, r.t.Key(), state)
	return nil
}

// current checks the pod now: a newer instance of the container makes f a previous
// one; false when the pod is gone.
func (rs *runState) current(ctx context.Context, f *tstate) bool {
	rs.mu.Lock()
	self := f.t
	rs.mu.Unlock()
	if err := rs.c.pace(ctx); err != nil {
		return true
	}
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
			if t.Last.ID == self.ContainerID {
				f.t.ExitCode, f.t.Reason = t.Last.ExitCode, t.Last.Reason
			}
		case t.State == target.Terminated:
			f.ended = true // the watch may not have said so yet
			f.t.ExitCode, f.t.Reason, f.t.FinishedAt = t.ExitCode, t.Reason, t.FinishedAt
		}
		rs.mu.Unlock()
	}
	return true
}

// watchdog closes a stream that stays silent after its container has ended.
func (rs *runState) watchdog(ctx context.Context, f *tstate, activity <-chan struct{}, stop context.CancelFunc) {
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

// finish marks f done and stores its container_ended notice, once per instance:
// complete, partial (tail, or the pod deleted before its log was read to the end)
// or missed (deleted before any line was read). gone: the pod was not found.
func (rs *runState) finish(ctx context.Context, f *tstate, cause error, gone bool) {
	rs.mu.Lock()
	f.state = done
	if f.cp.Ended {
		rs.mu.Unlock()
		return
	}
	t, cp, read := f.t, f.cp, f.read
	rs.mu.Unlock()
	d := &event.Ended{ExitCode: t.ExitCode, Reason: t.Reason, StartedAt: t.StartedAt, FinishedAt: t.FinishedAt,
		Completeness: event.Complete, Init: t.Init, Memory: t.MemoryLimit, CPU: t.CPULimit}
	switch {
	case gone && !read && cp.Lines == 0:
		d.Completeness = event.Missed
	case gone:
		d.Completeness, d.Missing = event.Partial, event.MissingDeleted
	case cause != nil:
		d.Completeness, d.Missing = event.Partial, event.MissingDeleted
	case cp.Rotated:
		d.Completeness, d.Missing = event.Partial, event.MissingRotated
	case cp.Tailed:
		d.Completeness, d.Missing = event.Partial, event.MissingTail
	}
	e := event.System(rs.jobID, t.Phase, event.NoticeContainerEnded, endedSentence(t, d, cp.Lines), rs.c.Config.now())
	e.Ended = d
	// The notice names its container instance, as the summary and batch table need.
	e.Pod, e.Container, e.ContainerID, e.Restart = t.Pod, t.Container, t.ContainerID, t.Restart
	if !rs.lease.valid(rs.c.Config.now()) {
		return
	}
	if _, err := rs.c.Log.Append(ctx, rs.jobID, []event.Event{e}); err != nil {
		return // a later holder finds it not ended and says it then
	}
	cp.Ended = true
	rs.mu.Lock()
	f.cp = cp
	rs.mu.Unlock()
	state, _ := json.Marshal(&cp)
	rs.c.Checkpoints.Save(ctx, rs.jobID, t.Key(), state)
}

func endedSentence(t target.Target, d *event.Ended, lines int64) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s/%s ended", t.Pod, t.Container)
	if d.Reason != "" || d.ExitCode != 0 {
		fmt.Fprintf(&b, " (%s, exit code %d)", strings.TrimSpace(d.Reason), d.ExitCode)
	}
	switch d.Completeness {
	case event.Complete:
		fmt.Fprintf(&b, ": all %d lines stored", lines)
	case event.Missed:
		b.WriteString(": its pod was deleted before any line could be read; its output is missing")
	default:
		why := map[string]string{event.MissingTail: "it ran before collection began, so only its last lines were read",
			event.MissingDeleted: "its pod was deleted before its log was read to the end",
			event.MissingRotated: "the kubelet rotated its log before it was read"}[d.Missing]
		fmt.Fprintf(&b, ": %d lines stored, some are missing (%s)", lines, why)
	}
	return b.String()
}

// catchUp brings the checkpoints up to what the stream holds: a holder that crashed
// after an append and before saving its checkpoint left lines the checkpoint does not
// know, and a new holder must not append them again.
func (rs *runState) catchUp(ctx context.Context) {
	if len(rs.ckpts) == 0 {
		return
	}
	_, last, err := rs.c.Log.Bounds(ctx, rs.jobID)
	if err != nil || last == "" {
		return
	}
	id, err := event.ParseID(last)
	if err != nil {
		return
	}
	next, _ := id.Next()
	evs, err := rs.c.Log.ReadBefore(ctx, rs.jobID, next.String(), catchUpEntries)
	if err != nil {
		return
	}
	byInstance := map[string]string{}
	for k := range rs.ckpts {
		if i := strings.LastIndexByte(k, '/'); i >= 0 {
			byInstance[k[i+1:]] = k
		}
	}
	// Per target: how often each line of the checkpoint's second is in the stream, and
	// the lines after that second, in order.
	type seen struct {
		counts map[uint64]int
		later  []event.Event
	}
	found := map[string]*seen{}
	for _, e := range evs {
		k, ok := byInstance[e.ContainerID]
		if e.Source != event.SourceK8s || !ok {
			continue
		}
		cp := rs.ckpts[k]
		s := found[k]
		if s == nil {
			s = &seen{counts: map[uint64]int{}}
			found[k] = s
		}
		switch sec := e.TS.UTC().Truncate(time.Second); {
		case sec.Equal(cp.Second):
			s.counts[merge.LineHash(e.TS, []byte(e.Line))]++
		case sec.After(cp.Second):
			s.later = append(s.later, e)
		}
	}
	for k, s := range found {
		cp := rs.ckpts[k].Clone()
		for h, n := range s.counts {
			if n > cp.Seen[h] {
				cp.Lines += int64(n - cp.Seen[h])
				cp.Seen[h] = n
			}
		}
		for _, e := range s.later {
			cp.Accept(e.TS, []byte(e.Line))
		}
		rs.ckpts[k] = cp
	}
}

// catchUpEntries is how many of a stream's last entries a new holder reads.
const catchUpEntries = 5000

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
