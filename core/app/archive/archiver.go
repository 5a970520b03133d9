package archive

import (
	"cmp"
	"context"
	"errors"
	"log/slog"
	"sync"
	"time"

	"github.com/blastlog/blastlog/core/chunk"
	"github.com/blastlog/blastlog/core/diagnose"
	"github.com/blastlog/blastlog/core/event"
	"github.com/blastlog/blastlog/core/job"
	"github.com/blastlog/blastlog/core/signal"
	"github.com/blastlog/blastlog/ports"
)

// Config tunes the archiver. A zero field takes its Default*.
type Config struct {
	Holder      string        // this replica's lease holder id (required)
	ChunkEvents int           // events per chunk (also cut at chunk.MaxBytes; at most chunk.MaxEvents)
	Flush       time.Duration // a chunk is cut and the index rewritten at least this often
	Scan        time.Duration // how often every stream is looked for (SCAN)
	Poll        time.Duration // how often the active set and viewers' runs are
	LeaseTTL    time.Duration // renewed every third of it
	Block       time.Duration // the multiplexed read's block
	Batch       int           // events per run per read
	// Collecting: pods are collected here, so a run is drained once it has left the
	// active set, not at its terminal status alone.
	Collecting bool
}

// Defaults of Config (DefaultChunkEvents is chunk.DefaultEvents).
const (
	DefaultFlush    = 5 * time.Second // BLASTLOG_ARCHIVE_FLUSH
	DefaultScan     = 30 * time.Second
	DefaultPoll     = time.Second
	DefaultLeaseTTL = 15 * time.Second
	DefaultBlock    = 250 * time.Millisecond
	DefaultBatch    = 5000
)

// Each setting's one accessor: the value, or its Default* when unset.
func (c Config) chunkEvents() int {
	return min(cmp.Or(c.ChunkEvents, chunk.DefaultEvents), chunk.MaxEvents)
}
func (c Config) flush() time.Duration    { return cmp.Or(c.Flush, DefaultFlush) }
func (c Config) scan() time.Duration     { return cmp.Or(c.Scan, DefaultScan) }
func (c Config) poll() time.Duration     { return cmp.Or(c.Poll, DefaultPoll) }
func (c Config) leaseTTL() time.Duration { return cmp.Or(c.LeaseTTL, DefaultLeaseTTL) }
func (c Config) block() time.Duration    { return cmp.Or(c.Block, DefaultBlock) }
func (c Config) batch() int              { return cmp.Or(c.Batch, DefaultBatch) }

// Metrics observes the archiver; nil fields are skipped.
type Metrics struct {
	Lag    func(events int64) // events read but not yet in a written index, all runs
	Errors func(op string)    // a failed archive write or read (retried)
	Chunks func(n int)        // chunks written
	Runs   func(n int)        // runs held
}

// Archiver copies runs into the archive, and keeps every run's summary and diagnosis
// as it goes (with or without an archive). Construct it with its ports and Config,
// then call Run; Watch adds a run a viewer opened.
type Archiver struct {
	Log     ports.EventLog
	Tail    ports.LogTail
	Keeper  ports.LogKeeper
	Cursors ports.ArchiveCursors
	// Archive holds the chunks and Index the run's index beside them. Without an
	// archive (Archive nil) the archiver still follows every run and keeps its
	// summary: Index is then the hot tier's kept summaries, and no chunk is written.
	Archive ports.Archive
	Index   ports.IndexStore
	// Summaries, with an archive, receive a copy of each index written (without its
	// chunk lists): the summary a request reads, beside the run in the hot tier.
	Summaries ports.IndexStore
	Leases    ports.Leases
	Jobs      ports.JobDirectory
	Active    ports.ActiveRuns
	// Ended are the runs the collector still looks at after they ended: a run is
	// held, as an active one is, until its cluster_idle notice (or none) is in.
	Ended   ports.EndedRuns
	Config  Config
	Metrics Metrics
	Logger  *slog.Logger
	Now     func() time.Time
	// Observe, if set, is shown each held run's record and diagnosis every 2 s (the
	// run's own goroutine; it must not block), and once more with final set when the
	// run is over and every line of it archived: notifications watch runs here.
	Observe func(rec job.Record, d *diagnose.Tracker, final bool)

	mu       sync.Mutex
	wanted   map[string]string   // safe id -> run id: runs viewers opened
	runs     map[string]*run     // safe id -> run held here
	finished map[string]event.ID // safe id -> last id archived, for runs found complete
	active   map[string]bool     // safe ids active or watched after their end at the last scan
	wake     chan struct{}       // a viewer's run: poll now
	ready    chan struct{}       // a writer can take more: read now
	tallies  tallies             // the writers' tallies, asked in rounds
	once     sync.Once
}

