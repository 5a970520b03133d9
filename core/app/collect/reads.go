package collect

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/blastlog/blastlog/core/event"
	"github.com/blastlog/blastlog/core/merge"
	"github.com/blastlog/blastlog/core/signal"
	"github.com/blastlog/blastlog/core/target"
	"github.com/blastlog/blastlog/ports"
)

// This file reads the targets' logs: followed through long-lived streams up to the
// cap, polled beyond it, each line checked against the checkpoint and appended in
// batches while the lease holds.

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
