package archive

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"github.com/blastlog/blastlog/core/chunk"
	"github.com/blastlog/blastlog/core/event"
	"github.com/blastlog/blastlog/core/job"
	"github.com/blastlog/blastlog/ports"
)

// cursorState says who may touch a run's read cursor: the reader picks only idle runs.
type cursorState uint8

const (
	idle     cursorState = iota // may be read
	reading                     // a multiplexed read that includes the run is in flight
	queued                      // a batch waits in the inbox or is being written
	checking                    // the writer compares its cursor with the stream's first id
	blocked                     // the archive refused a write: read nothing more until it succeeds
)

// end says why a writer stopped.
type end uint8

const (
	endStopped  end = iota // the archiver stops: the next holder continues
	endLost                // the lease is gone
	endFinished            // terminal, drained, complete
	endIdle                // quiet for long: released until its stream grows
)

// idleAfter releases a run that is not terminal but has written nothing for this long.
const idleAfter = 10 * time.Minute

// run is the writer of one run: it owns the run's index, step buffers and cursor.
type run struct {
	a     *Archiver
	jobID string
	inbox chan []event.Event

	mu     sync.Mutex
	state  cursorState
	cursor event.ID  // the read cursor: the last id handed to the writer
	pause  bool      // the writer wants the run idle for a check: the reader skips it
	fed    time.Time // when the fan-out's reader last handed over a batch (offer)

	renewed atomic.Int64 // UnixNano of the last successful acquire or renewal
	lostCh  chan struct{}
	lostMu  sync.Once
	lag     atomic.Int64

	// Owned by loop.
	idx      chunk.Index
	version  string
	rec      job.Record
	bufs     map[string]*stepBuf
	stepLast map[string]event.ID // the last id archived per step: events up to it are skipped
	fifo     []event.Event       // read but not yet safely archived, in id order
	lastRead event.ID
	// consumed is how many of the log's entries the run's archivers have read or
	// counted lost, up to lastRead; counted: every gap so far has its count, so
	// consumed is exact (see noticeLoss).
	consumed  int64
	counted   bool
	dirty     bool
	lastIndex time.Time
	lastEvent time.Time
	failures  int       // archive writes failed in a row
	retryAt   time.Time // no write before this while the archive fails
	// keptVersion is the version of the run's kept summary (Archiver.Summaries), and
	// keepFailed says a write of it failed (said once until one succeeds).
	keptVersion string
	keepFailed  bool
}

// maxUnsafe bounds the events a writer holds read but not yet safely archived.
const maxUnsafe = 20_000

// Backoff of a writer whose archive fails: 250ms doubling to 30s.
const (
	minBackoff = 250 * time.Millisecond
	maxBackoff = 30 * time.Second
)

type stepBuf struct {
	evs   []event.Event
	bytes int
	since time.Time
}

// open reads a run's archived state: the index, then any chunk written after it (a
// holder that died between a chunk and the index), then the stream's first id to
// record what was lost while nobody archived.
func (a *Archiver) open(ctx context.Context, jobID string) (*run, error) {
	r := &run{a: a, jobID: jobID, inbox: make(chan []event.Event, 1), lostCh: make(chan struct{}),
		bufs: map[string]*stepBuf{}, stepLast: map[string]event.ID{}, lastEvent: a.now()}
	r.renewed.Store(time.Now().UnixNano())
	idx, ver, err := a.Index.Index(ctx, jobID)
	switch {
	case errors.Is(err, ports.ErrNotFound):
		idx, ver = chunk.NewIndex(jobID), ""
	case err != nil:
		return nil, err
	}
	r.idx, r.version = idx, ver
	if cur, err := a.Cursors.LoadCursor(ctx, jobID); err == nil && cur.LastID.Compare(idx.LastID) > 0 {
		// The cursor is saved after the index, so the index was lost or replaced (a
		// new storage container): what the stream still holds is archived again.
		a.Logger.Warn("archiver: the archive's index is behind the cursor in Redis; archiving again from the stream",
			"job_id", jobID, "cursor", cur.LastID, "index", idx.LastID)
	}
	rec, err := a.Jobs.Get(ctx, jobID)
	switch {
	case err == nil:
		r.rec = rec
		r.idx.Record = chunk.RecordOf(rec)
	case errors.Is(err, ports.ErrNotFound):
		r.rec = r.idx.Record.Job(jobID)
	default:
		return nil, err
	}
	if a.Archive != nil {
		if err := r.probe(ctx); err != nil {
			return nil, err
		}
	}
	if a.Summaries != nil {
		if _, v, err := a.Summaries.Index(ctx, jobID); err == nil {
			r.keptVersion = v
		}
	}
	r.lastRead = r.idx.LastID
	r.cursor = r.idx.LastID
	// What the log had and the archive keeps: every event counted, and every gap's.
	r.consumed, r.counted = r.idx.Count, true
	for _, g := range r.idx.Gaps {
		r.consumed += g.Lost
		r.counted = r.counted && g.Lost > 0
	}
	first, _, err := a.Log.Bounds(ctx, jobID)
	if err != nil {
		return nil, err
	}
	r.noticeLoss(ctx, first, nil)
	return r, nil
}

