package history

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"runtime"
	"sort"
	"sync"
	"time"

	"github.com/blastlog/blastlog/core/chunk"
	"github.com/blastlog/blastlog/core/event"
	"github.com/blastlog/blastlog/ports"
)

// Page is one read: Gap (if any) comes before Events.
//
// In a filtered scan (ScanFiltered) a chunk the filter refused comes as skeletons,
// Source empty (Skipped reports them), there to be counted, never to be shown: one
// event at the chunk's last id standing for all its events (Weight) when its step
// holds one phase, else one ID-and-Phase event per event.
type Page struct {
	// Gap says that events between the read's resume point and Events[0] (or what
	// follows, when Events is empty) are lost in both tiers.
	Gap    *event.Gap
	Events []event.Event
	// End: nothing more is held after the page (the caller is caught up).
	End bool
}

// Reader reads runs through the archive and the stream. Its zero cache sizes are
// defaults; it is safe for concurrent use.
type Reader struct {
	Log ports.EventLog
	// Archive and Index are nil without an archive: the stream alone is read, and a
	// resume point it no longer holds yields a gap.
	Archive ports.Archive
	Index   ports.ArchiveIndex
	// CacheBytes bounds the decoded chunks kept in memory: DefaultCacheBytes.
	CacheBytes int64
	// IndexTTL is how long an index read is reused while the stream's first id stays
	// the same: DefaultIndexTTL.
	IndexTTL time.Duration
	// Window is how many chunks one read fetches ahead, concurrently, so that a
	// store's per-request latency is paid once per window, not once per chunk:
	// DefaultWindow. MaxFetches bounds those fetches in flight in the process:
	// DefaultMaxFetches.
	Window, MaxFetches int
	// Budget is the replica's bytes for scans' chunks (see Budget): a scan waits for
	// its share, and a chunk is fetched ahead only while the budget has room. Nil: a
	// budget of DefaultBudget.
	Budget *Budget

	once    sync.Once
	slots   chan struct{} // the process's prefetches in flight
	cores   chan struct{} // the process's chunks being decoded or filtered
	chunks  *lru
	indexMu sync.Mutex
	indexes map[string]cachedIndex
}

// Defaults of Reader.
const (
	DefaultCacheBytes = 32 << 20
	DefaultIndexTTL   = time.Second
	DefaultWindow     = 24
	DefaultMaxFetches = 64
	maxIndexes        = 4096
	scanCacheBytes    = 12 << 20 // a scan's own chunks: the current one of each step and its window
	// aheadEvents bounds the events fetched ahead (chunks of up to 5,000 events).
	aheadEvents = 12_000
)

type cachedIndex struct {
	idx   chunk.Index
	first event.ID // the stream's first id when the index was read
	at    time.Time
}

func (r *Reader) init() {
	r.once.Do(func() {
		n := r.CacheBytes
		if n <= 0 {
			n = DefaultCacheBytes
		}
		r.chunks = newLRU(n)
		r.indexes = map[string]cachedIndex{}
		m := r.MaxFetches
		if m <= 0 {
			m = DefaultMaxFetches
		}
		r.slots = make(chan struct{}, m)
		r.cores = make(chan struct{}, max(1, runtime.GOMAXPROCS(0)-1))
		if r.Budget == nil {
			r.Budget = NewBudget(DefaultBudget)
		}
	})
}

func (r *Reader) indexTTL() time.Duration { return cmp.Or(r.IndexTTL, DefaultIndexTTL) }

// Read returns up to max events strictly after after (the zero id: from the first
// event of the run), in id order.
func (r *Reader) Read(ctx context.Context, jobID string, after event.ID, max int) (Page, error) {
	r.init()
	return r.read(ctx, jobID, after, max, r.fetcher(r.chunks, nil))
}

// fetcher is how one read (or one scan, page after page) loads chunks: through which
// cache, with which filter, and what it fetches ahead.
type fetcher struct {
	cache  *lru
	want   *Filter
	window int
	// lines (when set): the read hands out events as chunk.DecodeLines does (a
	// scan of lines).
	lines event.LineFormat
	// phases: the steps whose events all have one phase (the run's summary knows
	// only that phase for the step), so that a refused chunk of theirs is one
	// skeleton.
	phases map[string]string
	// plan is every chunk the read may need, by first id: the steps' chunks in the
	// order the merge reaches them. plan[:reached] start at or before the merge's
	// position; plan[:ahead] are asked for. At most window chunks past the position
	// are fetched ahead, so what is fetched is used before the cache lets it go.
	plan           []planned
	reached, ahead int
	// inWindow and inEvents count the chunks of plan[reached:ahead] that are read
	// (not refused from their index entry), and their events.
	inWindow, inEvents int
	// page is a scan's page buffer, reused from one page to the next (each returns
	// before the next read).
	page []event.Event
}

