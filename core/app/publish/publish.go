package publish

import (
	"cmp"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/blastlog/blastlog/core/event"
	"github.com/blastlog/blastlog/core/lines"
	"github.com/blastlog/blastlog/core/sanitize"
	"github.com/blastlog/blastlog/ports"
)

// Config says what to publish and how. A zero field takes its Default*.
type Config struct {
	JobID  string
	Source event.Source // default terminal_exec
	Phase  string       // kept as given, capped at 80 characters
	PubID  string       // this invocation's id (16 hex characters): random by default

	BatchLines int           // lines per pipelined append
	BatchBytes int           // bytes per batch
	QueueLines int           // lines held in memory for the log (and at most 8 MiB); beyond, the spool
	Timeout    time.Duration // per append
	Backoff    time.Duration // first wait after a failed append, doubled up to 5s
	// Wait makes a writer wait for room in the queue while the log works, instead of
	// spooling (input without a pace to keep, as `lines` reads; one writer only).
	Wait bool

	Now func() time.Time
	// OnSpool is called once, when lines first go to the spool, with the log's last
	// error (nil when it was only slow).
	OnSpool func(err error)
	// OnDrop is called once, when lines are first dropped: the spool is full, or there
	// is none.
	OnDrop func(err error)
}

func (c *Config) source() event.Source {
	if c.Source != "" {
		return c.Source
	}
	return event.SourceTerminal
}

// Defaults of Config.
const (
	DefaultBatchLines = 256
	DefaultBatchBytes = 256 << 10
	DefaultQueueLines = 8192
	DefaultTimeout    = 3 * time.Second
	DefaultBackoff    = 100 * time.Millisecond
)

// Each setting's one accessor: the value, or its Default* when unset.
func (c *Config) batchLines() int              { return cmp.Or(c.BatchLines, DefaultBatchLines) }
func (c *Config) batchBytes() int              { return cmp.Or(c.BatchBytes, DefaultBatchBytes) }
func (c *Config) queueLines() int              { return cmp.Or(c.QueueLines, DefaultQueueLines) }
func (c *Config) backoff() time.Duration       { return cmp.Or(c.Backoff, DefaultBackoff) }
func (c *Config) appendTimeout() time.Duration { return cmp.Or(c.Timeout, DefaultTimeout) }

// maxBackoff caps the wait between tries of a failing log.
const maxBackoff = 5 * time.Second

// maxQueueBytes bounds the memory queue (lines and their JSON, roughly).
const maxQueueBytes = 8 << 20

func (c *Config) now() time.Time {
	if c.Now != nil {
		return c.Now()
	}
	return time.Now()
}

