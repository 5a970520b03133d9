package app

import (
	"context"
	"fmt"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/blastlog/blastlog/core/app/history"
	"github.com/blastlog/blastlog/core/chunk"
	"github.com/blastlog/blastlog/core/event"
	"github.com/blastlog/blastlog/core/job"
	"github.com/blastlog/blastlog/ports/portstest"
	"golang.org/x/sync/errgroup"
)

// benchRun is an archived run of n BLAST-like lines in memory, for profiling the read
// path without a store's I/O (functions/stream's BenchmarkRead measures it with one).
func benchRun(b testing.TB, n int) (*Reads, job.Record) {
	return benchRunOf(b, n, blastLine)
}

// blastLine is line i of benchRun's n: tabular hits, a few errors and warnings, and one
// line "the only deep-needle of the run".
func blastLine(i, n int) string {
	line := fmt.Sprintf("Query_%d\tgi|%d|ref|NC_%06d.1|\t%.2f\t%d\t1e-%d", i, 100000+i%9000, i%50000, 90+float64(i%100)/10, 100+i%400, 40+i%60)
	switch {
	case i%50_000 == 17:
		line = fmt.Sprintf("ERROR: batch_%03d: BLAST engine error on Query_%d", i%300, i)
	case i%20_000 == 11:
		line = fmt.Sprintf("Warning: [blastn] Query_%d: Could not calculate ungapped Karlin-Altschul parameters", i)
	case i == n*7/10:
		line = "the only deep-needle of the run"
	}
	return line
}

// benchRunOf is benchRun with line(i, n) as line i.
func benchRunOf(b testing.TB, n int, line func(i, n int) string) (*Reads, job.Record) {
	b.Helper()
	ctx := context.Background()
	arch := portstest.NewArchive()
	idx := chunk.NewIndex("run-b")
	steps := []string{event.PhaseStagingDB, event.PhaseRunning, event.PhaseExportingResults}
	bufs := map[string][]event.Event{}
	flush := func(step string) {
		si := idx.Steps[step]
		if si == nil {
			si = &chunk.StepIndex{}
			idx.Steps[step] = si
		}
		c := chunk.Chunk{SchemaVersion: 1, JobID: "run-b", Step: step, Sequence: si.NextSeq, Events: bufs[step], CreatedAt: time.Now()}
		si.Chunks = append(si.Chunks, chunk.RefOf(&c))
		si.NextSeq++
		bufs[step] = nil
		if err := arch.PutChunk(ctx, c); err != nil {
			b.Fatal(err)
		}
	}
	for i := 0; i < n; i++ {
		step := steps[min(2, i*3/n)]
		if i%10 == 3 {
			step = steps[0]
		}
		e := portstest.Event("run-b", line(i, n))
		e.Source, e.Pod, e.Container = event.SourceK8s, fmt.Sprintf("blastn-batch-s%02d-job-%03d-3ed51a95-h4j5k", i%4, i%300), "blast"
		e.Phase, e.ID = step, event.ID{MS: 1_700_000_000_000 + uint64(i)}
		bufs[step] = append(bufs[step], e)
		idx.Summary.Add(&e)
		idx.LastID, idx.Count = e.ID, idx.Count+1
		if len(bufs[step]) == 500 {
			flush(step)
		}
	}
	for _, s := range steps {
		if len(bufs[s]) > 0 {
			flush(s)
		}
	}
	idx.Complete = true
	if _, err := arch.PutIndex(ctx, idx, ""); err != nil {
		b.Fatal(err)
	}
	return &Reads{History: &history.Reader{Log: portstest.NewEventLog(0), Archive: arch, Index: arch}},
		job.Record{JobID: "run-b", Status: job.Completed}
}

// BenchmarkReadPath: search, issues=1 and download of a 200,000-line archived run in
// memory (ns/op is the whole run; go test -cpuprofile shows where it goes).
func BenchmarkReadPath(b *testing.B) {
	r, rec := benchRun(b, 200_000)
	ctx := context.Background()
	b.Run("search-deep", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			res, err := r.Search(ctx, rec.JobID, SearchQuery{Q: "deep-needle"})
			if err != nil || len(res.Matches) != 1 {
				b.Fatal(err, len(res.Matches))
			}
		}
	})
	b.Run("issues", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			res, err := r.Search(ctx, rec.JobID, SearchQuery{Issues: true, Limit: SearchMaxLimit})
			if err != nil || len(res.Matches) != 14 {
				b.Fatal(err, len(res.Matches))
			}
		}
	})
	for _, f := range []string{FormatText, FormatNDJSON} {
		b.Run("download-"+f, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := r.Download(ctx, rec, io.Discard, DownloadQuery{Format: f}); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// slowArchive answers each chunk d late, as a store across a network does.
type slowArchive struct {
	*portstest.Archive
	d time.Duration
}

func (s slowArchive) Chunk(ctx context.Context, jobID, step string, seq int) ([]byte, error) {
	time.Sleep(s.d)
	return s.Archive.Chunk(ctx, jobID, step, seq)
}

// BenchmarkReadPathLatency: the same reads with every chunk 20 ms away; the window of
// chunks fetched ahead should make the latency cost (chunks / Window) × 20 ms.
func BenchmarkReadPathLatency(b *testing.B) {
	r, rec := benchRun(b, 200_000)
	h := r.History
	r.History = &history.Reader{Log: h.Log, Archive: slowArchive{h.Archive.(*portstest.Archive), 20 * time.Millisecond}, Index: h.Index}
	ctx := context.Background()
	b.Run("search-deep", func(b *testing.B) {
		for b.Loop() {
			if res, err := r.Search(ctx, rec.JobID, SearchQuery{Q: "deep-needle"}); err != nil || len(res.Matches) != 1 {
				b.Fatal(err)
			}
		}
	})
	b.Run("download-text", func(b *testing.B) {
		for b.Loop() {
			if _, err := r.Download(ctx, rec, io.Discard, DownloadQuery{}); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// BenchmarkSearchAdversarial: searches built to defeat a matcher that restarts at every
// place, over 15,000 lines of 3,990 × "a" then "b" (60 MB): a long near-match, a
// repeated prefix, and a miss for comparison. Linear: all cost about the same per
// byte. "parallel" is 16 of them at once, as two owners would start them.
func BenchmarkSearchAdversarial(b *testing.B) {
	r, rec := benchRunOf(b, 15_000, func(int, int) string { return strings.Repeat("a", 3990) + "b" })
	ctx := context.Background()
	for _, c := range []struct{ name, q string }{
		{"near-match", strings.Repeat("a", 199) + "c"},
		{"repeated-prefix", strings.Repeat("ab", 99) + "c"},
		{"miss", "zzz"},
	} {
		b.Run(c.name, func(b *testing.B) {
			b.SetBytes(15_000 * 3991)
			for b.Loop() {
				res, err := r.Search(ctx, rec.JobID, SearchQuery{Q: c.q})
				if err != nil || len(res.Matches) != 0 || res.Scanned != 15_000 {
					b.Fatal(err, len(res.Matches), res.Scanned)
				}
			}
		})
	}
	b.Run("parallel-16", func(b *testing.B) {
		b.SetBytes(16 * 15_000 * 3991)
		for b.Loop() {
			var g errgroup.Group
			for range 16 {
				g.Go(func() error {
					_, err := r.Search(ctx, rec.JobID, SearchQuery{Q: strings.Repeat("a", 199) + "c"})
					return err
				})
			}
			if err := g.Wait(); err != nil {
				b.Fatal(err)
			}
		}
	})
}