type planned struct {
	step string
	ref  chunk.Ref
}

func (r *Reader) fetcher(cache *lru, want *Filter) *fetcher {
	w := r.Window
	if w <= 0 {
		w = DefaultWindow
	}
	return &fetcher{cache: cache, want: want, window: w}
}

// planFor lists idx's chunks after after by first id, once per fetcher (a scan's
// later pages find the index's new chunks when they need them, without a plan).
func (f *fetcher) planFor(idx *chunk.Index, after event.ID) {
	if f.plan != nil {
		return
	}
	f.plan = []planned{}
	f.phases = map[string]string{}
	many := map[string]bool{}
	for phase := range idx.Summary.Steps {
		step := chunk.Step(phase)
		if _, seen := f.phases[step]; seen {
			many[step] = true
		}
		f.phases[step] = phase
	}
	for step := range many {
		delete(f.phases, step)
	}
	for step, si := range idx.Steps {
		for _, ref := range si.Chunks {
			if ref.LastID.Compare(after) > 0 {
				f.plan = append(f.plan, planned{step: step, ref: ref})
			}
		}
	}
	sort.Slice(f.plan, func(i, j int) bool { return f.plan[i].ref.FirstID.Compare(f.plan[j].ref.FirstID) < 0 })
}

// prefetch starts loading the planned chunks past the merge's position pos into f's
// cache, up to the window and as many as the process's slots allow (no free slot: the
// rest is loaded when it is needed). A failed prefetch is not kept: the read's own
// load says why.
func (r *Reader) prefetch(ctx context.Context, jobID string, pos event.ID, f *fetcher) {
	for f.reached < len(f.plan) && f.plan[f.reached].ref.FirstID.Compare(pos) <= 0 {
		if p := f.plan[f.reached]; f.reached < f.ahead && !f.unread(p.step, p.ref) {
			f.inWindow, f.inEvents = f.inWindow-1, f.inEvents-p.ref.Count
		}
		f.reached++
	}
	f.ahead = max(f.ahead, f.reached)
	for ; f.ahead < len(f.plan) && f.inWindow < f.window && f.inEvents < aheadEvents; f.ahead++ {
		p := f.plan[f.ahead]
		if f.unread(p.step, p.ref) {
			continue // a skeleton from its index entry: nothing to fetch
		}
		select {
		case r.slots <- struct{}{}:
		default:
			return
		}
		if !r.Budget.tryTake(loadBytes) {
			<-r.slots
			return
		}
		f.inWindow, f.inEvents = f.inWindow+1, f.inEvents+p.ref.Count
		go func() {
			defer func() { r.Budget.give(loadBytes); <-r.slots }()
			r.chunkFiltered(ctx, jobID, p.step, p.ref, f)
		}()
	}
}

// asLines turns the stream's events that a page hands out into lines, in a scan of
// lines (only those: a page the archive fills leaves the rest unformatted).
func (f *fetcher) asLines(evs []event.Event) []event.Event {
	if f.lines != 0 {
		for i := range evs {
			evs[i] = evs[i].LineOnly(f.lines)
		}
	}
	return evs
}

// unread: the filter refuses p from its index entry alone, so it is one skeleton
// and never read (see chunkFiltered).
func (f *fetcher) unread(step string, ref chunk.Ref) bool {
	return f.whole(step, ref) && f.want != nil && f.want.Ref != nil && !f.want.Ref(ref)
}

// whole: a refused chunk of step is one skeleton (its step has one phase, and ref
// knows its count and last id).
func (f *fetcher) whole(step string, ref chunk.Ref) bool {
	_, one := f.phases[step]
	return one && ref.Count > 0 && !ref.LastID.IsZero()
}

// Skipped reports a skeleton event of a filtered scan (see Page).
func Skipped(e *event.Event) bool { return e.Source == "" }

