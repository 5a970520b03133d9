package main

import (
	"compress/gzip"
	"context"
	"fmt"
	"io"
	"path/filepath"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/blastlog/blastlog/adapters/archive/azblob"
	"github.com/blastlog/blastlog/adapters/archive/azblob/azuritetest"
	"github.com/blastlog/blastlog/adapters/archive/fsdir"
	"github.com/blastlog/blastlog/adapters/redisstore"
	"github.com/blastlog/blastlog/core/app"
	"github.com/blastlog/blastlog/core/app/archive"
	"github.com/blastlog/blastlog/core/app/fanout"
	"github.com/blastlog/blastlog/core/app/history"
	"github.com/blastlog/blastlog/core/chunk"
	"github.com/blastlog/blastlog/core/event"
	"github.com/blastlog/blastlog/core/job"
	"github.com/blastlog/blastlog/ports"
	"github.com/blastlog/blastlog/ports/portstest"
)

// BenchmarkArchiveThroughput: one run written at 50,000 lines/s for 4 s by pipelined
// XADDs while the archiver copies it into a directory or into Azurite. Reported: the
// largest lag seen (events written to the stream but not yet in a chunk, sampled
// every 100 ms; the index itself follows every BLASTLOG_ARCHIVE_FLUSH) and how long
// after the last write the index is complete.
func BenchmarkArchiveThroughput(b *testing.B) {
	for _, backend := range []string{"dir", "azurite"} {
		b.Run(backend, func(b *testing.B) {
			for i := 0; i < b.N; i++ {
				archiveThroughput(b, backend)
			}
		})
	}
}

// archiveBench is the run "bench" registered in a real redis-server, an empty archive
// of the backend, and the archiver's Redis state.
type archiveBench struct {
	s     *stack
	st    portstest.ArchiveStore
	cfg   redisstore.Config
	log   *redisstore.EventLog
	jobs  *redisstore.JobDirectory
	state *redisstore.ArchiveState
}

func newArchiveBench(b *testing.B, backend string, maxLen int64) *archiveBench {
	s := newStack(b)
	s.srv.RequireReal(b)
	cfg := redisstore.Config{MaxLen: maxLen}
	ab := &archiveBench{s: s, st: benchArchive(b, backend), cfg: cfg, log: redisstore.NewEventLog(s.rdb, cfg),
		jobs: redisstore.NewJobDirectory(s.rdb, cfg), state: redisstore.NewArchiveState(s.rdb, cfg)}
	ab.jobs.Register(context.Background(), job.Record{JobID: "bench", OwnerOID: owner})
	return ab
}

// archiver copies into to (the archive, or a wrapper of it).
func (ab *archiveBench) archiver(to ports.Archive) *archive.Archiver {
	return &archive.Archiver{Log: ab.log, Tail: ab.log, Keeper: ab.state, Cursors: ab.state, Archive: to, Index: ab.st,
		Leases: redisstore.NewLeases(ab.s.rdb, ab.cfg, "archlease"), Jobs: ab.jobs, Active: redisstore.NewCoordination(ab.s.rdb, ab.cfg),
		Config: archive.Config{Holder: "bench", Poll: 100 * time.Millisecond}}
}

func archiveThroughput(b *testing.B, backend string) {
	ab := newArchiveBench(b, backend, 1_000_000)
	st, log, jobs := ab.st, ab.log, ab.jobs
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	putter := &countingPuts{ArchiveStore: st}
	a := ab.archiver(putter)
	go a.Run(ctx)
	a.Watch("bench")
	const rate, secs = 50_000, 4
	total := rate * secs
	var maxLag atomic.Int64
	var written atomic.Int64
	stop := make(chan struct{})
	go func() {
		for {
			select {
			case <-stop:
				return
			case <-time.After(100 * time.Millisecond):
			}
			if lag := written.Load() - putter.events.Load(); lag > maxLag.Load() {
				maxLag.Store(lag)
			}
		}
	}()
	b.ResetTimer()
	start := time.Now()
	batch := make([]event.Event, 500)
	for i := 0; i < total; i += len(batch) {
		if wait := time.Until(start.Add(time.Duration(i) * time.Second / rate)); wait > 0 {
			time.Sleep(wait)
		}
		for k := range batch {
			e := portstest.Event("bench", fmt.Sprintf("line %07d of a BLAST batch job's output", i+k))
			e.Phase = event.PhaseRunning
			batch[k] = e
		}
		if _, err := log.Append(ctx, "bench", batch); err != nil {
			b.Fatal(err)
		}
		written.Add(int64(len(batch)))
	}
	wroteAt := time.Now()
	jobs.SetStatus(ctx, "bench", job.Completed)
	for {
		if x, _, err := st.Index(ctx, "bench"); err == nil && x.Complete && x.Count == int64(total) {
			break
		}
		if time.Since(wroteAt) > time.Minute {
			b.Fatal("the archiver did not finish within a minute")
		}
		time.Sleep(20 * time.Millisecond)
	}
	close(stop)
	b.StopTimer()
	b.ReportMetric(float64(total)/wroteAt.Sub(start).Seconds(), "written-lines/s")
	b.ReportMetric(float64(maxLag.Load()), "max-lag-events")
	b.ReportMetric(float64(time.Since(wroteAt).Milliseconds()), "drain-ms")
}

