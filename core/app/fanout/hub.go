package fanout

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"time"

	"github.com/blastlog/blastlog/core/app/history"
	"github.com/blastlog/blastlog/core/event"
	"github.com/blastlog/blastlog/core/job"
	"github.com/blastlog/blastlog/core/signal"
	"github.com/blastlog/blastlog/ports"
)

// HubConfig tunes the shared reader. Zero values are defaults.
type HubConfig struct {
	Block       time.Duration // XREAD BLOCK per round: 250ms (also how soon a new run joins)
	Count       int           // events per run per round: 500
	StatusEvery time.Duration // how often watched runs' statuses are read: 1s
	Buffer      int           // per-viewer queue of live events: 64
	DrainWait   time.Duration // longest wait for the collector's drain after terminal: 60s
}

func (c HubConfig) drainWait() time.Duration {
	if c.DrainWait > 0 {
		return c.DrainWait
	}
	return time.Minute
}

// HubMetrics observes the hub; nil fields are skipped.
type HubMetrics struct {
	Readers func(n int) // runs watched
}

// Delivery is one event as every viewer receives it: encoded once, shared read-only.
type Delivery struct {
	ID    event.ID
	Event event.Event
	JSON  []byte // the event's JSON with its id
}

// Terminal is what the hub knows once a run is finished.
type Terminal struct {
	Status job.Status
	LastID string // the last event id when the run was seen terminal ("" if none)
}

// Hub is the one reader of a streaming container: it follows every watched run's log
// with one multiplexed blocking read and hands each new event to that run's viewers
// without ever waiting for one. Redis work grows with runs watched, not with viewers.
type Hub struct {
	Log      ports.EventLog
	Tail     ports.LogTail
	Statuses ports.StatusReader
	// History is the read path viewers catch up from: the log alone when nil.
	History *history.Reader
	// Index, if set, gives the status of a run Redis no longer knows (its archived
	// record).
	Index ports.ArchiveIndex
	// Collecting, if set, is the set of runs a collector still drains: a terminal run
	// in it completes only once it left, or DrainWait after the hub first saw it
	// terminal (CONTRACT §3). Nil where no collector runs: terminal is drained.
	Collecting ports.ActiveRuns
	Config     HubConfig
	Metrics    HubMetrics

	mu       sync.Mutex
	topics   map[string]*topic
	draining map[string]time.Time // terminal runs still collected: when first seen terminal
	wake     chan struct{}
	once     sync.Once
	plain    *history.Reader // History's default
}

func (h *Hub) history() *history.Reader {
	if h.History != nil {
		return h.History
	}
	return h.plain
}

type topic struct {
	jobID    string
	cursor   string // owned by the reader goroutine after creation
	subs     map[*Subscription]struct{}
	terminal atomic.Pointer[Terminal]
	done     chan struct{} // closed once terminal is set
}

func (h *Hub) init() {
	h.once.Do(func() {
		h.topics = map[string]*topic{}
		h.wake = make(chan struct{}, 1)
		h.plain = &history.Reader{Log: h.Log}
	})
}

func (c HubConfig) block() time.Duration {
	if c.Block > 0 {
		return c.Block
	}
	return 250 * time.Millisecond
}

func (c HubConfig) count() int {
	if c.Count > 0 {
		return c.Count
	}
	return 500
}

func (c HubConfig) statusEvery() time.Duration {
	if c.StatusEvery > 0 {
		return c.StatusEvery
	}
	return time.Second
}

func (c HubConfig) buffer() int {
	if c.Buffer > 0 {
		return c.Buffer
	}
	return 64
}

// Subscription is one viewer's share of a run's live events.
type Subscription struct {
	hub     *Hub
	topic   *topic
	C       chan *Delivery
	lagging atomic.Bool
	closed  atomic.Bool
}

// Lagging reports whether live events were dropped because this viewer was behind. If
// so, it resumes the live feed and empties the queue: everything queued and everything
// missed is in the log, which the viewer must now read from its last delivered id.
func (s *Subscription) Lagging() bool {
	if !s.lagging.Swap(false) {
		return false
	}
	for {
		select {
		case <-s.C:
		default:
			return true
		}
	}
}

// Done is closed when the run is seen terminal; Terminal then says how it ended.
func (s *Subscription) Done() <-chan struct{} { return s.topic.done }

// Terminal returns the run's end, or nil while it runs.
func (s *Subscription) Terminal() *Terminal { return s.topic.terminal.Load() }

// Close leaves the run; the last viewer to leave stops the hub reading it.
func (s *Subscription) Close() {
	if s.closed.Swap(true) {
		return
	}
	h := s.hub
	h.mu.Lock()
	delete(s.topic.subs, s)
	if len(s.topic.subs) == 0 && h.topics[s.topic.jobID] == s.topic {
		delete(h.topics, s.topic.jobID)
	}
	n := len(h.topics)
	h.mu.Unlock()
	if h.Metrics.Readers != nil {
		h.Metrics.Readers(n)
	}
}