// Weight is how many of the run's events e stands for: a skeleton of a whole chunk
// carries its count in Seq.
func Weight(e *event.Event) int64 {
	if Skipped(e) && e.Seq > 0 {
		return e.Seq
	}
	return 1
}

// Filter is what a filtered scan wants: a chunk that Ref (from its index entry,
// before it is read) or Bytes (from its stored bytes) refuses holds nothing wanted,
// and comes as skeletons. Either may be nil: that one refuses nothing.
type Filter struct {
	Ref   func(chunk.Ref) bool
	Bytes func(ref chunk.Ref, raw []byte) bool
}

// read is Read with chunks kept in cache: the shared one for viewers (they catch up
// in the same places), a small private one for a scan (a download or search over a
// whole run would only push the viewers' chunks out).
func (r *Reader) read(ctx context.Context, jobID string, after event.ID, max int, f *fetcher) (Page, error) {
	if max <= 0 {
		return Page{}, nil
	}
	evs, first, err := r.Log.ReadHeld(ctx, jobID, after, max)
	if err != nil {
		return Page{}, err
	}
	holds := !first.IsZero()                   // the stream holds any event
	held := holds && first.Compare(after) <= 0 // the stream holds the resume point
	if holds && after.IsZero() && r.Index == nil {
		held = true // from the start, without an archive: the stream is all there is
	}
	if held || (!holds && r.Index == nil) {
		return Page{Events: f.asLines(evs), End: len(evs) < max}, nil
	}
	if r.Index == nil {
		// The resume point was trimmed and nothing else keeps what followed it.
		p := Page{Events: f.asLines(evs), End: len(evs) < max}
		if !after.Adjacent(first) {
			p.Gap = &event.Gap{After: after, FirstAvailable: first, Reason: event.GapReasonTrimmed}
		}
		return p, nil
	}
	idx, err := r.index(ctx, jobID, first)
	if errors.Is(err, ports.ErrNotFound) {
		// Nothing archived for this run (yet): the stream as it is.
		p := Page{Events: f.asLines(evs), End: len(evs) < max}
		if holds && !after.IsZero() && !after.Adjacent(first) {
			p.Gap = &event.Gap{After: after, FirstAvailable: first, Reason: event.GapReasonTrimmed}
		}
		return p, nil
	}
	if err != nil {
		return Page{}, err
	}
	var bound *event.ID
	if holds {
		bound = &first
	}
	p, stopped, err := r.fromArchive(ctx, &idx, after, bound, max, f)
	if err != nil || stopped || len(p.Events) == max {
		return p, err
	}
	// The archive is read up to the stream's first id: the stream continues it.
	p.Events = append(p.Events, f.asLines(evs[:min(len(evs), max-len(p.Events))])...)
	p.End = len(p.Events) < max
	return p, nil
}

// index reads the run's index, reusing a recent read while the stream's first id is
// the one it was read with (a trim moves it, and then the index is read again).
func (r *Reader) index(ctx context.Context, jobID string, first event.ID) (chunk.Index, error) {
	r.init()
	r.indexMu.Lock()
	c, ok := r.indexes[jobID]
	r.indexMu.Unlock()
	if ok && c.first == first && time.Since(c.at) < r.indexTTL() {
		return c.idx, nil
	}
	idx, _, err := r.Index.Index(ctx, jobID)
	if err != nil {
		return chunk.Index{}, err
	}
	r.indexMu.Lock()
	if len(r.indexes) >= maxIndexes {
		clear(r.indexes)
	}
	r.indexes[jobID] = cachedIndex{idx: idx, first: first, at: time.Now()}
	r.indexMu.Unlock()
	return idx, nil
}

// stepCursor walks one step's chunks in order.
type stepCursor struct {
	step string
	refs []chunk.Ref
	evs  []event.Event // the current chunk's remaining events
	next int           // index in refs of the chunk to load next
}