// probe adds to the index the chunks written after it, and learns each step's last
// archived id.
func (r *run) probe(ctx context.Context) error {
	listed, err := r.a.Archive.Chunks(ctx, r.jobID)
	if err != nil {
		return err
	}
	for step, refs := range listed {
		si := r.idx.Steps[step]
		if si == nil {
			si = &chunk.StepIndex{}
			r.idx.Steps[step] = si
		}
		sort.Slice(refs, func(i, j int) bool { return refs[i].Seq < refs[j].Seq })
		for _, ref := range refs {
			if ref.Seq < si.NextSeq {
				continue
			}
			c, err := r.a.chunk(ctx, r.jobID, step, ref.Seq)
			if err != nil {
				return err
			}
			si.Chunks = append(si.Chunks, chunk.RefOf(&c))
			si.NextSeq = ref.Seq + 1
			r.dirty = true
		}
	}
	for step, si := range r.idx.Steps {
		if n := len(si.Chunks); n > 0 {
			r.stepLast[step] = si.Chunks[n-1].LastID
		}
	}
	return nil
}

// noticeLoss records a gap when entries after the last event read were dropped from
// the log before anyone read them: next is the first id about to be read (a batch's
// first, or the log's first when nothing is). The log's tally says how many: it has
// dropped added − held entries, of which the archiver had read consumed (and, of the
// batch, those below the log's first id now). Without a tally (Redis before 7.0), or
// after a gap whose count is not known, the gap is recorded when the log no longer
// holds the last event read and next does not follow it, without a count.
func (r *run) noticeLoss(ctx context.Context, next event.ID, batch []event.Event) {
	if next.IsZero() || next.Compare(r.lastRead) <= 0 || (!r.lastRead.IsZero() && r.lastRead.Adjacent(next)) {
		return
	}
	t, err := r.a.tallies.of(ctx, r.a.Keeper, r.jobID)
	if err != nil {
		return // the next batch or check asks again
	}
	first, held, added, known := t.First, t.Held, t.Added, t.Known
	if !first.IsZero() && !r.lastRead.IsZero() && first.Compare(r.lastRead) <= 0 {
		return // the log still holds the last event read, and so all that follows it
	}
	var lost int64
	switch {
	case known && r.counted:
		below := int64(0) // of the batch, what the log no longer holds
		for i := range batch {
			if first.IsZero() || batch[i].ID.Compare(first) < 0 {
				below++
			}
		}
		if lost = added - held - r.consumed - below; lost <= 0 {
			return
		}
	case r.lastRead.IsZero(), first.IsZero():
		// Nothing read yet and nothing counted, or a log that does not say its first
		// id (an in-process Redis): nothing is known lost.
		return
	}
	g := event.Gap{After: r.lastRead, FirstAvailable: next, Reason: event.GapReasonTrimmed, Lost: lost}
	r.idx.Gaps = append(r.idx.Gaps, g)
	r.consumed += lost
	r.counted = r.counted && lost > 0
	r.dirty = true
	r.a.Logger.Warn("archiver: events were trimmed before they were archived", "job_id", r.jobID,
		"after", g.After, "first_available", g.FirstAvailable, "lost", g.Lost)
}

// ready takes an idle run for the reader, unless the fan-out has been handing over
// its batches (within fedFor of now).
func (r *run) ready(now time.Time) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.state != idle || r.pause || now.Sub(r.fed) < fedFor {
		return false
	}
	r.state = reading
	return true
}