// Subscribe registers a viewer of jobID. Events appended after this call reach its
// channel unless it lags; earlier ones are in the log.
func (h *Hub) Subscribe(ctx context.Context, jobID string) (*Subscription, error) {
	h.init()
	h.mu.Lock()
	t := h.topics[jobID]
	h.mu.Unlock()
	if t == nil {
		// The new run's cursor is its log's current end, and its status is read now
		// so that a finished run completes at once.
		_, last, err := h.Log.Bounds(ctx, jobID)
		if err != nil {
			return nil, err
		}
		if last == "" {
			last = "0-0"
		}
		st, err := h.status(ctx, jobID)
		if err != nil {
			return nil, err
		}
		nt := &topic{jobID: jobID, cursor: last, subs: map[*Subscription]struct{}{}, done: make(chan struct{})}
		if s := st; s.Terminal() && h.drained(ctx, jobID) {
			nt.terminal.Store(&Terminal{Status: s, LastID: lastOrEmpty(last)})
			close(nt.done)
		}
		h.mu.Lock()
		if t = h.topics[jobID]; t == nil { // another viewer may have won the race
			t = nt
			h.topics[jobID] = t
		}
		h.mu.Unlock()
	}
	s := &Subscription{hub: h, topic: t, C: make(chan *Delivery, h.Config.buffer())}
	h.mu.Lock()
	if h.topics[jobID] != t { // closed by its last viewer in between: start over
		h.mu.Unlock()
		return h.Subscribe(ctx, jobID)
	}
	t.subs[s] = struct{}{}
	n := len(h.topics)
	h.mu.Unlock()
	if h.Metrics.Readers != nil {
		h.Metrics.Readers(n)
	}
	signal.Notify(h.wake)
	return s, nil
}

// status is the run's status from the directory, else from its archived record ("" if
// neither knows it).
func (h *Hub) status(ctx context.Context, jobID string) (job.Status, error) {
	st, err := h.Statuses.Statuses(ctx, []string{jobID})
	if err != nil {
		return "", err
	}
	if s, ok := st[jobID]; ok || h.Index == nil {
		return s, nil
	}
	idx, _, err := h.Index.Index(ctx, jobID)
	if errors.Is(err, ports.ErrNotFound) {
		return "", nil
	}
	if err != nil {
		return "", err
	}
	return idx.Record.Status, nil
}

func lastOrEmpty(id string) string {
	if id == "0-0" {
		return ""
	}
	return id
}

// Run reads until ctx ends. Failures are retried with a bounded backoff.
func (h *Hub) Run(ctx context.Context) {
	h.init()
	backoff := 50 * time.Millisecond
	nextStatus := time.Now()
	for ctx.Err() == nil {
		h.mu.Lock()
		cursors := make(map[string]string, len(h.topics))
		for id, t := range h.topics {
			cursors[id] = t.cursor // finished runs too: late lines still arrive
		}
		h.mu.Unlock()
		if len(cursors) == 0 {
			select {
			case <-ctx.Done():
				return
			case <-h.wake:
			}
			continue
		}
		res, err := h.Tail.Tail(ctx, cursors, h.Config.count(), h.Config.block())
		if err != nil {
			select {
			case <-ctx.Done():
				return
			case <-time.After(backoff):
			}
			backoff = min(backoff*2, 2*time.Second)
			continue
		}
		backoff = 50 * time.Millisecond
		for jobID, evs := range res {
			h.broadcast(jobID, evs)
		}
		if now := time.Now(); !now.Before(nextStatus) {
			h.pollStatuses(ctx, cursors)
			nextStatus = now.Add(h.Config.statusEvery())
		}
	}
}

func (h *Hub) broadcast(jobID string, evs []event.Event) {
	ds := make([]*Delivery, 0, len(evs))
	for i := range evs {
		id, err := event.ParseID(evs[i].ID)
		if err != nil {
			continue
		}
		ds = append(ds, &Delivery{ID: id, Event: evs[i], JSON: evs[i].AppendJSON(nil)})
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	t := h.topics[jobID]
	if t == nil || len(ds) == 0 {
		return
	}
	t.cursor = evs[len(evs)-1].ID
	for s := range t.subs {
		// Once a viewer missed an event, nothing more is queued for it until it has
		// caught up from the log: a later event must never be delivered past a hole.
		if s.lagging.Load() {
			continue
		}
	queue:
		for _, d := range ds {
			select {
			case s.C <- d:
			default:
				s.lagging.Store(true)
				break queue
			}
		}
	}
}

// drained tells whether a terminal run's pods are all collected: it left the
// collector's set, or DrainWait passed since the hub first saw it terminal.
func (h *Hub) drained(ctx context.Context, jobID string) bool {
	if h.Collecting == nil {
		return true
	}
	in, err := h.Collecting.Contains(ctx, []string{jobID})
	h.mu.Lock()
	defer h.mu.Unlock()
	if err == nil && !in[jobID] {
		delete(h.draining, jobID)
		return true
	}
	if h.draining == nil {
		h.draining = map[string]time.Time{}
	}
	first, ok := h.draining[jobID]
	if !ok {
		h.draining[jobID] = time.Now()
		return false
	}
	if time.Since(first) >= h.Config.drainWait() {
		delete(h.draining, jobID)
		return true
	}
	return false
}

// pollStatuses reads the watched runs' statuses in one round trip and marks the
// finished ones with their log's last id at that moment.
func (h *Hub) pollStatuses(ctx context.Context, cursors map[string]string) {
	ids := make([]string, 0, len(cursors))
	for id := range cursors {
		ids = append(ids, id)
	}
	st, err := h.Statuses.Statuses(ctx, ids)
	if err != nil {
		return
	}
	for id, s := range st {
		if !s.Terminal() {
			continue
		}
		h.mu.Lock()
		t := h.topics[id]
		h.mu.Unlock()
		if t == nil || t.terminal.Load() != nil || !h.drained(ctx, id) {
			continue
		}
		_, last, err := h.Log.Bounds(ctx, id)
		if err != nil {
			continue
		}
		t.terminal.Store(&Terminal{Status: s, LastID: last})
		close(t.done)
	}
}
