package history_test

import (
	"context"
	"fmt"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/blastlog/blastlog/core/app/history"
	"github.com/blastlog/blastlog/core/chunk"
	"github.com/blastlog/blastlog/core/event"
	"github.com/blastlog/blastlog/ports/portstest"
)

// fixture: events 1..n with ids <i>-0; steps alternate a/b; the archive holds chunks
// of 7 per step up to archived (and a recorded gap if asked), the stream holds the
// events from streamFrom on.
type fixture struct {
	log  *portstest.EventLog
	arch *portstest.Archive
	ids  []event.ID
}

func newFixture(t *testing.T, n, archived, streamFrom int, gap [2]int) *fixture {
	t.Helper()
	ctx := context.Background()
	f := &fixture{log: portstest.NewEventLog(0), arch: portstest.NewArchive()}
	var all []event.Event
	for i := 1; i <= n; i++ {
		e := portstest.Event("run", fmt.Sprintf("line %d", i))
		e.Phase = []string{"a", "b"}[i%2]
		if i%5 == 0 {
			e.Phase = "a" // steps interleave unevenly
		}
		all = append(all, e)
	}
	ids, err := f.log.Append(ctx, "run", all)
	if err != nil {
		t.Fatal(err)
	}
	f.ids = ids
	idx := chunk.NewIndex("run")
	bufs := map[string][]event.Event{}
	flush := func(step string) {
		si := idx.Steps[step]
		if si == nil {
			si = &chunk.StepIndex{}
			idx.Steps[step] = si
		}
		evs := bufs[step]
		c := chunk.Chunk{SchemaVersion: 1, JobID: "run", Step: step, Sequence: si.NextSeq, Events: evs}
		if err := f.arch.PutChunk(ctx, c); err != nil {
			t.Fatal(err)
		}
		si.Chunks = append(si.Chunks, chunk.Ref{Seq: c.Sequence, FirstID: evs[0].ID, LastID: evs[len(evs)-1].ID, Count: len(evs)})
		si.NextSeq++
		bufs[step] = nil
	}
	for i := 1; i <= archived; i++ {
		if i > gap[0] && i < gap[1] {
			continue
		}
		e := all[i-1]
		e.ID = ids[i-1]
		bufs[e.Phase] = append(bufs[e.Phase], e)
		if len(bufs[e.Phase]) == 7 {
			flush(e.Phase)
		}
	}
	for _, s := range []string{"a", "b"} {
		if len(bufs[s]) > 0 {
			flush(s)
		}
	}
	if gap[1] > 0 {
		idx.Gaps = append(idx.Gaps, event.Gap{After: ids[gap[0]-1], FirstAvailable: ids[gap[1]-1], Reason: "trimmed"})
	}
	idx.LastID = ids[archived-1]
	if _, err := f.arch.PutIndex(ctx, idx, ""); err != nil {
		t.Fatal(err)
	}
	f.log.Trim("run", n-streamFrom+1)
	return f
}

func (f *fixture) reader(archive bool) *history.Reader {
	if !archive {
		return &history.Reader{Log: f.log}
	}
	return &history.Reader{Log: f.log, Archive: f.arch, Index: f.arch}
}

func (f *fixture) id(i int) event.ID {
	if i == 0 {
		return event.ID{}
	}
	return f.ids[i-1]
}