// fedFor is how long after the fan-out's last batch a run is left to it: a run whose
// viewers left (or went quiet) is read by the archiver again after this.
const fedFor = time.Second

// offer takes a batch the fan-out read: the events that follow after in the log. It
// is taken when after is the cursor and the writer has room — also while the
// archiver's own read is in flight, whose answer feed then drops (its events follow
// the new cursor, and are read again).
func (r *run) offer(after event.ID, evs []event.Event, now time.Time) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.cursor != after {
		r.fed = time.Time{} // out of step (a check paused the run, a takeover): read it again now
		return false
	}
	if len(evs) == 0 || r.pause || r.state != idle && r.state != reading {
		return false
	}
	r.cursor, r.state, r.fed = evs[len(evs)-1].ID, queued, now
	r.inbox <- evs // never blocks: the inbox is empty while the run is idle or read
	return true
}

func (r *run) readCursor() event.ID {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.cursor
}

// feed hands the writer a batch read after its cursor (the reader calls it once per
// read that included the run, with nil when nothing came).
func (r *run) feed(evs []event.Event) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.state != reading {
		return // the fan-out's batch was taken meanwhile (offer)
	}
	if len(evs) == 0 {
		r.state = idle
		return
	}
	r.cursor = evs[len(evs)-1].ID
	r.state = queued
	r.inbox <- evs // never blocks: a run is read only while its inbox is empty
}

func (r *run) setState(s cursorState) {
	r.mu.Lock()
	r.state = s
	r.mu.Unlock()
	if s == idle {
		r.a.readyAgain()
	}
}

func (r *run) lost() { r.lostMu.Do(func() { close(r.lostCh) }) }

// leaseOK checks the lease's local expiry (NOTES, leases without fencing): a holder
// paused past it must not write, even before it learns that the lease is gone.
func (r *run) leaseOK() error {
	ttl := r.a.Config.leaseTTL()
	if time.Since(time.Unix(0, r.renewed.Load())) > ttl-ttl/5 {
		return errLeaseLost
	}
	return nil
}

// loop writes the run until it finishes, the lease is lost or ctx ends.
func (r *run) loop(ctx context.Context) end {
	tick := time.NewTicker(250 * time.Millisecond)
	defer tick.Stop()
	nextCheck := time.Now()
	for {
		select {
		case <-ctx.Done():
			return endStopped
		case <-r.lostCh:
			return endLost
		case evs := <-r.inbox:
			r.noticeLoss(ctx, evs[0].ID, evs)
			r.add(evs)
			if err := r.write(ctx, false); errors.Is(err, errLeaseLost) {
				return endLost
			}
			r.setState(r.nextState())
		case <-tick.C:
			if err := r.write(ctx, false); errors.Is(err, errLeaseLost) {
				return endLost
			}
			r.mu.Lock()
			unblocked := r.state == blocked && r.nextStateLocked() == idle
			if unblocked {
				r.state = idle
			}
			r.mu.Unlock()
			if unblocked {
				r.a.readyAgain()
			}
			if time.Now().Before(nextCheck) {
				continue
			}
			e, done, checked := r.check(ctx)
			if done {
				return e
			}
			if checked {
				nextCheck = time.Now().Add(checkEvery)
			}
		}
		r.lag.Store(int64(len(r.fifo)))
	}
}

func (r *run) nextState() cursorState {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.nextStateLocked()
}

// nextStateLocked: blocked while a step holds more than two of the largest chunks, or the
// writer more than maxUnsafe events, that the archive would not take; idle otherwise.
// (Called by the writer's goroutine, which owns bufs and fifo.)
func (r *run) nextStateLocked() cursorState {
	if len(r.fifo) > maxUnsafe {
		return blocked
	}
	for _, b := range r.bufs {
		if len(b.evs) >= 2*min(10*r.a.Config.chunkEvents(), chunk.MaxEvents) {
			return blocked
		}
	}
	return idle
}

