package fanout

import (
	"cmp"
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

// HubConfig tunes the shared reader. A zero field takes its Default*.
type HubConfig struct {
	Block       time.Duration // XREAD BLOCK per round (also how soon a new run joins)
	Count       int           // events per run per round
	StatusEvery time.Duration // how often watched runs' statuses are read
	Buffer      int           // per-viewer queue of live events
	DrainWait   time.Duration // longest wait for the collector's drain after terminal
	Readers     int           // tail readers, each following its share of the runs
}

// Defaults of HubConfig.
const (
	DefaultBlock       = 250 * time.Millisecond
	DefaultCount       = 500
	DefaultStatusEvery = time.Second
	DefaultBuffer      = 64
	DefaultDrainWait   = time.Minute
)

// DefaultReaders is how many tail readers a hub runs by default. Each waits in its
// own blocking read (one Redis connection each) over the runs hashed to it, so a
// round costs in proportion to its share of the runs, and one busy run delays only
// the runs that share its reader. A reader with no run holds no connection. Redis
// pays for every key of a blocking read each time an event wakes it (registering
// and unregistering the wait, reading the keys again): with 200 busy runs, a wake
// cost it ≈145 µs over 8 readers, ≈60 µs over 32, ≈45 µs over 64 (docs/benchmarks.md).
const DefaultReaders = 32

func (c HubConfig) readers() int { return cmp.Or(c.Readers, DefaultReaders) }

func (c HubConfig) drainWait() time.Duration { return cmp.Or(c.DrainWait, DefaultDrainWait) }

// HubMetrics observes the hub; nil fields are skipped.
type HubMetrics struct {
	Readers func(n int) // runs watched
}

// Delivery is one event as every viewer receives it: encoded once, shared read-only.
type Delivery struct {
	Event event.Event
	JSON  []byte // the event's JSON with its id
}

// Terminal is what the hub knows once a run is finished.
type Terminal struct {
	Status job.Status
	LastID event.ID // the last event id when the run was seen terminal (zero if none)
}

// Hub is the shared reader of a streaming container: it follows every watched run's
// log with a few multiplexed blocking reads (Readers, each over the runs hashed to
// it) and hands each new event to that run's viewers without ever waiting for one.
// The watched runs' statuses are polled apart, in one round trip for all of them.
// Redis work grows with runs watched, not with viewers.
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
	// terminal (docs/api.md §3). Nil where no collector runs: terminal is drained.
	Collecting ports.ActiveRuns
	Config     HubConfig
	Metrics    HubMetrics
	// Tee, if set, is handed every batch a shard reader reads, before its viewers: the
	// archiver takes it instead of reading the same events again.
	Tee Tee

	once    sync.Once
	shards  []*shard
	watched atomic.Int64    // runs watched, over all shards
	plain   *history.Reader // History's default

	dmu      sync.Mutex
	draining map[string]time.Time // terminal runs still collected: when first seen terminal
}

// Tee is another consumer of the watched runs' logs. Offer is told, for each batch a
// shard reader read of a run, the cursor it read after and the events that follow it,
// in order; it must not wait, and must not change evs.
type Tee interface {
	Offer(jobID string, after event.ID, evs []event.Event)
}

// shard is one tail reader's share of the watched runs. Its lock guards its topics
// and their viewers; a broadcast holds only its own shard's.
type shard struct {
	mu     sync.Mutex
	topics map[string]*topic
	wake   chan struct{} // a run was added while the reader had none
}

func (h *Hub) history() *history.Reader {
	if h.History != nil {
		return h.History
	}
	return h.plain
}

type topic struct {
	jobID    string
	shard    *shard
	cursor   event.ID // written by the shard's reader, under the shard's lock
	subs     map[*Subscription]struct{}
	terminal atomic.Pointer[Terminal]
}

func (h *Hub) init() {
	h.once.Do(func() {
		h.shards = make([]*shard, h.Config.readers())
		for i := range h.shards {
			h.shards[i] = &shard{topics: map[string]*topic{}, wake: make(chan struct{}, 1)}
		}
		h.plain = &history.Reader{Log: h.Log}
	})
}

// shardOf is the shard that reads jobID (FNV-1a of the id).
func (h *Hub) shardOf(jobID string) *shard {
	x := uint32(2166136261)
	for i := 0; i < len(jobID); i++ {
		x = (x ^ uint32(jobID[i])) * 16777619
	}
	return h.shards[x%uint32(len(h.shards))]
}

// setWatched moves the count of runs watched by d and reports it.
func (h *Hub) setWatched(d int64) {
	n := h.watched.Add(d)
	if h.Metrics.Readers != nil {
		h.Metrics.Readers(int(n))
	}
}

func (c HubConfig) block() time.Duration { return cmp.Or(c.Block, DefaultBlock) }

func (c HubConfig) count() int { return cmp.Or(c.Count, DefaultCount) }

func (c HubConfig) statusEvery() time.Duration { return cmp.Or(c.StatusEvery, DefaultStatusEvery) }

func (c HubConfig) buffer() int { return cmp.Or(c.Buffer, DefaultBuffer) }