// fillArchive writes n events of one run straight into a directory archive (chunks of
// 500 in three steps, and the index), as the archiver would have.
func fillArchive(b *testing.B, dir, jobID string, n int) *fsdir.Dir {
	b.Helper()
	d, err := fsdir.New(dir)
	if err != nil {
		b.Fatal(err)
	}
	writeRun(b, d, jobID, n, func(i int) event.Event {
		return portstest.Event(jobID, fmt.Sprintf("line %07d: blastn -query batch_%03d.fa -db core_nt", i, i%300))
	})
	return d
}

// BenchmarkDownloadMillion: the text download (gzip) of a 1,000,000-line run from the
// directory archive, Redis holding nothing of it. Reported: lines/s and the peak heap
// in use during the download (sampled).
func BenchmarkDownloadMillion(b *testing.B) {
	s := newStack(b)
	const n = 1_000_000
	d := fillArchive(b, filepath.Join(b.TempDir(), "archive"), "million", n)
	reads := &app.Reads{History: &history.Reader{Log: redisstore.NewEventLog(s.rdb, redisstore.Config{}), Archive: d, Index: d}}
	rec := job.Record{JobID: "million", OwnerOID: owner, Status: job.Completed}
	runtime.GC()
	var base runtime.MemStats
	runtime.ReadMemStats(&base)
	var peak atomic.Uint64
	stop := make(chan struct{})
	go func() {
		var m runtime.MemStats
		for {
			select {
			case <-stop:
				return
			case <-time.After(20 * time.Millisecond):
			}
			runtime.ReadMemStats(&m)
			if m.HeapInuse > peak.Load() {
				peak.Store(m.HeapInuse)
			}
		}
	}()
	b.ResetTimer()
	start := time.Now()
	var lines int64
	for i := 0; i < b.N; i++ {
		zw := gzip.NewWriter(io.Discard)
		got, err := reads.Download(context.Background(), rec, zw, app.DownloadQuery{Format: app.FormatText})
		if err != nil || got.Count != n || !got.Complete {
			b.Fatalf("download: %+v %v", got, err)
		}
		zw.Close()
		lines += got.Count
	}
	b.StopTimer()
	close(stop)
	b.ReportMetric(float64(lines)/time.Since(start).Seconds(), "lines/s")
	b.ReportMetric(float64(peak.Load()-min(peak.Load(), base.HeapInuse))/(1<<20), "peak-heap-MiB")
}

// BenchmarkCatchUpFromArchive: 1,000 viewers each resuming 1,000 events before the end
// of a 200,000-event run that only the archive holds. Reported: the time until every
// viewer has its 1,000 events, and the chunks read from storage.
func BenchmarkCatchUpFromArchive(b *testing.B) {
	s := newStack(b)
	const n, viewersN, back = 200_000, 1000, 1000
	d := fillArchive(b, filepath.Join(b.TempDir(), "archive"), "catchup", n)
	counting := &countingArchive{Dir: d}
	cfg := redisstore.Config{}
	log := redisstore.NewEventLog(s.rdb, cfg)
	idx, _, _ := d.Index(context.Background(), "catchup")
	var all []chunk.Ref
	for _, si := range idx.Steps {
		all = append(all, si.Chunks...)
	}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		counting.reads.Store(0)
		hub := &fanout.Hub{Log: log, Tail: log, Statuses: redisstore.NewJobDirectory(s.rdb, cfg), Index: d,
			History: &history.Reader{Log: log, Archive: counting, Index: d}}
		ctx, cancel := context.WithCancel(context.Background())
		go hub.Run(ctx)
		resume := event.ID{MS: idx.LastID.MS - back}
		start := time.Now()
		var wg sync.WaitGroup
		for v := 0; v < viewersN; v++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				st, err := hub.Open(ctx, "catchup", resume)
				if err != nil {
					b.Error(err)
					return
				}
				defer st.Close()
				got := 0
				for got < back {
					frames, err := st.Next(ctx, 256)
					if err != nil {
						b.Error(err)
						return
					}
					for _, f := range frames {
						if f.Kind == fanout.FrameLog {
							got++
						}
					}
				}
			}()
		}
		wg.Wait()
		b.ReportMetric(float64(time.Since(start).Milliseconds()), "ms-all-caught-up")
		b.ReportMetric(float64(counting.reads.Load()), "chunk-reads")
		cancel()
	}
}