// add takes a batch in stream order: each event is queued for the summary and, unless
// its step already archived it (a takeover), buffered for its step's next chunk.
func (r *run) add(evs []event.Event) {
	now := r.a.now()
	r.lastEvent = now
	for _, e := range evs {
		id := e.ID
		if id.Compare(r.lastRead) <= 0 {
			continue // none (zero) or read before
		}
		r.lastRead = id
		r.consumed++
		r.fifo = append(r.fifo, e)
		if r.a.Archive == nil {
			continue // no chunks: the summary alone
		}
		step := chunk.Step(e.Phase)
		if last, ok := r.stepLast[step]; ok && id.Compare(last) <= 0 {
			continue // archived by an earlier holder
		}
		b := r.bufs[step]
		if b == nil {
			b = &stepBuf{}
			r.bufs[step] = b
		}
		if len(b.evs) == 0 {
			b.since = now
		}
		b.evs = append(b.evs, e)
		b.bytes += e.JSONSize()
	}
}

// write cuts the chunks that are due (all of them when force), advances what is safely
// archived, and rewrites the index when due. A failed write leaves everything
// buffered, to be tried again.
func (r *run) write(ctx context.Context, force bool) error {
	now := r.a.now()
	if now.Before(r.retryAt) {
		return errBackoff
	}
	err := r.writeDue(ctx, now, force)
	switch {
	case err == nil && r.failures > 0:
		r.a.Logger.Info("archiver: the archive answers again", "job_id", r.jobID, "failed_writes", r.failures)
		r.failures, r.retryAt = 0, time.Time{}
	case err != nil && !errors.Is(err, errLeaseLost):
		r.failures++
		r.retryAt = now.Add(min(maxBackoff, minBackoff<<min(r.failures, 10)))
	}
	return err
}

// errBackoff: the archive failed recently; the writer waits before it tries again.
var errBackoff = errors.New("archive backoff")

func (r *run) writeDue(ctx context.Context, now time.Time, force bool) error {
	// A quiet step's partial chunk holds back what is safely archived, and with it
	// the read events kept for the summary: past maxUnsafe they are cut now.
	force = force || len(r.fifo) > maxUnsafe
	var firstErr error
	steps := make([]string, 0, len(r.bufs))
	for step := range r.bufs {
		steps = append(steps, step)
	}
	sort.Strings(steps)
	for _, step := range steps {
		b := r.bufs[step]
		for len(b.evs) > 0 {
			n := r.cut(b)
			if n == 0 && !force && now.Sub(b.since) < r.a.Config.flush() {
				break
			}
			if n == 0 {
				n = len(b.evs)
			}
			if err := r.putChunk(ctx, step, b, n); err != nil {
				if firstErr == nil {
					firstErr = err
				}
				break
			}
			b.since = now
		}
	}
	r.advance()
	if errors.Is(firstErr, errLeaseLost) {
		return firstErr
	}
	if r.dirty && (force || now.Sub(r.lastIndex) >= r.a.Config.flush()) {
		if err := r.putIndex(ctx); err != nil && firstErr == nil {
			firstErr = err
		}
	}
	return firstErr
}

// cut is the size of the next full chunk of b: ChunkEvents events, or fewer when 1 MiB
// comes first; 0 when b holds less than a full chunk. A step with a backlog (more than
// two chunks' worth: a burst read faster than it is written) is cut in chunks of ten
// times that, at most chunk.MaxEvents, so that a burst costs a tenth of the writes.
func (r *run) cut(b *stepBuf) int {
	limit := r.a.Config.chunkEvents()
	if len(b.evs) > 2*limit {
		limit = min(10*limit, chunk.MaxEvents)
	}
	size := 0
	for i := range b.evs {
		size += b.evs[i].JSONSize()
		if size > chunk.MaxBytes-64<<10 {
			return max(i, 1)
		}
		if i+1 == limit {
			return limit
		}
	}
	return 0
}