// NewPubID returns a random publisher id.
func NewPubID() string {
	var b [8]byte
	rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// Stats is the outcome of a publisher's life, in events (lines, and the notices of
// dropped ones).
type Stats struct {
	Stored  int64 // appended to the log
	Spooled int64 // left in the spool at Close, for a later flush
	Dropped int64 // neither: the spool was full (or there was none)
	// Err is the log's last error when events were left in the spool or dropped.
	Err error
}

// Publisher turns byte streams into sanitised events, numbered by Seq, and appends
// them in order to one run's log. Writers never wait for the log (unless Config.Wait):
// events go to a bounded memory queue while the log keeps up and to the spool when it
// does not; one goroutine stores the queue, then replays the spool, in Seq order.
// Invariant: every event in the queue is older than every event in the spool, and
// while the spool holds events (spooling) new ones go there too.
type Publisher struct {
	log   ports.EventLog
	spool ports.Spool // nil: none, and what the queue cannot hold is dropped
	cfg   Config

	wake    chan struct{} // events were queued or spooled, or Close was called
	room    chan struct{} // the storing goroutine took events from the queue
	trouble chan struct{} // an append failed (wakes a waiting writer)
	abort   chan struct{} // Close's deadline passed: stop storing
	done    chan struct{}
	// ctx is canceled with abort: it ends an append in flight at once.
	ctx    context.Context
	cancel context.CancelFunc

	mu          sync.Mutex
	queue       [][]event.Event // batches for the log, oldest first
	queueLines  int
	queueBytes  int
	closed      bool  // Close was called: no more events come
	seq         int64 // last Seq handed out
	spooling    bool
	pendingDrop int64 // dropped since the last drop notice went out
	dropSeq     int64 // Seq of the last dropped event
	dropped     int64
	spooled     int64         // in the spool, not yet stored
	spoolBuf    []event.Event // for the spool, not yet put (see toSpool)
	spoolBytes  int           // size(spoolBuf)
	spoolSaid   bool
	dropSaid    bool
	app         appender      // the storing goroutine's; after and err read by writers under mu
	inflight    []event.Event // what storing held when Close's deadline passed

	stored atomic.Int64
}

// New starts a publisher for cfg.JobID. spool may be nil. Call Close when the writers
// are done.
func New(log ports.EventLog, spool ports.Spool, cfg Config) (*Publisher, error) {
	if err := event.ValidateJobID(cfg.JobID); err != nil {
		return nil, err
	}
	cfg.Phase = event.CapPhase(cfg.Phase) // the publisher's own copy: kept as given, capped
	if !cfg.source().Valid() {
		return nil, fmt.Errorf("%w: source %q is not one of terminal_exec, k8s, system", event.ErrInvalid, cfg.Source)
	}
	if cfg.PubID == "" {
		cfg.PubID = NewPubID()
	}
	if !event.ValidPubID(cfg.PubID) {
		return nil, fmt.Errorf("%w: publisher id %q is not 16 hex characters", event.ErrInvalid, cfg.PubID)
	}
	p := &Publisher{log: log, spool: spool, cfg: cfg,
		wake: make(chan struct{}, 1), room: make(chan struct{}, 1), trouble: make(chan struct{}, 1),
		abort: make(chan struct{}), done: make(chan struct{}),
		app: appender{log: log, jobID: cfg.JobID, pubID: cfg.PubID, timeout: cfg.appendTimeout()}}
	p.ctx, p.cancel = context.WithCancel(context.Background())
	go p.run()
	return p, nil
}

// PubID is this publisher's id, written into every event as pub_id.
func (p *Publisher) PubID() string { return p.cfg.PubID }

// Writer returns a writer that publishes each line written to it as the given stream.
// A writer is for one goroutine; Close it to publish a last unterminated line.
func (p *Publisher) Writer(stream event.Stream) *LineWriter {
	w := &LineWriter{p: p, stream: stream}
	w.split = lines.Splitter{Emit: w.line}
	return w
}

func signal(c chan struct{}) {
	select {
	case c <- struct{}{}:
	default:
	}
}

// submit numbers events and hands them over, preceded by the notice of events dropped
// since the last notice went out.
func (p *Publisher) submit(events []event.Event) {
	p.mu.Lock()
	for i := range events {
		p.seq++
		events[i].PubID, events[i].Seq = p.cfg.PubID, p.seq
	}
	if p.pendingDrop > 0 {
		n := p.dropNotice(p.pendingDrop)
		p.pendingDrop = 0
		events = append([]event.Event{n}, events...)
	}
	p.handOver(events)
	p.mu.Unlock()
	signal(p.wake)
}

func size(events []event.Event) int {
	n := 0
	for i := range events {
		n += len(events[i].Line) + 200
	}
	return n
}

// handOver puts events into the queue, or into the spool while the log does not keep
// up. p.mu is held (and let go while a Config.Wait writer waits).
func (p *Publisher) handOver(events []event.Event) {
	bytes := size(events)
	for !p.spooling {
		if len(p.queue) == 0 || (p.queueLines+len(events) <= p.cfg.queueLines() && p.queueBytes+bytes <= maxQueueBytes) {
			p.queue = append(p.queue, events)
			p.queueLines += len(events)
			p.queueBytes += bytes
			return
		}
		if !p.cfg.Wait || !p.waitForRoom() {
			p.spooling = true
		}
	}
	p.toSpool(events)
}

// waitForRoom waits, without the lock, until the storing goroutine takes from the
// queue (true) or an append fails (false). It returns with the lock held.
func (p *Publisher) waitForRoom() bool {
	p.mu.Unlock()
	defer p.mu.Lock()
	select {
	case <-p.room:
		return true
	case <-p.trouble:
		return false
	}
}

// spoolLines is how many lines a spool record takes while spooling: lines are put in
// records of that many (the last, shorter, when the spool is replayed or at Close), so
// that a burst costs few syncs, and its replay few appends.
const spoolLines = 2048

// spoolMaxBytes bounds what spoolBuf holds in memory (lines of up to 4,000 characters
// would otherwise make 2,048 of them 32 MiB).
const spoolMaxBytes = 1 << 20

// toSpool hands events to the spool: they wait in spoolBuf (no older than the queue
// would keep them) until it holds spoolLines or spoolMaxBytes, the replay reaches
// them, or Close. p.mu is held.
func (p *Publisher) toSpool(events []event.Event) {
	p.spoolBuf = append(p.spoolBuf, events...)
	p.spoolBytes += size(events)
	if len(p.spoolBuf) >= spoolLines || p.spoolBytes >= spoolMaxBytes {
		p.flushSpool()
	}
}

// flushSpool puts what spoolBuf holds into the spool. p.mu is held.
func (p *Publisher) flushSpool() {
	if len(p.spoolBuf) > 0 {
		p.putSpool(p.spoolBuf)
		p.spoolBuf, p.spoolBytes = nil, 0
	}
}

// putSpool puts events into the spool, or counts them dropped. p.mu is held.
func (p *Publisher) putSpool(events []event.Event) {
	err := errors.New("no spool")
	if p.spool != nil {
		err = p.spool.Put(ports.SpoolBatch{JobID: p.cfg.JobID, After: p.app.after, Events: events})
	}
	if err == nil {
		p.spooled += int64(len(events))
		if !p.spoolSaid && p.cfg.OnSpool != nil {
			p.spoolSaid = true
			p.cfg.OnSpool(p.app.err)
		}
		return
	}
	for _, e := range events {
		if e.Dropped > 0 {
			p.pendingDrop += e.Dropped // a notice that could not go out: the next one says it
			continue
		}
		p.pendingDrop++
		p.dropped++
		p.dropSeq = max(p.dropSeq, e.Seq)
	}
	if !p.dropSaid && p.cfg.OnDrop != nil {
		p.dropSaid = true
		p.cfg.OnDrop(err)
	}
}

// Ended publishes the wrapped command's exit as a command_ended notice (docs/api.md §8),
// after every line it wrote: what the run's diagnosis reads a submit failure from.
func (p *Publisher) Ended(what string, code int) {
	n := event.System(p.cfg.JobID, p.cfg.Phase, event.NoticeCommandEnded,
		event.Cut(fmt.Sprintf("%s exited with code %d", what, code), event.MaxLineChars, "…"), p.cfg.now())
	n.Detail = &event.Detail{ExitCode: &code}
	p.submit([]event.Event{n})
}

// dropNotice is the system line that stands where dropped lines were: it takes the
// Seq of the last of them, so Seq stays increasing and a replay's dedupe holds.
func (p *Publisher) dropNotice(count int64) event.Event {
	n := event.System(p.cfg.JobID, p.cfg.Phase, "",
		fmt.Sprintf("blastlog: %d lines of this step were not stored: the publisher's spool was full", count), p.cfg.now())
	n.PubID, n.Seq, n.Dropped = p.cfg.PubID, p.dropSeq, count
	return n
}

// Close waits until every line is stored, or ctx ends: then what is left stays in the
// spool for a later flush. Writers must be closed first.
func (p *Publisher) Close(ctx context.Context) Stats {
	p.mu.Lock()
	p.closed = true
	p.mu.Unlock()
	signal(p.wake)
	select {
	case <-p.done:
	case <-ctx.Done():
		close(p.abort)
		p.cancel()
		<-p.done
	}
	p.cancel()
	p.mu.Lock()
	defer p.mu.Unlock()
	// What storing still held, then the queue: ahead of the spool (their Seqs are lower).
	rest := p.inflight
	for _, b := range p.queue {
		rest = append(rest, b...)
	}
	p.flushSpool()
	if len(rest) > 0 {
		p.inflight, p.queue = nil, nil
		p.spoolSaid = true  // the caller reports what is left in the spool
		for len(rest) > 0 { // in batches, so that what fits a nearly full spool is kept
			n := min(len(rest), p.cfg.batchLines())
			p.putSpool(rest[:n:n])
			rest = rest[n:]
		}
	}
	if p.pendingDrop > 0 {
		p.sendLastDropNotice()
	}
	st := Stats{Stored: p.stored.Load(), Spooled: p.spooled, Dropped: p.dropped}
	if st.Spooled > 0 || st.Dropped > 0 {
		st.Err = p.app.err
	}
	if p.spool != nil {
		p.spool.Close()
	}
	return st
}

// sendLastDropNotice tries to store the count of the last drops: the log, else the
// spool. p.mu is held.
func (p *Publisher) sendLastDropNotice() {
	n := p.dropNotice(p.pendingDrop)
	ctx, cancel := context.WithTimeout(context.Background(), p.cfg.appendTimeout())
	defer cancel()
	if p.spooled == 0 {
		if stored, err := p.app.store(ctx, []event.Event{n}); err == nil {
			p.stored.Add(int64(stored))
			return
		}
	}
	if p.spool != nil && p.spool.Put(ports.SpoolBatch{JobID: p.cfg.JobID, After: p.app.after, Events: []event.Event{n}}) == nil {
		p.spooled++
	}
}

// run is the storing goroutine: the queue first, then the spool, until Close.
func (p *Publisher) run() {
	defer close(p.done)
	for {
		p.mu.Lock()
		events := p.take()
		closed := p.closed
		p.mu.Unlock()
		if len(events) > 0 {
			signal(p.room)
			if !p.storeRetrying(events) {
				return
			}
			continue
		}
		replayed, ok := p.replayOne()
		switch {
		case !ok:
			return
		case replayed:
			continue
		case closed:
			return
		}
		select {
		case <-p.wake:
		case <-p.abort:
			return
		}
	}
}

// take removes from the queue the next events to append: one batch, or several small
// ones together up to a batch's size (one pipelined append either way). p.mu is held.
func (p *Publisher) take() []event.Event {
	if len(p.queue) == 0 {
		return nil
	}
	events := p.queue[0]
	n := 1
	if len(events) < p.cfg.batchLines() && len(p.queue) > 1 {
		events = append([]event.Event(nil), events...)
		for ; n < len(p.queue) && len(events)+len(p.queue[n]) <= p.cfg.batchLines(); n++ {
			events = append(events, p.queue[n]...)
		}
	}
	for i := 0; i < n; i++ {
		p.queue[i] = nil
	}
	p.queue = p.queue[n:]
	p.queueLines -= len(events)
	p.queueBytes -= size(events)
	return events
}

// replayOne stores the spool's oldest batch. replayed is false when the spool was
// empty (spooling ends then, under the lock, so no writer spools meanwhile); ok is
// false when Close's deadline passed.
func (p *Publisher) replayOne() (replayed, ok bool) {
	p.mu.Lock()
	if !p.spooling {
		p.mu.Unlock()
		return false, true
	}
	if p.spool == nil { // what overflowed is dropped and counted: nothing to replay
		p.flushSpool()
		p.spooling = false
		p.mu.Unlock()
		return false, true
	}
	b, has, err := p.spool.Oldest()
	if err == nil && !has && len(p.spoolBuf) > 0 {
		p.flushSpool() // the replay reached the newest lines
		b, has, err = p.spool.Oldest()
	}
	if err == nil && !has {
		p.spooling = false
	}
	if err != nil {
		p.app.err = err
	}
	p.mu.Unlock()
	if err != nil {
		return true, p.sleep(maxBackoff)
	}
	if !has {
		return false, true
	}
	if !p.storeRetrying(b.Events) {
		p.inflight = nil // it is still in the spool
		return false, false
	}
	p.mu.Lock()
	p.spool.Ack()
	p.spooled -= int64(len(b.Events))
	p.mu.Unlock()
	return true, true
}

// storeRetrying appends events until they are stored, or Close's deadline passes
// (false; what was not stored is left in p.inflight).
func (p *Publisher) storeRetrying(events []event.Event) bool {
	wait := p.cfg.backoff()
	ctx := p.ctx
	for {
		p.mu.Lock()
		app := p.app
		p.mu.Unlock()
		prev := app.err
		n, err := app.storeFrom(ctx, &events)
		if ctx.Err() != nil && err != nil {
			// The deadline's cancel says nothing about the log: keep what it said.
			if app.err = prev; prev == nil {
				app.err = fmt.Errorf("no answer before the deadline: %w", err)
			}
		}
		p.stored.Add(int64(n))
		p.mu.Lock()
		p.app = app
		p.mu.Unlock()
		if err == nil {
			return true
		}
		if errors.Is(err, event.ErrInvalid) {
			// Cannot happen to sanitised lines; if it does, they can never be stored.
			p.mu.Lock()
			p.dropped += int64(len(events))
			p.mu.Unlock()
			return true
		}
		signal(p.trouble)
		if !p.sleep(wait) {
			p.mu.Lock()
			p.inflight = events
			p.mu.Unlock()
			return false
		}
		wait = min(2*wait, maxBackoff)
	}
}

// sleep waits d, or until Close's deadline passes (false).
func (p *Publisher) sleep(d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-p.abort:
		return false
	}
}