// fromArchive merges the steps' chunks by id, from after up to (not including)
// bound. stopped means the page ends at a recorded gap or at max.
func (r *Reader) fromArchive(ctx context.Context, idx *chunk.Index, after event.ID, bound *event.ID, max int, f *fetcher) (Page, bool, error) {
	var curs []*stepCursor
	for step, si := range idx.Steps {
		// The first chunk that may hold an event after the resume point.
		i := sort.Search(len(si.Chunks), func(i int) bool { return si.Chunks[i].LastID.Compare(after) > 0 })
		if i < len(si.Chunks) {
			curs = append(curs, &stepCursor{step: step, refs: si.Chunks, next: i})
		}
	}
	gaps := pendingGaps(idx.Gaps, after)
	p := Page{Events: f.page[:0]}
	f.planFor(idx, after)
	pos := after // the merge's position: the last event it took
	for {
		var best *stepCursor
		var bestID event.ID
		for _, c := range curs {
			if len(c.evs) == 0 && c.next < len(c.refs) {
				// The chunks the merge reaches next are fetched meanwhile.
				r.prefetch(ctx, idx.JobID, pos, f)
				ch, err := r.chunkFiltered(ctx, idx.JobID, c.step, c.refs[c.next], f)
				if err == nil && bound != nil && wholeSkeleton(ch) && c.refs[c.next].LastID.Compare(*bound) >= 0 {
					// The stream continues the archive inside this chunk: its events
					// before the stream's are counted one by one.
					ch, err = r.chunkFiltered(ctx, idx.JobID, c.step, c.refs[c.next], &fetcher{cache: f.cache, want: f.want})
				}
				if err != nil && len(p.Events) > 0 && ctx.Err() != nil {
					return p, true, nil // out of time: what was merged is the page
				}
				if err != nil {
					return Page{}, false, err
				}
				c.next++
				c.evs = ch.Events
				for len(c.evs) > 0 && c.evs[0].ID.Compare(after) <= 0 {
					c.evs = c.evs[1:]
				}
			}
			if len(c.evs) == 0 {
				continue
			}
			if best == nil || c.evs[0].ID.Compare(bestID) < 0 {
				best, bestID = c, c.evs[0].ID
			}
		}
		done := best == nil || (bound != nil && bestID.Compare(*bound) >= 0)
		// A recorded gap that lies before the next event (or before the end).
		if len(gaps) > 0 && (done || gaps[0].After.Compare(bestID) < 0) {
			if len(p.Events) > 0 {
				return p, true, nil // the gap starts the next page
			}
			g := gaps[0]
			gaps = gaps[1:]
			if p.Gap != nil { // two recorded gaps with nothing between them: one
				p.Gap.FirstAvailable = g.FirstAvailable
				continue
			}
			if g.After.Compare(after) < 0 {
				g.After = after
			}
			p.Gap = &g
			continue
		}
		if done {
			return p, false, nil
		}
		p.Events = append(p.Events, best.evs[0])
		pos = bestID
		best.evs = best.evs[1:]
		if len(p.Events) == max {
			return p, true, nil
		}
	}
}

// pendingGaps are the recorded gaps that reach past the resume point, by position.
func pendingGaps(all []event.Gap, after event.ID) []event.Gap {
	var out []event.Gap
	for _, g := range all {
		if g.FirstAvailable.Compare(after) > 0 {
			out = append(out, g)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].After.Compare(out[j].After) < 0 })
	return out
}

// cpu takes one of the places for a chunk's decoding or filtering, one per core, and
// returns its release: the loads fetched ahead wait for the network many at a time,
// but only as many burn CPU as there are cores. Go's scheduler serves runnable
// goroutines in turn, 10 ms each, so fifty of them would keep a health check or a live
// stream waiting half a second.
func (r *Reader) cpu() func() {
	r.cores <- struct{}{}
	return func() { <-r.cores }
}

// chunk reads one chunk through cache.
func (r *Reader) chunk(ctx context.Context, jobID, step string, seq int, cache *lru) (*chunk.Chunk, error) {
	return r.chunkFiltered(ctx, jobID, step, chunk.Ref{Seq: seq}, &fetcher{cache: cache})
}