type countingArchive struct {
	*fsdir.Dir
	reads atomic.Int64
}

func (c *countingArchive) Chunk(ctx context.Context, jobID, step string, seq int) ([]byte, error) {
	c.reads.Add(1)
	return c.Dir.Chunk(ctx, jobID, step, seq)
}

// countingPuts counts the events of the chunks written.
type countingPuts struct {
	portstest.ArchiveStore
	events atomic.Int64
}

func (c *countingPuts) PutChunk(ctx context.Context, ch chunk.Chunk) error {
	err := c.ArchiveStore.PutChunk(ctx, ch)
	if err == nil {
		c.events.Add(int64(len(ch.Events)))
	}
	return err
}

// BenchmarkSearchMillion: a whole-run search of a 1,000,000-line run from the
// directory archive, Redis holding nothing of it, for a line matching only at
// 700,000 (pages followed by next_after). Reported: lines scanned per second.
func BenchmarkSearchMillion(b *testing.B) {
	s := newStack(b)
	const n = 1_000_000
	d := fillArchive(b, filepath.Join(b.TempDir(), "archive"), "million", n)
	reads := &app.Reads{History: &history.Reader{Log: redisstore.NewEventLog(s.rdb, redisstore.Config{}), Archive: d, Index: d}}
	b.ResetTimer()
	start := time.Now()
	var scanned int64
	for i := 0; i < b.N; i++ {
		q := app.SearchQuery{Q: "LINE 0700000:"}
		var found int
		for {
			res, err := reads.Search(context.Background(), "million", q)
			if err != nil {
				b.Fatal(err)
			}
			scanned += res.Scanned
			found += len(res.Matches)
			if !res.Truncated || found > 0 {
				break
			}
			q.After = res.NextAfter.String()
		}
		if found != 1 {
			b.Fatalf("%d matches", found)
		}
	}
	b.StopTimer()
	b.ReportMetric(float64(scanned)/time.Since(start).Seconds(), "lines/s")
}

// BenchmarkArchiveBacklog: the archiver's own rate. 1,000,000 events already in one
// run's stream (a burst written faster than anyone copies it) are archived into a
// directory or into Azurite from the moment the archiver starts. Reported: events/s
// until the index is complete.
func BenchmarkArchiveBacklog(b *testing.B) {
	for _, backend := range []string{"dir", "azurite"} {
		b.Run(backend, func(b *testing.B) {
			for b.Loop() {
				archiveBacklog(b, backend, 1_000_000)
			}
		})
	}
}

func archiveBacklog(b *testing.B, backend string, n int) {
	ab := newArchiveBench(b, backend, 2_000_000)
	st, log, jobs := ab.st, ab.log, ab.jobs
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	batch := make([]event.Event, 1000)
	for i := 0; i < n; i += len(batch) {
		for k := range batch {
			e := portstest.Event("bench", fmt.Sprintf("line %07d of a BLAST batch job's output", i+k))
			e.Phase = event.PhaseRunning
			batch[k] = e
		}
		if _, err := log.Append(ctx, "bench", batch); err != nil {
			b.Fatal(err)
		}
	}
	jobs.SetStatus(ctx, "bench", job.Completed)
	a := ab.archiver(st)
	start := time.Now()
	go a.Run(ctx)
	a.Watch("bench")
	for {
		if x, _, err := st.Index(ctx, "bench"); err == nil && x.Complete && x.Count == int64(n) {
			break
		}
		if time.Since(start) > 5*time.Minute {
			b.Fatal("the archiver did not finish within 5 minutes")
		}
		time.Sleep(20 * time.Millisecond)
	}
	b.ReportMetric(float64(n)/time.Since(start).Seconds(), "archived-events/s")
}

// benchArchive is an empty archive of the backend: a directory, or Azurite.
func benchArchive(b *testing.B, backend string) portstest.ArchiveStore {
	if backend == "dir" {
		d, err := fsdir.New(filepath.Join(b.TempDir(), "archive"))
		if err != nil {
			b.Fatal(err)
		}
		return d
	}
	az := azuritetest.Start(b)
	a, err := azblob.NewFromConnectionString(az.ConnectionString(), "")
	if err != nil {
		b.Fatal(err)
	}
	a.EnsureContainer(context.Background())
	return a
}