// LineWriter splits what is written to it into lines and hands them to the publisher
// in batches. Each Write ends by handing its lines over, so lines are never held back
// waiting for more output.
type LineWriter struct {
	p       *Publisher
	stream  event.Stream
	clean   sanitize.Stream // a private key printed over several lines is masked whole
	split   lines.Splitter
	pending []event.Event
	bytes   int
}

// Write implements io.Writer; it never fails.
func (w *LineWriter) Write(b []byte) (int, error) {
	w.split.Write(b)
	w.flush()
	return len(b), nil
}

// Close publishes a last line without a line break.
func (w *LineWriter) Close() error {
	w.split.Flush()
	w.flush()
	return nil
}

func (w *LineWriter) line(raw []byte, _ bool) {
	text := w.clean.Line(string(raw))
	w.pending = append(w.pending, event.Event{SchemaVersion: event.SchemaVersion, JobID: w.p.cfg.JobID,
		Source: w.p.cfg.source(), Phase: w.p.cfg.Phase, Stream: w.stream, Line: text, TS: w.p.cfg.now()})
	w.bytes += len(text)
	if len(w.pending) >= w.p.cfg.batchLines() || w.bytes >= w.p.cfg.batchBytes() {
		w.flush()
	}
}

func (w *LineWriter) flush() {
	if len(w.pending) == 0 {
		return
	}
	w.p.submit(w.pending)
	w.pending, w.bytes = make([]event.Event, 0, 16), 0
}