// chunkFiltered reads one chunk through f's cache: decoded (a scan of lines' as
// chunk.DecodeLines reads it), or — when f's filter refuses it — as skeletons: one for
// the whole chunk when its step has one phase (without reading it, when its index
// entry is enough), else one per event when the skim agrees with the index's count.
// Each chunk is fetched once, however many ask for it at the same time (the merge and
// a prefetch): what the filter decides is made inside that one load.
func (r *Reader) chunkFiltered(ctx context.Context, jobID, step string, ref chunk.Ref, f *fetcher) (*chunk.Chunk, error) {
	name := chunk.Name(jobID, step, ref.Seq)
	want := f.want
	if want == nil {
		key := name
		if f.lines != 0 {
			key = fmt.Sprintf("%s#lines%d", name, f.lines)
		}
		return f.cache.get(key, func() (*chunk.Chunk, int64, error) {
			if err := ctx.Err(); err != nil {
				return nil, 0, err
			}
			b, err := r.Archive.Chunk(ctx, jobID, step, ref.Seq)
			if err != nil {
				return nil, 0, err
			}
			defer r.cpu()()
			return decode(name, b, f.lines)
		})
	}
	phase, whole := f.phases[step], f.whole(step, ref)
	if f.unread(step, ref) {
		return chunkSkeleton(ref, phase), nil
	}
	// Whole and per-event skeletons are kept apart: a read that must count inside a
	// chunk asks again without the step's phase (see fromArchive).
	key := name + "#skim"
	if whole {
		key = name + "#whole"
	}
	return f.cache.get(key, func() (*chunk.Chunk, int64, error) {
		if err := ctx.Err(); err != nil {
			return nil, 0, err // a scan past its deadline does no more work
		}
		b, err := r.Archive.Chunk(ctx, jobID, step, ref.Seq)
		if err != nil {
			return nil, 0, err
		}
		defer r.cpu()()
		if (want.Ref == nil || want.Ref(ref)) && (want.Bytes == nil || want.Bytes(ref, b)) {
			return decode(name, b, 0) // it may hold what the scan wants
		}
		if whole {
			return chunkSkeleton(ref, phase), 512, nil
		}
		if sk, size, ok := skeleton(b, ref.Count); ok {
			return sk, size, nil
		}
		return decode(name, b, 0) // not in the shape a skim reads
	})
}

// decode is a chunk's bytes decoded — as lines in format when set — with about the
// memory it holds.
func decode(name string, b []byte, format event.LineFormat) (*chunk.Chunk, int64, error) {
	var c chunk.Chunk
	var err error
	if format != 0 {
		c, err = chunk.DecodeLines(b, format)
	} else {
		c, err = chunk.Decode(b)
	}
	if err != nil {
		return nil, 0, fmt.Errorf("chunk %s: %w: %w", name, ports.ErrUnavailable, err)
	}
	if format != 0 {
		return &c, linesCost(&c), nil
	}
	return &c, decodedCost(&c), nil
}

// decodedCost is about the memory a decoded chunk holds: an event costs its strings
// plus ~450 bytes of struct and fields.
func decodedCost(c *chunk.Chunk) int64 {
	size := int64(512)
	for i := range c.Events {
		e := &c.Events[i]
		size += int64(len(e.Line)+len(e.JobID)+len(e.Pod)+len(e.Container)+len(e.ContainerID)) + 450
	}
	return size
}

// linesCost is decodedCost for a scan of lines' chunk: its ids and lines.
func linesCost(c *chunk.Chunk) int64 {
	size := int64(512)
	for i := range c.Events {
		size += int64(len(c.Events[i].Line)) + 300
	}
	return size
}

// chunkSkeleton is a refused chunk of a one-phase step as one skeleton at its last id
// (see Page).
func chunkSkeleton(ref chunk.Ref, phase string) *chunk.Chunk {
	return &chunk.Chunk{Events: []event.Event{{ID: ref.LastID, Phase: phase, Seq: int64(ref.Count)}}}
}

func wholeSkeleton(c *chunk.Chunk) bool {
	return len(c.Events) == 1 && Skipped(&c.Events[0]) && c.Events[0].Seq > 0
}

// Before returns up to n of the newest events strictly before before, oldest first:
// the stream's, then the archive's for what the stream no longer holds.
func (r *Reader) Before(ctx context.Context, jobID string, before event.ID, n int) ([]event.Event, error) {
	evs, err := r.Log.ReadBefore(ctx, jobID, before, n)
	if err != nil || len(evs) == n || r.Index == nil {
		return evs, err
	}
	// The stream holds nothing older than its result: older events are archived.
	bound := before
	if len(evs) > 0 {
		bound = evs[0].ID
	}
	idx, err := r.index(ctx, jobID, event.ID{})
	if errors.Is(err, ports.ErrNotFound) {
		return evs, nil
	}
	if err != nil {
		return nil, err
	}
	older, err := r.archiveBefore(ctx, &idx, bound, n-len(evs))
	if err != nil {
		return nil, err
	}
	return append(older, evs...), nil
}

