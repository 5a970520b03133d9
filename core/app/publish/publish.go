// Package publish is the publisher use case: a wrapped command's output, split into
// sanitised lines and appended in order to one run's log.
package publish

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"
	"time"

	"github.com/blastlog/blastlog/core/event"
	"github.com/blastlog/blastlog/core/lines"
	"github.com/blastlog/blastlog/core/sanitize"
	"github.com/blastlog/blastlog/ports"
)

// Config says what to publish and how hard to try. Zero values are defaults.
type Config struct {
	JobID  string
	Source event.Source // default terminal_exec
	Phase  string       // kept as given, capped at 80 characters

	BatchLines   int           // lines per pipelined append: 256
	BatchBytes   int           // bytes per batch: 256 KiB
	QueueBatches int           // batches waiting for the log: 8 (bounds memory)
	Retries      int           // further tries of a failed append: 2
	Backoff      time.Duration // first wait between tries, doubled each time: 100ms
	Probe        time.Duration // while the log is failing, how often to try again: 2s
	Timeout      time.Duration // per append: 3s

	Now func() time.Time
	// OnLoss is called once, for the first batch that could not be stored.
	OnLoss func(err error)
}

func (c *Config) source() event.Source {
	if c.Source != "" {
		return c.Source
	}
	return event.SourceTerminal
}

func positive(v, def int) int {
	if v > 0 {
		return v
	}
	return def
}

func (c *Config) batchLines() int              { return positive(c.BatchLines, 256) }
func (c *Config) batchBytes() int              { return positive(c.BatchBytes, 256<<10) }
func (c *Config) queueBatches() int            { return positive(c.QueueBatches, 8) }
func (c *Config) retries() int                 { return positive(c.Retries, 2) }
func (c *Config) backoff() time.Duration       { return orDefault(c.Backoff, 100*time.Millisecond) }
func (c *Config) probe() time.Duration         { return orDefault(c.Probe, 2*time.Second) }
func (c *Config) appendTimeout() time.Duration { return orDefault(c.Timeout, 3*time.Second) }

func (c *Config) now() time.Time {
	if c.Now != nil {
		return c.Now()
	}
	return time.Now()
}

func (c *Config) onLoss(err error) {
	if c.OnLoss != nil {
		c.OnLoss(err)
	}
}

// Stats is the outcome of a publisher's life.
type Stats struct {
	Published, Lost int64
	// Err is the first storage error, if any line was lost.
	Err error
}

// Publisher turns byte streams into sanitised events and appends them, in order and
// in pipelined batches, to one run's log. A healthy but slow log slows its writers
// down (nothing is dropped); a failing one blocks them at most for the bounded retries
// of one batch: after that, lines that do not fit the queue are counted as lost (and
// the log is probed again now and then), so that a wrapped command keeps running and
// its output keeps passing through.
type Publisher struct {
	log   ports.EventLog
	cfg   Config
	queue chan []event.Event
	done  chan struct{}

	published, lost atomic.Int64
	failing         atomic.Bool

	// Owned by the storing goroutine.
	firstErr  error
	nextProbe time.Time
	lostRun   int64 // lines lost since the log last worked
}

// New starts a publisher for cfg.JobID. Call Close when the writers are done.
func New(log ports.EventLog, cfg Config) (*Publisher, error) {
	if err := event.ValidateJobID(cfg.JobID); err != nil {
		return nil, err
	}
	cfg.Phase = event.CapPhase(cfg.Phase) // the publisher's own copy: kept as given, capped
	if !cfg.source().Valid() {
		return nil, fmt.Errorf("%w: source %q is not one of terminal_exec, k8s, system", event.ErrInvalid, cfg.Source)
	}
	p := &Publisher{log: log, cfg: cfg, queue: make(chan []event.Event, cfg.queueBatches()), done: make(chan struct{})}
	go p.run()
	return p, nil
}