// scan reads everything after from with pages of size, returning line numbers and
// where gaps were seen (as the line number before each).
func scan(t *testing.T, r *history.Reader, from event.ID, size int) (got []int, gaps []int) {
	t.Helper()
	err := r.Scan(context.Background(), "run", from, size, func(p history.Page) error {
		if p.Gap != nil {
			last := 0
			if len(got) > 0 {
				last = got[len(got)-1]
			}
			gaps = append(gaps, last)
		}
		for _, e := range p.Events {
			var n int
			fmt.Sscanf(e.Line, "line %d", &n)
			got = append(got, n)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return got, gaps
}

func wantRange(t *testing.T, got []int, from, to int, skip ...[2]int) {
	t.Helper()
	var want []int
	for i := from; i <= to; i++ {
		if len(skip) > 0 && i > skip[0][0] && i < skip[0][1] {
			continue
		}
		want = append(want, i)
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("got %v\nwant %v", got, want)
	}
}

func TestArchiveThenStreamInIDOrderEachOnce(t *testing.T) {
	// Archived 1..80, the stream holds 61..100: the overlap is read from the archive
	// up to the stream's first id, then from the stream.
	f := newFixture(t, 100, 80, 61, [2]int{})
	for _, size := range []int{1, 3, 7, 50, 1000} {
		for _, from := range []int{0, 1, 13, 59, 60, 61, 99} {
			got, gaps := scan(t, f.reader(true), f.id(from), size)
			if len(gaps) != 0 {
				t.Fatalf("size %d from %d: gaps %v", size, from, gaps)
			}
			wantRange(t, got, from+1, 100)
		}
	}
}

func TestRecordedGapIsReportedOnceWhereItIs(t *testing.T) {
	// 21..29 were lost before they were archived.
	f := newFixture(t, 100, 80, 61, [2]int{20, 30})
	for _, size := range []int{4, 100} {
		got, gaps := scan(t, f.reader(true), event.ID{}, size)
		wantRange(t, got, 1, 100, [2]int{20, 30})
		if fmt.Sprint(gaps) != "[20]" {
			t.Fatalf("size %d: gaps after %v", size, gaps)
		}
		// Resuming inside the lost range: the gap comes first.
		got, gaps = scan(t, f.reader(true), f.id(25), size)
		wantRange(t, got, 30, 100)
		if fmt.Sprint(gaps) != "[0]" {
			t.Fatalf("size %d from inside: gaps %v", size, gaps)
		}
	}
}

func TestWithoutArchiveATrimmedResumePointIsAGap(t *testing.T) {
	f := newFixture(t, 100, 80, 61, [2]int{})
	got, gaps := scan(t, f.reader(false), f.id(10), 30)
	wantRange(t, got, 61, 100)
	if fmt.Sprint(gaps) != "[0]" {
		t.Fatalf("gaps %v", gaps)
	}
	got, gaps = scan(t, f.reader(false), f.id(70), 30)
	wantRange(t, got, 71, 100)
	if len(gaps) != 0 {
		t.Fatalf("a held resume point: gaps %v", gaps)
	}
}

func TestBeforeReachesIntoTheArchive(t *testing.T) {
	f := newFixture(t, 100, 80, 61, [2]int{})
	r := f.reader(true)
	for _, c := range []struct{ before, n, first int }{{100, 10, 90}, {65, 10, 55}, {30, 50, 1}, {2, 5, 1}} {
		evs, err := r.Before(context.Background(), "run", f.id(c.before), c.n)
		if err != nil {
			t.Fatal(err)
		}
		var got []int
		for _, e := range evs {
			var n int
			fmt.Sscanf(e.Line, "line %d", &n)
			got = append(got, n)
		}
		wantRange(t, got, c.first, c.before-1)
	}
}

// A scan of lines is the scan with each event as its line, in either format: the same
// events, in the same pages, with the same gaps, from the archive and from the stream.
func TestScanLinesIsScanAsLines(t *testing.T) {
	type page struct {
		gap    *event.Gap
		events []event.Event
	}
	collect := func(scan func(func(history.Page) error) error, format event.LineFormat) []page {
		var out []page
		err := scan(func(p history.Page) error {
			pg := page{gap: p.Gap}
			for _, e := range p.Events {
				if format != 0 {
					e = e.LineOnly(format)
				}
				pg.events = append(pg.events, e)
			}
			out = append(out, pg)
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		return out
	}
	for _, gap := range [][2]int{{}, {20, 30}} {
		f := newFixture(t, 100, 80, 61, gap)
		r := f.reader(true)
		for _, format := range []event.LineFormat{event.TextLine, event.JSONLine} {
			for _, size := range []int{1, 7, 50, 1000} {
				for _, from := range []int{0, 13, 25, 61, 99} {
					want := collect(func(each func(history.Page) error) error {
						return r.Scan(context.Background(), "run", f.id(from), size, each)
					}, format)
					got := collect(func(each func(history.Page) error) error {
						return r.ScanLines(context.Background(), "run", f.id(from), size, format, each)
					}, 0)
					if !reflect.DeepEqual(got, want) {
						t.Fatalf("gap %v format %d size %d from %d:\nlines %+v\nscan  %+v", gap, format, size, from, got, want)
					}
					if first := got[0].events; gap[1] == 0 && len(first) > 0 && !strings.Contains(first[0].Line, fmt.Sprintf("line %d", from+1)) {
						t.Fatalf("first line %q", first[0].Line)
					}
				}
			}
		}
	}
}

// countingArchive answers each chunk a little late and remembers the most chunk
// reads it had in flight at once.
type countingArchive struct {
	*portstest.Archive
	mu            sync.Mutex
	now, most, of int
}

func (a *countingArchive) Chunk(ctx context.Context, jobID, step string, seq int) ([]byte, error) {
	a.mu.Lock()
	a.now, a.of = a.now+1, a.of+1
	a.most = max(a.most, a.now)
	a.mu.Unlock()
	time.Sleep(5 * time.Millisecond)
	a.mu.Lock()
	a.now--
	a.mu.Unlock()
	return a.Archive.Chunk(ctx, jobID, step, seq)
}

// A filtered scan's window counts only the chunks it has to read: when one chunk in
// 30 may hold what it wants (issues=1 over a run with few), those are still fetched
// many at a time, and the others not at all.
func TestFilteredScanFetchesWantedChunksAhead(t *testing.T) {
	ctx := context.Background()
	arch := &countingArchive{Archive: portstest.NewArchive()}
	idx := chunk.NewIndex("run")
	si := &chunk.StepIndex{}
	idx.Steps["running"] = si
	for seq := range 600 {
		var evs []event.Event
		for i := range 5 {
			e := portstest.Event("run", fmt.Sprintf("line %d", seq*5+i))
			e.Phase, e.ID = "running", event.ID{MS: uint64(1 + seq*5 + i)}
			idx.Summary.Add(&e)
			evs = append(evs, e)
		}
		c := chunk.Chunk{SchemaVersion: 1, JobID: "run", Step: "running", Sequence: seq, Events: evs}
		if err := arch.PutChunk(ctx, c); err != nil {
			t.Fatal(err)
		}
		si.Chunks = append(si.Chunks, chunk.RefOf(&c))
	}
	idx.Complete = true
	if _, err := arch.PutIndex(ctx, idx, ""); err != nil {
		t.Fatal(err)
	}
	r := &history.Reader{Log: portstest.NewEventLog(0), Archive: arch, Index: arch}
	want := &history.Filter{Ref: func(ref chunk.Ref) bool { return ref.Seq%30 == 0 }}
	var lines, weight int64
	err := r.ScanFiltered(ctx, "run", event.ID{}, 2000, want, func(p history.Page) error {
		for i := range p.Events {
			if !history.Skipped(&p.Events[i]) {
				lines++
			}
			weight += history.Weight(&p.Events[i])
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if lines != 20*5 || weight != 3000 {
		t.Fatalf("%d lines read, %d counted; want 100 of 3000", lines, weight)
	}
	arch.mu.Lock()
	defer arch.mu.Unlock()
	if arch.of != 20 || arch.most < 8 {
		t.Fatalf("%d chunks read, at most %d at once; want the 20 wanted, many at once", arch.of, arch.most)
	}
}