// archiveBefore collects the newest n archived events before bound: chunks are taken
// newest last id first until the n-th newest event found is newer than every chunk
// left.
func (r *Reader) archiveBefore(ctx context.Context, idx *chunk.Index, bound event.ID, n int) ([]event.Event, error) {
	type ref struct {
		step string
		chunk.Ref
	}
	var refs []ref
	for step, si := range idx.Steps {
		for _, c := range si.Chunks {
			if c.FirstID.Compare(bound) < 0 {
				refs = append(refs, ref{step, c})
			}
		}
	}
	sort.Slice(refs, func(i, j int) bool { return refs[i].LastID.Compare(refs[j].LastID) > 0 })
	var got []event.Event
	for _, c := range refs {
		if len(got) >= n {
			sortByID(got)
			if got[len(got)-n].ID.Compare(c.LastID) > 0 {
				break
			}
		}
		ch, err := r.chunk(ctx, idx.JobID, c.step, c.Seq, r.chunks)
		if err != nil {
			return nil, err
		}
		for _, e := range ch.Events {
			if e.ID.Compare(bound) < 0 {
				got = append(got, e)
			}
		}
	}
	sortByID(got)
	if len(got) > n {
		got = got[len(got)-n:]
	}
	return got, nil
}

func sortByID(evs []event.Event) {
	sort.Slice(evs, func(i, j int) bool { return evs[i].ID.Compare(evs[j].ID) < 0 })
}

// Scan calls f with every page after after until the run's end or ctx ends. It
// returns what f returns, or the read's error. A page's Events are reused by the next
// page: f keeps copies, never the slice.
func (r *Reader) Scan(ctx context.Context, jobID string, after event.ID, pageSize int, each func(Page) error) error {
	return r.ScanFiltered(ctx, jobID, after, pageSize, nil, each)
}

// scan pages through the run with f's cache, filter and window, holding its share of
// the budget (taken first: a scan waits while other scans hold it).
func (r *Reader) scan(ctx context.Context, jobID string, after event.ID, pageSize int, f *fetcher, each func(Page) error) error {
	if err := r.Budget.take(ctx, scanBytes); err != nil {
		return err
	}
	defer r.Budget.give(scanBytes)
	for {
		p, err := r.read(ctx, jobID, after, pageSize, f)
		if err != nil {
			return err
		}
		if err := each(p); err != nil {
			return err
		}
		f.page = p.Events[:0]
		if p.End {
			return nil
		}
		if len(p.Events) > 0 {
			after = p.Events[len(p.Events)-1].ID
		}
		if err := ctx.Err(); err != nil {
			return err
		}
	}
}

// skeleton is a chunk's events as ids and phases only (see Page): each distinct phase
// is one string, so a skimmed chunk costs a few allocations, not one per event.
func skeleton(raw []byte, count int) (*chunk.Chunk, int64, bool) {
	sk, ok := chunk.Skim(raw, nil)
	if !ok || count > 0 && len(sk) != count || count == 0 {
		return nil, 0, false
	}
	phases := map[string]string{}
	evs := make([]event.Event, len(sk))
	for i, s := range sk {
		evs[i].ID = s.ID
		p, ok := phases[string(s.Phase)]
		if !ok {
			p = string(s.Phase)
			phases[p] = p
		}
		evs[i].Phase = p
	}
	return &chunk.Chunk{Events: evs}, int64(len(evs))*300 + 512, true
}

// ScanLines is Scan for a caller that only writes the events as lines in format:
// each event's Line is its whole line (event.Event.AppendLine), and only its ID, Phase
// and Source are kept besides (chunk.DecodeLines). An archived chunk goes from its
// bytes to its lines without its events being decoded.
func (r *Reader) ScanLines(ctx context.Context, jobID string, after event.ID, pageSize int, format event.LineFormat,
	each func(Page) error) error {
	r.init()
	f := r.fetcher(newLRU(scanCacheBytes), nil)
	f.lines = format
	return r.scan(ctx, jobID, after, pageSize, f, each)
}

// ScanFiltered is Scan where the chunks want refuses come as skeletons (see Page): a
// search decodes only the chunks that may match, and still counts every line (by
// Weight). A nil want is Scan.
func (r *Reader) ScanFiltered(ctx context.Context, jobID string, after event.ID, pageSize int, want *Filter, each func(Page) error) error {
	r.init()
	return r.scan(ctx, jobID, after, pageSize, r.fetcher(newLRU(scanCacheBytes), want), each)
}