// Writer returns a writer that publishes each line written to it as the given stream.
// A writer is for one goroutine; Close it to publish a last unterminated line.
func (p *Publisher) Writer(stream event.Stream) *LineWriter {
	w := &LineWriter{p: p, stream: stream}
	w.split = lines.Splitter{Emit: w.line}
	return w
}

// Close waits until every queued line is stored or counted lost, or ctx ends (the rest
// is then counted lost). Writers must be closed first.
func (p *Publisher) Close(ctx context.Context) Stats {
	close(p.queue)
	select {
	case <-p.done:
		return Stats{Published: p.published.Load(), Lost: p.lost.Load(), Err: p.firstErr}
	case <-ctx.Done():
		// Lines still queued are neither stored nor counted: say so instead.
		return Stats{Published: p.published.Load(), Lost: p.lost.Load(),
			Err: fmt.Errorf("gave up flushing the last lines: %w", ctx.Err())}
	}
}

func (p *Publisher) run() {
	defer close(p.done)
	for batch := range p.queue {
		p.store(batch)
	}
}

func (p *Publisher) store(batch []event.Event) {
	probing := p.failing.Load()
	if probing && p.cfg.now().Before(p.nextProbe) {
		p.lose(int64(len(batch)), nil)
		return
	}
	tries, notice := 1+p.cfg.retries(), 0
	if probing {
		// A probe, not a siege: one try, and it carries the notice of the gap ahead
		// of the lines that follow it.
		tries, notice = 1, 1
		batch = append([]event.Event{p.gapNotice()}, batch...)
	}
	wait := p.cfg.backoff()
	var err error
	for try := 0; try < tries; try++ {
		if try > 0 {
			time.Sleep(wait)
			wait *= 2
		}
		var ids []string
		ids, err = p.append(batch)
		stored := len(ids)
		if notice == 1 && stored > 0 {
			stored, notice, p.lostRun = stored-1, 0, 0
		}
		p.published.Add(int64(stored))
		batch = batch[len(ids):]
		if err == nil || errors.Is(err, event.ErrInvalid) {
			break
		}
	}
	if err != nil {
		p.lose(int64(len(batch)-notice), err)
		p.nextProbe = p.cfg.now().Add(p.cfg.probe())
		p.failing.Store(true)
		return
	}
	p.failing.Store(false)
}

func (p *Publisher) append(batch []event.Event) ([]string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), p.cfg.appendTimeout())
	defer cancel()
	return p.log.Append(ctx, p.cfg.JobID, batch)
}

func (p *Publisher) lose(n int64, err error) {
	p.lost.Add(n)
	p.lostRun += n
	if err != nil && p.firstErr == nil {
		p.firstErr = err
		p.cfg.onLoss(err)
	}
}

// gapNotice tells readers of the log that lines are missing before the next ones.
// Lines a writer dropped while the queue was full are not in lostRun: the count is a
// lower bound, the total is in Stats.
func (p *Publisher) gapNotice() event.Event {
	return event.System(p.cfg.JobID, p.cfg.Phase, "",
		fmt.Sprintf("blastlog: at least %d lines of this step could not be stored while the log was unreachable", p.lostRun), p.cfg.now())
}

// LineWriter splits what is written to it into lines and queues them as events. Each
// Write ends by handing its lines to the publisher, so lines are never held back
// waiting for more output.
type LineWriter struct {
	p       *Publisher
	stream  event.Stream
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
	text := sanitize.Line(string(raw))
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
	if w.p.failing.Load() {
		select {
		case w.p.queue <- w.pending:
		default: // the log is failing and the queue is full: never stall the command
			w.p.lost.Add(int64(len(w.pending)))
		}
	} else {
		w.p.queue <- w.pending
	}
	w.pending, w.bytes = make([]event.Event, 0, 16), 0
}

func orDefault(d, def time.Duration) time.Duration {
	if d > 0 {
		return d
	}
	return def
}