// Subscription is one viewer's share of a run's live events.
type Subscription struct {
	hub     *Hub
	topic   *topic
	C       chan *Delivery
	end     chan struct{} // receives once the run is seen terminal
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

// Done receives once when the run is seen terminal; Terminal then says how it ended.
// It is the subscription's own channel (it receives once), never one shared by a
// run's viewers: thousands of viewers waiting on one channel contend for its lock on
// every wake-up.
func (s *Subscription) Done() <-chan struct{} { return s.end }

// Terminal returns the run's end, or nil while it runs.
func (s *Subscription) Terminal() *Terminal { return s.topic.terminal.Load() }

// Close leaves the run; the last viewer to leave stops the hub reading it.
func (s *Subscription) Close() {
	if s.closed.Swap(true) {
		return
	}
	t := s.topic
	t.shard.mu.Lock()
	delete(t.subs, s)
	left := len(t.subs) == 0 && t.shard.topics[t.jobID] == t
	if left {
		delete(t.shard.topics, t.jobID)
	}
	t.shard.mu.Unlock()
	if left {
		s.hub.setWatched(-1)
	}
}

// Subscribe registers a viewer of jobID. Events appended after this call reach its
// channel unless it lags; earlier ones are in the log.
func (h *Hub) Subscribe(ctx context.Context, jobID string) (*Subscription, error) {
	h.init()
	sh := h.shardOf(jobID)
	sh.mu.Lock()
	known := sh.topics[jobID] != nil
	sh.mu.Unlock()
	var nt *topic
	if !known {
		// The new run's cursor is its log's current end, and its status is read now
		// so that a finished run completes at once.
		_, last, err := h.Log.Bounds(ctx, jobID)
		if err != nil {
			return nil, err
		}
		st, err := h.status(ctx, jobID)
		if err != nil {
			return nil, err
		}
		nt = &topic{jobID: jobID, shard: sh, cursor: last, subs: map[*Subscription]struct{}{}}
		if st.Terminal() && h.drained(ctx, jobID) {
			nt.terminal.Store(&Terminal{Status: st, LastID: last}) // no viewer to tell yet
		}
	}
	s := &Subscription{hub: h, C: make(chan *Delivery, h.Config.buffer()), end: make(chan struct{}, 1)}
	sh.mu.Lock()
	t := sh.topics[jobID] // another viewer may have added it, or its last one left
	if t == nil && nt == nil {
		sh.mu.Unlock()
		return h.Subscribe(ctx, jobID) // left in between: read its state afresh
	}
	if t == nil {
		t = nt
		sh.topics[jobID] = t
	}
	s.topic = t
	t.subs[s] = struct{}{}
	sh.mu.Unlock()
	if t == nt {
		h.setWatched(1)
		signal.Notify(sh.wake)
	}
	return s, nil
}

// finish records the run's end and tells each of its viewers. (One that subscribes
// after this sees Terminal set.)
func (t *topic) finish(term *Terminal) {
	t.terminal.Store(term)
	t.shard.mu.Lock()
	defer t.shard.mu.Unlock()
	for s := range t.subs {
		signal.Notify(s.end)
	}
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

// Run reads until ctx ends: one goroutine per shard, and the status poll in this one.
// Failures are retried with a bounded backoff.
func (h *Hub) Run(ctx context.Context) {
	h.init()
	var wg sync.WaitGroup
	for _, sh := range h.shards {
		wg.Go(func() { h.read(ctx, sh) })
	}
	t := time.NewTicker(h.Config.statusEvery())
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			wg.Wait()
			return
		case <-t.C:
			h.pollStatuses(ctx)
		}
	}
}

// read follows the runs of one shard: one blocking read of all of them per round.
func (h *Hub) read(ctx context.Context, sh *shard) {
	backoff := 50 * time.Millisecond
	cursors := map[string]event.ID{} // reused: a round allocates no map of its own
	for ctx.Err() == nil {
		clear(cursors)
		sh.mu.Lock()
		for id, t := range sh.topics {
			cursors[id] = t.cursor // finished runs too: late lines still arrive
		}
		sh.mu.Unlock()
		if len(cursors) == 0 {
			select {
			case <-ctx.Done():
				return
			case <-sh.wake:
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
		if h.Tee != nil { // after every viewer's delivery: the archiver can wait, viewers not
			for jobID, evs := range res {
				h.Tee.Offer(jobID, cursors[jobID], evs)
			}
		}
	}
}

func (h *Hub) broadcast(jobID string, evs []event.Event) {
	// The round's deliveries and their JSON in one allocation each (viewers share them).
	size := 0
	for i := range evs {
		size += evs[i].JSONSize()
	}
	buf := make([]byte, 0, size)
	ds := make([]Delivery, len(evs))
	for i := range evs {
		start := len(buf)
		buf = evs[i].AppendJSON(buf)
		ds[i] = Delivery{Event: evs[i], JSON: buf[start:len(buf):len(buf)]}
	}
	sh := h.shardOf(jobID)
	sh.mu.Lock()
	defer sh.mu.Unlock()
	t := sh.topics[jobID]
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
		for i := range ds {
			select {
			case s.C <- &ds[i]:
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
	h.dmu.Lock()
	defer h.dmu.Unlock()
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

// pollStatuses reads the statuses of the watched runs not yet finished in one round
// trip and marks the finished ones with their log's last id at that moment.
func (h *Hub) pollStatuses(ctx context.Context) {
	var open []*topic
	for _, sh := range h.shards {
		sh.mu.Lock()
		for _, t := range sh.topics {
			if t.terminal.Load() == nil {
				open = append(open, t)
			}
		}
		sh.mu.Unlock()
	}
	if len(open) == 0 {
		return
	}
	ids := make([]string, len(open))
	for i, t := range open {
		ids[i] = t.jobID
	}
	st, err := h.Statuses.Statuses(ctx, ids)
	if err != nil {
		return
	}
	for _, t := range open {
		s := st[t.jobID]
		if !s.Terminal() || !h.drained(ctx, t.jobID) {
			continue
		}
		_, last, err := h.Log.Bounds(ctx, t.jobID)
		if err != nil {
			continue
		}
		t.finish(&Terminal{Status: s, LastID: last})
	}
}