func (a *Archiver) init() {
	a.once.Do(func() {
		a.wanted, a.runs, a.finished, a.active = map[string]string{}, map[string]*run{}, map[string]event.ID{}, map[string]bool{}
		a.wake, a.ready = make(chan struct{}, 1), make(chan struct{}, 1)
		if a.Logger == nil {
			a.Logger = slog.New(slog.DiscardHandler)
		}
	})
}

func (a *Archiver) now() time.Time {
	if a.Now != nil {
		return a.Now()
	}
	return time.Now()
}

// Watch makes sure jobID is archived (a viewer opened it): it is taken at once if no
// replica holds it.
func (a *Archiver) Watch(jobID string) {
	a.init()
	a.mu.Lock()
	a.wanted[job.SafeID(jobID)] = jobID
	a.mu.Unlock()
	signal.Notify(a.wake)
}

// Run archives until ctx ends; the runs held are released (their leases freed, what
// was not yet written is read again by the next holder).
func (a *Archiver) Run(ctx context.Context) {
	a.init()
	var wg sync.WaitGroup
	defer wg.Wait()
	var nextScan, nextPoll time.Time
	wg.Add(1)
	go func() { defer wg.Done(); a.keepLeases(ctx) }()
	backoff := 50 * time.Millisecond
	cursors, byKey := map[string]event.ID{}, map[string]*run{} // reused: a round allocates no map of its own
	for ctx.Err() == nil {
		if now := time.Now(); !now.Before(nextPoll) {
			full := !now.Before(nextScan)
			a.scan(ctx, &wg, full)
			nextPoll = now.Add(a.Config.poll())
			if full {
				nextScan = now.Add(a.Config.scan())
			}
		}
		a.readable(cursors, byKey)
		if len(cursors) == 0 {
			select {
			case <-ctx.Done():
			case <-a.wake:
				nextPoll = time.Time{}
			case <-a.ready:
			case <-time.After(time.Until(nextPoll)):
			}
			continue
		}
		res, err := a.Tail.Tail(ctx, cursors, a.Config.batch(), a.Config.block())
		if err != nil {
			for _, r := range byKey {
				r.feed(nil)
			}
			select {
			case <-ctx.Done():
			case <-time.After(backoff):
			}
			backoff = min(backoff*2, 2*time.Second)
			continue
		}
		backoff = 50 * time.Millisecond
		for id, r := range byKey {
			r.feed(res[id])
		}
		select {
		case <-a.wake:
			nextPoll = time.Time{}
		default:
		}
	}
}

// Offer takes a batch the fan-out's reader read of jobID: the events that follow after
// in its log, in order (fanout.Tee). A run this archiver holds whose cursor is after
// takes it instead of reading it again; every other batch is ignored. It never waits.
func (a *Archiver) Offer(jobID string, after event.ID, evs []event.Event) {
	a.mu.Lock()
	r := a.runs[job.SafeID(jobID)]
	a.mu.Unlock()
	if r != nil && r.jobID == jobID {
		r.offer(after, evs, time.Now())
	}
}

// readable fills cursors and byKey (the read loop's own, reused every round) with the
// runs whose writer has room for more.
func (a *Archiver) readable(cursors map[string]event.ID, byKey map[string]*run) {
	clear(cursors)
	clear(byKey)
	now := time.Now()
	a.mu.Lock()
	defer a.mu.Unlock()
	for _, r := range a.runs {
		if r.ready(now) {
			cursors[r.jobID] = r.readCursor()
			byKey[r.jobID] = r
		}
	}
}

// scan looks for runs to archive: the active set and the viewers' runs, and (full)
// every stream; each one no replica holds is taken.
func (a *Archiver) scan(ctx context.Context, wg *sync.WaitGroup, full bool) {
	cands := map[string]string{}
	if full {
		logged, err := a.Keeper.LoggedRuns(ctx)
		if err != nil {
			a.Logger.Warn("archiver: listing run streams failed; retrying", "error", err)
		}
		for _, id := range logged {
			cands[job.SafeID(id)] = id
		}
	}
	active := map[string]bool{}
	var err error
	if a.Active != nil {
		var ids []string
		ids, err = a.Active.Active(ctx)
		if err != nil {
			a.Logger.Warn("archiver: listing active runs failed; retrying", "error", err)
		}
		for _, id := range ids {
			cands[job.SafeID(id)] = id // the real id beats the safe one SCAN gives
			active[job.SafeID(id)] = true
		}
	}
	// Read after the active set: the collector watches a run before it leaves that
	// set, so a run is in one or the other here.
	if a.Ended != nil && err == nil {
		var watched map[string]time.Time
		watched, err = a.Ended.Watched(ctx)
		if err != nil {
			a.Logger.Warn("archiver: listing ended runs failed; retrying", "error", err)
		}
		for id := range watched {
			cands[job.SafeID(id)] = id
			active[job.SafeID(id)] = true
		}
	}
	a.mu.Lock()
	if err == nil {
		a.active = active
	}
	for k, id := range a.wanted {
		cands[k] = id
	}
	clear(a.wanted)
	var todo []string
	for k, id := range cands {
		if _, held := a.runs[k]; !held {
			todo = append(todo, id)
		}
	}
	a.mu.Unlock()
	for _, id := range todo {
		if ctx.Err() != nil {
			return
		}
		a.take(ctx, wg, id)
	}
}

