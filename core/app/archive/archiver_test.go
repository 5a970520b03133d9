package archive_test

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/blastlog/blastlog/core/app/archive"
	"github.com/blastlog/blastlog/core/app/history"
	"github.com/blastlog/blastlog/core/event"
	"github.com/blastlog/blastlog/core/job"
	"github.com/blastlog/blastlog/ports"
	"github.com/blastlog/blastlog/ports/portstest"
)

type stack struct {
	log   *portstest.EventLog
	jobs  *portstest.JobDirectory
	coord *portstest.Coordination
	arch  *portstest.Archive
	curs  *portstest.Cursors
}

func newStack() *stack {
	return &stack{log: archivingLog(100), jobs: portstest.NewJobDirectory(), coord: portstest.NewCoordination(),
		arch: portstest.NewArchive(), curs: portstest.NewCursors()}
}

func (s *stack) archiver(holder string) *archive.Archiver {
	return &archive.Archiver{Log: s.log, Tail: s.log, Keeper: s.log, Cursors: s.curs, Archive: s.arch, Index: s.arch,
		Leases: s.coord, Jobs: s.jobs, Active: s.coord,
		Config: archive.Config{Holder: holder, ChunkEvents: 50, Flush: 30 * time.Millisecond,
			Scan: 20 * time.Millisecond, LeaseTTL: 600 * time.Millisecond, Block: 10 * time.Millisecond}}
}

func (s *stack) reader() *history.Reader {
	return &history.Reader{Log: s.log, Archive: s.arch, Index: s.arch}
}

func (s *stack) write(t testing.TB, jobID string, from, n int, phase string) {
	t.Helper()
	for i := 0; i < n; i += 100 {
		var evs []event.Event
		for k := i; k < min(n, i+100); k++ {
			e := portstest.Event(jobID, fmt.Sprintf("line %d", from+k))
			e.Phase = phase
			evs = append(evs, e)
		}
		if _, err := s.log.Append(context.Background(), jobID, evs); err != nil {
			t.Fatal(err)
		}
	}
}