// putChunk writes b's first n events as the step's next chunk. A name already taken
// (an earlier holder wrote it) is read and continued after, never overwritten.
func (r *run) putChunk(ctx context.Context, step string, b *stepBuf, n int) error {
	si := r.idx.Steps[step]
	if si == nil {
		si = &chunk.StepIndex{}
		r.idx.Steps[step] = si
	}
	for {
		if err := r.leaseOK(); err != nil {
			return err
		}
		c := chunk.Chunk{SchemaVersion: chunk.SchemaVersion, JobID: r.jobID, Step: step, Sequence: si.NextSeq,
			Events: b.evs[:n:n], CreatedAt: r.a.now()}
		err := r.a.Archive.PutChunk(ctx, c)
		if err == nil {
			r.took(step, si, &c)
			b.evs = b.evs[n:]
			b.bytes = 0
			for i := range b.evs {
				b.bytes += b.evs[i].JSONSize()
			}
			if r.a.Metrics.Chunks != nil {
				r.a.Metrics.Chunks(1)
			}
			return nil
		}
		if !errors.Is(err, ports.ErrExists) {
			r.failed("chunk", err)
			return err
		}
		old, err := r.a.chunk(ctx, r.jobID, step, si.NextSeq)
		if err != nil {
			r.failed("chunk", err)
			return err
		}
		r.took(step, si, &old)
		last := r.stepLast[step]
		k := 0
		for k < len(b.evs) && b.evs[k].ID.Compare(last) <= 0 {
			k++
		}
		b.evs = b.evs[k:]
		if n -= k; n <= 0 {
			return nil
		}
	}
}

// took records a chunk now in the archive.
func (r *run) took(step string, si *chunk.StepIndex, c *chunk.Chunk) {
	si.Chunks = append(si.Chunks, chunk.RefOf(c))
	si.NextSeq = c.Sequence + 1
	if n := len(c.Events); n > 0 {
		r.stepLast[step] = c.Events[n-1].ID
	}
	r.dirty = true
}

func (r *run) failed(op string, err error) {
	if r.a.Metrics.Errors != nil {
		r.a.Metrics.Errors(op)
	}
	if r.failures == 0 { // once per outage; the metric counts every one
		r.a.Logger.Warn("archiver: archive write failed; retrying with backoff (nothing is trimmed meanwhile)",
			"job_id", r.jobID, "op", op, "error", err)
	}
}

// advance moves LastID over every read event older than all that is still buffered,
// counting each into the summary once, in stream order.
func (r *run) advance() {
	var oldest *event.ID
	for _, b := range r.bufs {
		if len(b.evs) > 0 {
			id := b.evs[0].ID
			if oldest == nil || id.Compare(*oldest) < 0 {
				oldest = &id
			}
		}
	}
	k := 0
	for k < len(r.fifo) && (oldest == nil || r.fifo[k].ID.Compare(*oldest) < 0) {
		e := &r.fifo[k]
		r.idx.Summary.Add(e)
		r.idx.LastID = e.ID
		r.idx.Count++
		k++
	}
	if k > 0 {
		r.fifo = append(r.fifo[:0:0], r.fifo[k:]...)
		r.dirty = true
	}
}

// putIndex writes the index on the version it read, then the cursor, then trims the
// stream behind it.
func (r *run) putIndex(ctx context.Context) error {
	if err := r.leaseOK(); err != nil {
		return err
	}
	r.idx.UpdatedAt = r.a.now().UTC()
	r.idx.SetStepCounts()
	ver, err := r.a.Index.PutIndex(ctx, r.idx, r.version)
	if errors.Is(err, ports.ErrConflict) {
		// Another holder wrote it: this one is no longer the archiver of the run.
		r.lost()
		return errLeaseLost
	}
	if err != nil {
		r.failed("index", err)
		return err
	}
	r.version, r.dirty, r.lastIndex = ver, false, r.a.now()
	r.keep(ctx)
	cur := chunk.Cursor{LastID: r.idx.LastID, Steps: map[string]chunk.StepCursor{}}
	for step, si := range r.idx.Steps {
		sc := chunk.StepCursor{NextSeq: si.NextSeq}
		if last, ok := r.stepLast[step]; ok {
			sc.LastID = last
		}
		cur.Steps[step] = sc
	}
	if err := r.a.Cursors.SaveCursor(ctx, r.jobID, cur); err != nil {
		r.a.Logger.Warn("archiver: saving the cursor failed (the index has it)", "job_id", r.jobID, "error", err)
		return nil
	}
	// The entry at the cursor itself stays: while the stream holds it, nothing after it
	// can have been trimmed by anyone (ids alone cannot tell: they skip milliseconds).
	upTo, ok := r.idx.LastID.Prev()
	if !ok {
		return nil
	}
	if _, err := r.a.Keeper.TrimArchived(ctx, r.jobID, upTo); err != nil {
		r.a.Logger.Warn("archiver: trimming the stream failed; retried at the next index", "job_id", r.jobID, "error", err)
	}
	return nil
}

