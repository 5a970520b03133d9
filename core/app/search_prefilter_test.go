package app

import (
	"bytes"
	"context"
	"fmt"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/blastlog/blastlog/core/app/history"
	"github.com/blastlog/blastlog/core/chunk"
	"github.com/blastlog/blastlog/core/event"
	"github.com/blastlog/blastlog/core/summary"
	"github.com/blastlog/blastlog/ports"
	"github.com/blastlog/blastlog/ports/portstest"
)

// reordered is an archive whose chunks are not in the encoder's field order: the skim
// cannot read them, so every chunk is decoded — the search without its prefilter.
type reordered struct{ *portstest.Archive }

func (r reordered) Chunk(ctx context.Context, jobID, step string, seq int) ([]byte, error) {
	b, err := r.Archive.Chunk(ctx, jobID, step, seq)
	return bytes.ReplaceAll(b, []byte(`{"id":"`), []byte(`{"schema_version":1,"id":"`)), err
}

var _ ports.Archive = reordered{}

// held is a stream that holds evs, the run's newest events.
type held struct {
	*portstest.EventLog
	evs []event.Event
}

func (h held) ReadHeld(_ context.Context, _ string, after event.ID, count int) ([]event.Event, event.ID, error) {
	i := sort.Search(len(h.evs), func(i int) bool { return h.evs[i].ID.Compare(after) > 0 })
	return h.evs[i:min(len(h.evs), i+count)], h.evs[0].ID, nil
}

// counted serves an index with the chunks' issue counts (chunk.RefOf).
type counted struct {
	*portstest.Archive
	idx chunk.Index
}

func (c counted) Index(context.Context, string) (chunk.Index, string, error) { return c.idx, "1", nil }