// readAll reads the run through the read path, failing on a gap.
func readAll(t testing.TB, r *history.Reader, jobID string) []string {
	t.Helper()
	var out []string
	err := r.Scan(context.Background(), jobID, event.ID{}, 333, func(p history.Page) error {
		if p.Gap != nil {
			t.Fatalf("gap %+v after %d events", *p.Gap, len(out))
		}
		for _, e := range p.Events {
			out = append(out, e.Line)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func waitFor(t testing.TB, what string, d time.Duration, f func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !f() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// waitComplete waits until the run's index says it is complete.
func (s *stack) waitComplete(t testing.TB, jobID string) {
	t.Helper()
	waitFor(t, jobID+"'s index to be complete", 15*time.Second, func() bool {
		idx, _, err := s.arch.Index(context.Background(), jobID)
		return err == nil && idx.Complete
	})
}

func checkSequence(t testing.TB, got []string, want int) {
	t.Helper()
	if len(got) != want {
		t.Fatalf("%d events, want %d", len(got), want)
	}
	for i, l := range got {
		if l != fmt.Sprintf("line %d", i) {
			t.Fatalf("event %d is %q", i, l)
		}
	}
}

// A run far larger than what the stream keeps is whole through the read path once
// it is archived: the archiver trims behind its cursor, never past it.
func TestRunIsWholeAfterTrimming(t *testing.T) {
	s := newStack()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	s.jobs.Register(ctx, job.Record{JobID: "big", OwnerOID: "o"})
	a := s.archiver("a")
	go a.Run(ctx)
	s.write(t, "big", 0, 500, event.PhaseStagingDB)
	s.write(t, "big", 500, 4000, event.PhaseRunning)
	s.write(t, "big", 4500, 50, event.PhaseExportingResults)
	s.jobs.SetStatus(ctx, "big", job.Completed)
	s.waitComplete(t, "big")
	if first, _, _ := s.log.Bounds(ctx, "big"); first.IsZero() {
		t.Fatal("the stream is empty")
	}
	held, _ := s.log.Read(ctx, "big", event.ID{}, 1<<20)
	if len(held) > 200 {
		t.Errorf("the stream still holds %d events: not trimmed behind the cursor", len(held))
	}
	checkSequence(t, readAll(t, s.reader(), "big"), 4550)
	idx, _, _ := s.arch.Index(ctx, "big")
	if idx.Count != 4550 || idx.Summary.Steps[event.PhaseStagingDB].Count != 500 || idx.Record.Status != job.Completed ||
		idx.Steps[event.PhaseStagingDB].Count != 500 || idx.Steps[event.PhaseRunning].Count != 4000 {
		t.Fatalf("index count %d, staging %+v, record %+v", idx.Count, idx.Summary.Steps[event.PhaseStagingDB], idx.Record)
	}
	// The cursor kept beside the log says what the index says: the last id, and per
	// step the next chunk and the last id archived.
	cur, err := s.curs.LoadCursor(ctx, "big")
	if err != nil || cur.LastID != idx.LastID || len(cur.Steps) != len(idx.Steps) {
		t.Fatalf("cursor %+v (%v), index last id %v", cur, err, idx.LastID)
	}
	for step, si := range idx.Steps {
		last := si.Chunks[len(si.Chunks)-1].LastID
		if sc := cur.Steps[step]; sc.NextSeq != si.NextSeq || sc.LastID != last {
			t.Fatalf("step %q: cursor %+v, index next %d last %v", step, sc, si.NextSeq, last)
		}
	}
	// 4,000 lines written at once are a backlog: chunks of up to ten times 50.
	for _, c := range idx.Steps[event.PhaseRunning].Chunks {
		if c.Count > 500 {
			t.Fatalf("chunk of %d events, cap 10 × 50", c.Count)
		}
	}
}

// Two archivers race for the same runs; one is stopped mid-run and the other takes
// over from the index and the chunks: every event archived exactly once.
func TestTakeoverNeitherDuplicatesNorSkips(t *testing.T) {
	s := newStack()
	bg := context.Background()
	s.jobs.Register(bg, job.Record{JobID: "run", OwnerOID: "o"})
	ctxA, stopA := context.WithCancel(bg)
	a := s.archiver("a")
	var wg sync.WaitGroup
	wg.Add(1)
	go func() { defer wg.Done(); a.Run(ctxA) }()
	s.write(t, "run", 0, 1234, event.PhaseRunning)
	waitFor(t, "some chunks", 5*time.Second, func() bool {
		refs, _ := s.arch.Chunks(bg, "run")
		return len(refs["running"]) >= 2
	})
	stopA() // mid-run: buffered events and maybe an unindexed chunk are left behind
	wg.Wait()
	s.write(t, "run", 1234, 766, event.PhaseRunning)
	ctxB, stopB := context.WithCancel(bg)
	defer stopB()
	go s.archiver("b").Run(ctxB)
	s.jobs.SetStatus(bg, "run", job.Completed)
	s.waitComplete(t, "run")
	// The archive alone: chunk by chunk, every id once and in order.
	idx, _, _ := s.arch.Index(bg, "run")
	got, _ := s.chunkLines(t, "run", "running")
	checkSequence(t, got, 2000)
	if idx.Count != 2000 {
		t.Fatalf("index counts %d", idx.Count)
	}
}

// The archive down for a while: nothing is lost once it is back, and the stream is
// not trimmed past what was archived meanwhile.
func TestArchiveOutageLosesNothing(t *testing.T) {
	s := newStack()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	s.jobs.Register(ctx, job.Record{JobID: "r", OwnerOID: "o"})
	go s.archiver("a").Run(ctx)
	s.write(t, "r", 0, 300, event.PhaseRunning)
	waitFor(t, "a chunk", 5*time.Second, func() bool { refs, _ := s.arch.Chunks(ctx, "r"); return len(refs["running"]) > 0 })
	s.arch.SetDown(true)
	s.write(t, "r", 300, 2000, event.PhaseRunning)
	time.Sleep(300 * time.Millisecond)
	s.arch.SetDown(false)
	s.jobs.SetStatus(ctx, "r", job.Completed)
	s.waitComplete(t, "r")
	checkSequence(t, readAll(t, s.reader(), "r"), 2300)
}

// A producer that trims on its own (the Python one's MAXLEN) while nobody archives:
// the archiver records the lost range, and the read path reports it as a gap.
func TestForeignTrimIsRecordedAsAGap(t *testing.T) {
	s := newStack()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	s.jobs.Register(ctx, job.Record{JobID: "p", OwnerOID: "o"})
	ctxA, stopA := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() { s.archiver("a").Run(ctxA); close(done) }()
	s.write(t, "p", 0, 100, event.PhaseRunning)
	waitFor(t, "the first events indexed", 5*time.Second, func() bool {
		idx, _, err := s.arch.Index(ctx, "p")
		return err == nil && idx.Count == 100
	})
	stopA()
	<-done
	s.write(t, "p", 100, 500, event.PhaseRunning)
	s.log.Trim("p", 200) // lines 100..399 are gone before anyone archived them
	go s.archiver("b").Run(ctx)
	s.jobs.SetStatus(ctx, "p", job.Completed)
	s.waitComplete(t, "p")
	idx, _, _ := s.arch.Index(ctx, "p")
	if len(idx.Gaps) != 1 || idx.Gaps[0].Lost != 300 {
		t.Fatalf("gaps %+v, want one of 300 lines", idx.Gaps)
	}
	var lines []string
	gaps := 0
	s.reader().Scan(ctx, "p", event.ID{}, 70, func(p history.Page) error {
		if p.Gap != nil {
			gaps++
			if len(lines) != 100 {
				t.Errorf("gap after %d events", len(lines))
			}
		}
		for _, e := range p.Events {
			lines = append(lines, e.Line)
		}
		return nil
	})
	if gaps != 1 || len(lines) != 300 || lines[100] != "line 400" {
		t.Fatalf("%d gaps, %d lines, lines[100] %q", gaps, len(lines), lines[100])
	}
}

// archivingLog is a hot tier capped at maxLen while an archiver runs: appends trim
// nothing, TrimArchived trims behind the cursor down to maxLen.
func archivingLog(maxLen int) *portstest.EventLog {
	l := portstest.NewEventLog(maxLen)
	l.Archiving = true
	return l
}

// Without an archive the archiver keeps each run's summary alone: every event counted
// once in the kept index, no chunk written, and the stream trimmed behind what it
// counted; with one, each index written is copied to the kept summaries too.
func TestSummaryKeptWithoutAndWithAnArchive(t *testing.T) {
	for _, withArchive := range []bool{false, true} {
		t.Run(fmt.Sprintf("archive=%v", withArchive), func(t *testing.T) {
			s := newStack()
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			kept := portstest.NewArchive() // an IndexStore, as the hot tier's summaries are
			s.jobs.Register(ctx, job.Record{JobID: "k", OwnerOID: "o"})
			a := s.archiver("a")
			if withArchive {
				a.Summaries = kept
			} else {
				a.Archive, a.Index = nil, kept
			}
			go a.Run(ctx)
			s.write(t, "k", 0, 3000, event.PhaseRunning)
			s.jobs.SetStatus(ctx, "k", job.Completed)
			waitFor(t, "the kept summary to be complete", 10*time.Second, func() bool {
				idx, _, err := kept.Index(ctx, "k")
				return err == nil && idx.Complete && idx.Count == 3000
			})
			idx, _, _ := kept.Index(ctx, "k")
			if idx.Summary.Steps[event.PhaseRunning].Count != 3000 || idx.Record.Status != job.Completed {
				t.Fatalf("kept %+v record %+v", idx.Summary.Steps[event.PhaseRunning], idx.Record)
			}
			chunks, _ := s.arch.Chunks(ctx, "k")
			if n := len(chunks[event.PhaseRunning]); withArchive != (n > 0) {
				t.Fatalf("%d chunks written (archive %v)", n, withArchive)
			}
			if held, _ := s.log.Read(ctx, "k", event.ID{}, 1<<20); len(held) > 200 {
				t.Fatalf("the stream still holds %d events: not trimmed behind what was counted", len(held))
			}
		})
	}
}

// gatedTail is the log's tail, read only while the test does not hold mu.
type gatedTail struct {
	*portstest.EventLog
	mu *sync.RWMutex
}

func (g gatedTail) Tail(ctx context.Context, after map[string]event.ID, count int, block time.Duration) (map[string][]event.Event, error) {
	g.mu.RLock()
	defer g.mu.RUnlock()
	return g.EventLog.Tail(ctx, after, count, block)
}

// Lines trimmed by another writer between two of the archiver's reads, while it runs,
// are a gap with their count, never a silent hole: the next read starts past them.
func TestTrimBetweenReadsIsAGapWithItsCount(t *testing.T) {
	s := newStack()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	s.jobs.Register(ctx, job.Record{JobID: "q", OwnerOID: "o"})
	var mu sync.RWMutex
	a := s.archiver("a")
	a.Tail = gatedTail{s.log, &mu}
	go a.Run(ctx)
	a.Watch("q")
	s.write(t, "q", 0, 100, event.PhaseRunning)
	waitFor(t, "the first events read", 5*time.Second, func() bool {
		idx, _, err := s.arch.Index(ctx, "q")
		return err == nil && idx.Count == 100
	})
	for round := range 3 {
		mu.Lock() // no read between the writes and the trim
		s.write(t, "q", 100+round*500, 500, event.PhaseRunning)
		s.log.Trim("q", 200) // the oldest 300 of them are gone unread
		mu.Unlock()
		waitFor(t, "the round read", 5*time.Second, func() bool {
			idx, _, err := s.arch.Index(ctx, "q")
			return err == nil && idx.Count == int64(100+(round+1)*200)
		})
	}
	s.jobs.SetStatus(ctx, "q", job.Completed)
	s.waitComplete(t, "q")
	idx, _, _ := s.arch.Index(ctx, "q")
	if len(idx.Gaps) != 3 {
		t.Fatalf("gaps %+v", idx.Gaps)
	}
	var lost int64
	for _, g := range idx.Gaps {
		lost += g.Lost
		if g.Lost != 300 {
			t.Errorf("gap %+v: want 300 lost", g)
		}
	}
	var lines []string
	s.reader().Scan(ctx, "q", event.ID{}, 70, func(p history.Page) error {
		if p.Gap != nil && p.Gap.Lost != 300 {
			t.Errorf("the read path's gap %+v", *p.Gap)
		}
		for _, e := range p.Events {
			lines = append(lines, e.Line)
		}
		return nil
	})
	if len(lines) != 700 || lost != 900 || lines[100] != "line 400" {
		t.Fatalf("%d lines (and %d lost), line 100 %q", len(lines), lost, lines[100])
	}
}

// blindTally is a log that counts nothing and does not say its first id (an
// in-process Redis's XINFO STREAM).
type blindTally struct{ *portstest.EventLog }

func (b blindTally) Tally(_ context.Context, jobIDs []string) ([]ports.LogTally, error) {
	return make([]ports.LogTally, len(jobIDs)), nil
}

// A log that cannot tell what it dropped records no gap: a run read whole, batch
// after batch across milliseconds, is archived without one.
func TestNoGapFromALogThatCannotTell(t *testing.T) {
	s := newStack()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	s.jobs.Register(ctx, job.Record{JobID: "b", OwnerOID: "o"})
	a := s.archiver("a")
	a.Keeper = blindTally{s.log}
	go a.Run(ctx)
	a.Watch("b")
	for i := range 5 {
		s.write(t, "b", i*100, 100, event.PhaseRunning)
		time.Sleep(15 * time.Millisecond) // each batch read on its own, ids a few ms apart
	}
	s.jobs.SetStatus(ctx, "b", job.Completed)
	s.waitComplete(t, "b")
	if idx, _, _ := s.arch.Index(ctx, "b"); len(idx.Gaps) != 0 || idx.Count != 500 {
		t.Fatalf("%d events, gaps %+v", idx.Count, idx.Gaps)
	}
	checkSequence(t, readAll(t, s.reader(), "b"), 500)
}