// keep writes the index's copy into the run's kept summary (with an archive). It is
// a copy, the archive's index the record: a conflict (a former holder wrote last)
// takes the current version and writes once more; a failure is said once and the
// next index write tries again.
func (r *run) keep(ctx context.Context) {
	if r.a.Summaries == nil {
		return
	}
	v, err := r.a.Summaries.PutIndex(ctx, r.idx, r.keptVersion)
	if errors.Is(err, ports.ErrConflict) {
		if _, cur, rerr := r.a.Summaries.Index(ctx, r.jobID); rerr == nil || errors.Is(rerr, ports.ErrNotFound) {
			v, err = r.a.Summaries.PutIndex(ctx, r.idx, cur)
		}
	}
	if err != nil {
		if !r.keepFailed {
			r.a.Logger.Warn("archiver: keeping the run's summary beside it failed; retried at the next index", "job_id", r.jobID, "error", err)
		}
		r.keepFailed = true
		return
	}
	r.keptVersion, r.keepFailed = v, false
}

// check refreshes the run record, notices trimmed ranges, and finishes the run once it
// is terminal, drained and everything read is archived.
// checkEvery is how often a writer refreshes the record and looks for its end.
const checkEvery = 2 * time.Second

func (r *run) check(ctx context.Context) (e end, done, checked bool) {
	if rec, err := r.a.Jobs.Get(ctx, r.jobID); err == nil {
		if nr := chunk.RecordOf(rec); nr != r.idx.Record {
			r.idx.Record, r.dirty = nr, true
		}
		r.rec = rec
	}
	if r.a.Observe != nil {
		r.a.Observe(r.rec, &r.idx.Summary.Diagnosis, false)
	}
	r.mu.Lock()
	r.pause = true // the reader leaves the run alone until the check is done
	if r.state != idle {
		r.mu.Unlock()
		return 0, false, false // a read or a batch is in flight: the next tick checks
	}
	r.state = checking
	r.mu.Unlock()
	defer func() {
		r.mu.Lock()
		r.state, r.pause = idle, false
		r.mu.Unlock()
		r.a.readyAgain()
	}()
	// Whether the run was active is read before its log's end: a run the last scan
	// found inactive had stored its last event before that scan, so the end read
	// next covers it.
	active := r.a.isActive(r.jobID)
	first, last, err := r.a.Log.Bounds(ctx, r.jobID)
	if err != nil {
		return 0, false, true
	}
	r.noticeLoss(ctx, first, nil)
	caughtUp := last.Compare(r.lastRead) <= 0 // zero when the log holds none
	if !caughtUp {
		return 0, false, true
	}
	status := r.idx.Record.Status
	drained := status.Terminal() && (!r.a.Config.Collecting || !active)
	quiet := r.a.now().Sub(r.lastEvent) > idleAfter && !active
	if !drained && !quiet && !last.IsZero() {
		return 0, false, true
	}
	if err := r.write(ctx, true); err != nil || len(r.fifo) > 0 {
		return 0, false, true
	}
	if drained {
		r.idx.Complete = true
		r.dirty = true
		if err := r.write(ctx, true); err != nil {
			r.idx.Complete = false
			return 0, false, true
		}
		if r.a.Observe != nil {
			r.a.Observe(r.rec, &r.idx.Summary.Diagnosis, true)
		}
		return endFinished, true, true
	}
	return endIdle, true, true
}

// chunk reads and decodes one stored chunk; one that does not decode is a store that
// does not answer properly (ErrUnavailable), not a missing one.
func (a *Archiver) chunk(ctx context.Context, jobID, step string, seq int) (chunk.Chunk, error) {
	raw, err := a.Archive.Chunk(ctx, jobID, step, seq)
	if err != nil {
		return chunk.Chunk{}, err
	}
	c, err := chunk.Decode(raw)
	if err != nil {
		return chunk.Chunk{}, fmt.Errorf("chunk %s: %w: %w", chunk.Name(jobID, step, seq), ports.ErrUnavailable, err)
	}
	return c, nil
}