// The prefilter changes nothing a search finds, on lines that JSON escapes, non-ASCII,
// \u sequences, runes that lower-case into ASCII, and notices found by their reason.
func TestSearchPrefilterFindsWhatDecodingFinds(t *testing.T) {
	lines := []string{
		`plain BLAST line`, `say "Hello" to the "db"`, `C:\tmp\new\file.fa`, `a \" b \\ c`, "tab\tseparated\tcolumns",
		"ünïcødé ÄÖÜ ß", "ZAP\u2028line separator", `literal \u0041 escape text`, "\u212aELVIN sign", "\u0130STANBUL",
		`ERROR: db missing`, `Warning: low score`, `exit code 3 from blastn`, `{"id":"9-9"} inside`, `,"phase":"x" inside`,
	}
	arch := portstest.NewArchive()
	ctx := context.Background()
	idx := chunk.NewIndex("run-p")
	var all []event.Event
	steps := []string{event.PhaseRunning, event.PhaseStagingDB}
	for s, step := range steps {
		for seq := 0; seq < 5; seq++ {
			c := chunk.Chunk{SchemaVersion: 1, JobID: "run-p", Step: step, Sequence: seq, CreatedAt: time.Now()}
			for i := 0; i < 40; i++ {
				n := (seq*40+i)*2 + s // the two steps interleave by id
				text := lines[n%len(lines)]
				quiet := s == 1 && seq >= 3 // chunks without an issue, which an index with counts lets a search skip
				if quiet {
					text = lines[n%2]
				}
				e := portstest.Event("run-p", fmt.Sprintf("%d %s", n, text))
				e.Phase, e.ID = step, event.ID{MS: 1000 + uint64(n)}
				if n%37 == 0 && !quiet {
					e.Source, e.Notice, e.Line = event.SourceSystem, event.NoticeContainerEnded, fmt.Sprintf("b-%d ended", n)
					e.Ended = &event.Ended{ExitCode: 137, Reason: "OOMKilled", Completeness: event.Complete}
				}
				c.Events = append(c.Events, e)
			}
			if err := arch.PutChunk(ctx, c); err != nil {
				t.Fatal(err)
			}
			si := idx.Steps[step]
			if si == nil {
				si = &chunk.StepIndex{}
				idx.Steps[step] = si
			}
			si.Chunks = append(si.Chunks, chunk.Ref{Seq: seq, FirstID: c.Events[0].ID, LastID: c.Events[len(c.Events)-1].ID, Count: len(c.Events)})
			si.NextSeq = seq + 1
			all = append(all, c.Events...)
		}
	}
	sort.Slice(all, func(i, j int) bool { return all[i].ID.Compare(all[j].ID) < 0 })
	idx.LastID, idx.Count, idx.Complete = all[len(all)-1].ID, int64(len(all)), true
	if _, err := arch.PutIndex(ctx, idx, ""); err != nil {
		t.Fatal(err)
	}
	ts, _ := newTickets(t)
	log := portstest.NewEventLog(0)
	// The same run with the index's issue counts, as blastlog's archiver writes it.
	counted := counted{Archive: arch, idx: idx}
	counted.idx.Steps = map[string]*chunk.StepIndex{}
	for step, si := range idx.Steps {
		cs := *si
		cs.Chunks = nil
		for _, ref := range si.Chunks {
			raw, err := arch.Chunk(ctx, "run-p", step, ref.Seq)
			c, derr := chunk.Decode(raw)
			if err != nil || derr != nil {
				t.Fatal(err, derr)
			}
			cs.Chunks = append(cs.Chunks, chunk.RefOf(&c))
		}
		counted.idx.Steps[step] = &cs
	}
	// With the run's summary, each step is known to hold one phase: a refused chunk
	// is one skeleton, and with issue counts some are not even read.
	counted.idx.Summary = summary.New()
	for i := range all {
		counted.idx.Summary.Add(&all[i])
	}
	// The same, live: the stream still holds the last 100 events, from inside chunks.
	live := &Reads{Access: ts.Access, History: &history.Reader{Log: held{log, all[len(all)-100:]}, Archive: arch, Index: counted}}
	with := &Reads{Access: ts.Access, History: &history.Reader{Log: log, Archive: arch, Index: arch}}
	withCounts := &Reads{Access: ts.Access, History: &history.Reader{Log: log, Archive: arch, Index: counted}}
	without := &Reads{Access: ts.Access, History: &history.Reader{Log: log, Archive: reordered{arch}, Index: arch}}
	for _, q := range []SearchQuery{
		{Q: "hello"}, {Q: `"hello"`}, {Q: `say "hello" to`}, {Q: `c:\tmp`}, {Q: `\"`}, {Q: `\\`}, {Q: "\t"}, {Q: "tab\tsep"},
		{Q: "ünïcødé"}, {Q: "äöü"}, {Q: "\u2028"}, {Q: "u2028"}, {Q: `\u0041`}, {Q: "u0041"}, {Q: "kelvin"}, {Q: "k"},
		{Q: "istanbul"}, {Q: "i"}, {Q: "oomkilled"}, {Q: "137"}, {Q: `{"id":"`}, {Q: `"phase":"`}, {Q: "nothing at all"},
		{Issues: true}, {Q: "db", Issues: true}, {Q: "line", Limit: 7}, {Q: "blast", Phase: event.PhaseStagingDB},
	} {
		t.Run(fmt.Sprintf("%q issues=%v", q.Q, q.Issues), func(t *testing.T) {
			var want []string
			lineNo := map[string]int64{}
			qq := q
			if err := qq.Validate(); err != nil {
				t.Fatal(err)
			}
			for i := range all {
				e := &all[i]
				lineNo[summary.StepOf(e)]++
				if qq.matches(e, strings.ToLower(q.Q)) {
					want = append(want, fmt.Sprintf("%s#%d", e.ID, lineNo[summary.StepOf(e)]))
				}
			}
			every := want
			truncated := len(want) > qq.Limit
			if truncated {
				want = want[:qq.Limit]
			}
			for name, r := range map[string]*Reads{"prefiltered": with, "counted": withCounts, "live": live, "decoded": without} {
				res, err := r.Search(ctx, "run-p", q)
				if err != nil {
					t.Fatal(err)
				}
				var got []string
				for _, m := range res.Matches {
					got = append(got, fmt.Sprintf("%s#%d", m.ID, m.LineNo))
				}
				if strings.Join(got, " ") != strings.Join(want, " ") {
					t.Fatalf("%s: got %v\nwant %v", name, got, want)
				}
				if !truncated && res.Scanned != int64(len(all)) {
					t.Fatalf("%s: scanned %d of %d", name, res.Scanned, len(all))
				}
				// Page by page, 3 at a time: from where the last page left its line
				// counts, and from the run's start (another replica).
				for _, fresh := range []bool{false, true} {
					got = nil
					pq := q
					pq.Limit = 3
					for {
						pr := r
						if fresh {
							pr = &Reads{Access: r.Access, History: r.History}
						}
						res, err := pr.Search(ctx, "run-p", pq)
						if err != nil {
							t.Fatal(err)
						}
						for _, m := range res.Matches {
							got = append(got, fmt.Sprintf("%s#%d", m.ID, m.LineNo))
						}
						if !res.Truncated {
							break
						}
						pq.After = res.NextAfter.String()
					}
					if strings.Join(got, " ") != strings.Join(every, " ") {
						t.Fatalf("%s paged (fresh %v): got %v\nwant %v", name, fresh, got, every)
					}
				}
			}
		})
	}
}