// take leases jobID and starts its writer, unless the run is already complete and its
// stream holds nothing newer.
func (a *Archiver) take(ctx context.Context, wg *sync.WaitGroup, jobID string) {
	key := job.SafeID(jobID)
	_, last, err := a.Log.Bounds(ctx, jobID)
	if err != nil {
		return
	}
	a.mu.Lock()
	done, wasDone := a.finished[key]
	a.mu.Unlock()
	if wasDone && last.Compare(done) <= 0 {
		return
	}
	ok, err := a.Leases.Acquire(ctx, jobID, a.Config.Holder, a.Config.leaseTTL())
	if err != nil || !ok {
		return
	}
	r, err := a.open(ctx, jobID)
	if err != nil {
		a.Logger.Warn("archiver: opening a run failed; retrying at the next scan", "job_id", jobID, "error", err)
		a.Leases.Release(context.WithoutCancel(ctx), jobID, a.Config.Holder)
		return
	}
	if r.idx.Complete && last.Compare(r.idx.LastID) <= 0 && r.rec.Status.Terminal() {
		// Finished earlier (by this or another replica): nothing to do until it grows.
		a.Leases.Release(context.WithoutCancel(ctx), jobID, a.Config.Holder)
		a.mu.Lock()
		a.finished[key] = r.idx.LastID
		a.mu.Unlock()
		return
	}
	a.mu.Lock()
	a.runs[key] = r
	delete(a.finished, key)
	n := len(a.runs)
	a.mu.Unlock()
	if a.Metrics.Runs != nil {
		a.Metrics.Runs(n)
	}
	wg.Add(1)
	go func() {
		defer wg.Done()
		end := r.loop(ctx)
		a.Leases.Release(context.WithoutCancel(ctx), jobID, a.Config.Holder)
		a.mu.Lock()
		delete(a.runs, key)
		if end == endFinished || end == endIdle {
			if len(a.finished) >= maxFinished {
				clear(a.finished)
			}
			a.finished[key] = r.idx.LastID
		}
		n := len(a.runs)
		a.mu.Unlock()
		if a.Metrics.Runs != nil {
			a.Metrics.Runs(n)
		}
	}()
}

// keepLeases renews the leases every third of their TTL, on its own so that a long
// scan never delays a renewal, and reports the lag.
func (a *Archiver) keepLeases(ctx context.Context) {
	t := time.NewTicker(a.Config.leaseTTL() / 3)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			a.renew(ctx)
			a.reportLag()
		}
	}
}

// renew extends every lease held; a run whose lease was lost stops at once.
func (a *Archiver) renew(ctx context.Context) {
	a.mu.Lock()
	runs := make([]*run, 0, len(a.runs))
	for _, r := range a.runs {
		runs = append(runs, r)
	}
	a.mu.Unlock()
	for _, r := range runs {
		ok, err := a.Leases.Renew(ctx, r.jobID, a.Config.Holder, a.Config.leaseTTL())
		switch {
		case err == nil && ok:
			r.renewed.Store(time.Now().UnixNano())
		case err == nil:
			r.lost()
		}
	}
}

// readyAgain wakes the reader: a writer can take more.
func (a *Archiver) readyAgain() {
	signal.Notify(a.ready)
}

// isActive reports whether the run was active, or watched after its end, at the last
// scan.
func (a *Archiver) isActive(jobID string) bool {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.active[job.SafeID(jobID)]
}

// maxFinished bounds the memory of runs found complete (forgetting one costs a lease
// and an index read at the next scan).
const maxFinished = 100_000

// errLeaseLost stops a writer whose lease is gone or about to be.
var errLeaseLost = errors.New("archive lease lost")

// lag sums what every held run read but has not yet indexed.
func (a *Archiver) reportLag() {
	if a.Metrics.Lag == nil {
		return
	}
	a.mu.Lock()
	var n int64
	for _, r := range a.runs {
		n += r.lag.Load()
	}
	a.mu.Unlock()
	a.Metrics.Lag(n)
}