// delayed answers each chunk d late, or when the reader goes away.
type delayed struct {
	*portstest.Archive
	d time.Duration
}

func (s delayed) Chunk(ctx context.Context, jobID, step string, seq int) ([]byte, error) {
	select {
	case <-time.After(s.d):
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	return s.Archive.Chunk(ctx, jobID, step, seq)
}

// A search out of time stops where it is and says truncated; the next pages, each
// from the last one's next_after, find every match with its line number, as one
// search with time enough does.
func TestSearchOutOfTimeResumes(t *testing.T) {
	r, rec := benchRunOf(t, 10_000, func(i, _ int) string {
		return fmt.Sprintf("line %d %s", i, map[bool]string{true: "needle"}[i%997 == 5])
	})
	ctx := context.Background()
	whole, err := r.Search(ctx, rec.JobID, SearchQuery{Q: "needle", Limit: SearchMaxLimit})
	if err != nil || whole.Truncated || len(whole.Matches) != 11 {
		t.Fatalf("with time enough: %v %v %d", err, whole.Truncated, len(whole.Matches))
	}
	h := r.History
	slow := &Reads{SearchTime: 60 * time.Millisecond, History: &history.Reader{Log: h.Log, Index: h.Index, Window: 1, MaxFetches: 1,
		Archive: delayed{h.Archive.(*portstest.Archive), 10 * time.Millisecond}}}
	var got []Match
	q := SearchQuery{Q: "needle", Limit: SearchMaxLimit}
	pages, outOfTime := 0, 0
	for ; pages < 500; pages++ {
		res, err := slow.Search(ctx, rec.JobID, q)
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, res.Matches...)
		if !res.Truncated {
			break
		}
		if res.Scanned < 10_000 && len(res.Matches) < q.Limit {
			outOfTime++
		}
		q.After = res.NextAfter.String()
	}
	if outOfTime == 0 {
		t.Fatalf("no page ran out of time in %d pages", pages)
	}
	if len(got) != len(whole.Matches) {
		t.Fatalf("%d matches over %d pages, want %d", len(got), pages, len(whole.Matches))
	}
	for i := range got {
		if got[i].ID != whole.Matches[i].ID || got[i].LineNo != whole.Matches[i].LineNo {
			t.Fatalf("match %d: %s#%d, want %s#%d", i, got[i].ID, got[i].LineNo, whole.Matches[i].ID, whole.Matches[i].LineNo)
		}
	}
}
