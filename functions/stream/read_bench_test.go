package main

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/blastlog/blastlog/adapters/archive/azblob"
	"github.com/blastlog/blastlog/adapters/archive/azblob/azuritetest"
	"github.com/blastlog/blastlog/adapters/archive/fsdir"
	"github.com/blastlog/blastlog/core/chunk"
	"github.com/blastlog/blastlog/core/event"
	"github.com/blastlog/blastlog/core/job"
	"github.com/blastlog/blastlog/ports"
	"github.com/blastlog/blastlog/ports/portstest"
)

// The read path at the speed of the bytes (go tool task bench:read). One 1,000,000-line
// run, stored only in the archive, read through the streaming container (its own
// process, for its resident memory) three ways: from a directory, from Azurite, and
// from Azurite behind a proxy that holds every request 20 ms (Blob Storage's latency).
// Each case is set beside the floor on the same bytes in the same run: reading the
// chunk files, grep -F over the downloaded text, gzip -1 of it, and for Azurite its
// own: fetching every chunk blob, 64 at a time, without blastlog.

const (
	readRun   = "read-million"
	readLines = 1_000_000
	deepLine  = 700_000
	deepMark  = "ZZ-deep-needle-0700000"
)

// realisticLine is line i of a BLAST run as its pods write it: progress, tabular hits,
// paths; now and then a warning, an error, quotes, backslashes and non-ASCII.
func realisticLine(i int) string {
	switch {
	case i == deepLine:
		return "Query_700000 matched the only " + deepMark + " of the run"
	case i%50_000 == 17:
		return fmt.Sprintf("ERROR: batch_%03d: BLAST engine error on Query_%d", i%300, i)
	case i%20_000 == 11:
		return fmt.Sprintf("Warning: [blastn] Query_%d: Could not calculate ungapped Karlin-Altschul parameters", i)
	case i%97 == 5:
		return fmt.Sprintf(`INFO: wrote "/results/batch_%03d.out" (path C:\tmp\x) — %d hits, ≥ 99.5%% identity`, i%300, i%41)
	case i%10 == 0:
		return fmt.Sprintf("batch_%03d: %d/40 queries searched, %d hits so far", i%300, i%40, i*3%1000)
	}
	return fmt.Sprintf("Query_%d\tgi|%d|ref|NC_%06d.1|\t%.2f\t%d\t%d\t0\t1\t%d\t%d\t%d\t1e-%d\t%d",
		i, 100000+i%9000, i%50000, 90+float64(i%100)/10, 100+i%400, i%7, 100+i%400, 1+i%5000, 100+i%5000, 40+i%60, 200+i%600)
}

// fillRun writes the benchmark's run of realistic lines into st.
func fillRun(b *testing.B, st interface {
	ports.Archive
	ports.ArchiveIndex
}) {
	writeRun(b, st, readRun, readLines, func(i int) event.Event {
		e := portstest.Event(readRun, realisticLine(i))
		e.Source, e.Pod, e.Container = event.SourceK8s, fmt.Sprintf("blastn-batch-s%02d-job-%03d-3ed51a95-h4j5k", i%4, i%300), "blast"
		return e
	})
}

// writeRun writes n events of one run, made by mk, into st's chunks and index as the
// archiver would: three steps, interleaved, 500 events a chunk, ids one millisecond
// apart.
func writeRun(b *testing.B, st interface {
	ports.Archive
	ports.ArchiveIndex
}, jobID string, n int, mk func(i int) event.Event) {
	writeRunOf(b, st, jobID, owner, n, mk)
}

// writeRunOf is writeRun of a run ownerOID owns.
func writeRunOf(b *testing.B, st interface {
	ports.Archive
	ports.ArchiveIndex
}, jobID, ownerOID string, n int, mk func(i int) event.Event) {
	b.Helper()
	ctx := context.Background()
	idx := chunk.NewIndex(jobID)
	idx.Record = chunk.Record{OwnerOID: ownerOID, Status: job.Completed}
	steps := []string{event.PhaseStagingDB, event.PhaseRunning, event.PhaseExportingResults}
	bufs := map[string][]event.Event{}
	var wg sync.WaitGroup
	errs := make(chan error, 1)
	sem := make(chan struct{}, 16)
	flush := func(step string) {
		si := idx.Steps[step]
		if si == nil {
			si = &chunk.StepIndex{}
			idx.Steps[step] = si
		}
		c := chunk.Chunk{SchemaVersion: 1, JobID: jobID, Step: step, Sequence: si.NextSeq, Events: bufs[step], CreatedAt: time.Now()}
		si.Chunks = append(si.Chunks, chunk.RefOf(&c))
		si.NextSeq++
		bufs[step] = nil
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer func() { <-sem; wg.Done() }()
			if err := st.PutChunk(ctx, c); err != nil {
				select {
				case errs <- err:
				default:
				}
			}
		}()
	}
	base := uint64(time.Now().UnixMilli()) - uint64(n)
	for i := 0; i < n; i++ {
		step := steps[min(2, i*3/n)]
		if i%10 == 3 {
			step = steps[0] // interleaved steps, as a real run has
		}
		e := mk(i)
		e.Phase, e.ID = step, event.ID{MS: base + uint64(i)}
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
	wg.Wait()
	select {
	case err := <-errs:
		b.Fatal(err)
	default:
	}
	idx.Complete = true
	if _, err := st.PutIndex(ctx, idx, ""); err != nil {
		b.Fatal(err)
	}
}

// floors measures the same bytes without blastlog: reading the chunk files, and
// grep -F and gzip -1 over the run's text; each the median of three.
type floors struct{ readFiles, grep, gzip time.Duration }

func measureFloors(b *testing.B, dir, text string) floors {
	return floors{
		readFiles: median3(func() {
			filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
				if err == nil && !d.IsDir() {
					os.ReadFile(p)
				}
				return nil
			})
		}),
		grep: median3(func() {
			if out, err := exec.Command("grep", "-F", deepMark, text).Output(); err != nil || !strings.Contains(string(out), deepMark) {
				b.Fatalf("grep: %v", err)
			}
		}),
		gzip: median3(func() {
			cmd := exec.Command("gzip", "-1", "-c", text)
			cmd.Stdout = io.Discard
			if err := cmd.Run(); err != nil {
				b.Fatal(err)
			}
		}),
	}
}

// fetchFloor is the store's own floor: every chunk of the run fetched through st,
// 64 at a time, without blastlog's read path (the median of three).
func fetchFloor(b *testing.B, st interface {
	ports.Archive
	ports.ArchiveIndex
}) time.Duration {
	ctx := context.Background()
	idx, _, err := st.Index(ctx, readRun)
	if err != nil {
		b.Fatal(err)
	}
	return median3(func() {
		var wg sync.WaitGroup
		errs := make(chan error, 1)
		sem := make(chan struct{}, 64)
		for step, si := range idx.Steps {
			for _, ref := range si.Chunks {
				sem <- struct{}{}
				wg.Go(func() {
					defer func() { <-sem }()
					if _, err := st.Chunk(ctx, readRun, step, ref.Seq); err != nil {
						select {
						case errs <- err:
						default:
						}
					}
				})
			}
		}
		wg.Wait()
		select {
		case err := <-errs:
			b.Fatal(err)
		default:
		}
	})
}

func median3(f func()) time.Duration {
	var d [3]time.Duration
	for i := range d {
		t0 := time.Now()
		f()
		d[i] = time.Since(t0)
	}
	slices.Sort(d[:])
	return d[1]
}

// peak resets and reads a process's peak resident memory (VmHWM), in KiB.
func resetPeak(pid int) { os.WriteFile(fmt.Sprintf("/proc/%d/clear_refs", pid), []byte("5"), 0) }

func peakKiB(pid int) int64 {
	st, _ := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	for _, l := range strings.Split(string(st), "\n") {
		if v, ok := strings.CutPrefix(l, "VmHWM:"); ok {
			var n int64
			fmt.Sscan(strings.TrimSuffix(strings.TrimSpace(v), " kB"), &n)
			return n
		}
	}
	return 0
}

// getTo streams a response into w (no client-side buffer of the whole body).
func getTo(b *testing.B, url string, w io.Writer) {
	b.Helper()
	req, _ := http.NewRequest(http.MethodGet, url, nil)
	req.Header.Set("X-Dev-User", owner)
	req.Header.Set("Accept-Encoding", "identity")
	res, err := http.DefaultTransport.RoundTrip(req)
	if err != nil {
		b.Fatal(err)
	}
	defer res.Body.Close()
	if res.StatusCode != 200 {
		b.Fatalf("%s: %d", url, res.StatusCode)
	}
	if _, err := io.CopyBuffer(w, res.Body, make([]byte, 256<<10)); err != nil {
		b.Fatal(err)
	}
}

// lineCounter counts the bytes and lines written to it.
type lineCounter struct{ bytes, lines int64 }

func (c *lineCounter) Write(p []byte) (int, error) {
	c.bytes += int64(len(p))
	c.lines += int64(bytes.Count(p, []byte{'\n'}))
	return len(p), nil
}

func getAll(b *testing.B, url string, hdr ...string) []byte {
	b.Helper()
	req, _ := http.NewRequest(http.MethodGet, url, nil)
	req.Header.Set("X-Dev-User", owner)
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	res, err := http.DefaultTransport.RoundTrip(req)
	if err != nil {
		b.Fatal(err)
	}
	defer res.Body.Close()
	body, _ := io.ReadAll(res.Body)
	if res.StatusCode != 200 {
		b.Fatalf("%s: %d %s", url, res.StatusCode, body)
	}
	return body
}

type readMatch struct {
	ID   string `json:"id"`
	Line string `json:"line"`
}

// searchAll follows next_after until the scan is done; it returns the matches.
func searchAll(b *testing.B, base, query string) []readMatch {
	var lines []readMatch
	after := ""
	for page := 0; page < 1000; page++ {
		var p struct {
			Matches   []readMatch `json:"matches"`
			NextAfter string      `json:"next_after"`
			Truncated bool        `json:"truncated"`
		}
		if err := json.Unmarshal(getAll(b, base+"/api/blast/logs/"+readRun+"/search?"+query+"&limit=500&after="+after), &p); err != nil {
			b.Fatal(err)
		}
		lines = append(lines, p.Matches...)
		if !p.Truncated {
			return lines
		}
		after = p.NextAfter
	}
	b.Fatal("search did not end")
	return nil
}

func BenchmarkRead(b *testing.B) {
	s := newStack(b)
	dir := filepath.Join(b.TempDir(), "archive")
	d, err := fsdir.New(dir)
	if err != nil {
		b.Fatal(err)
	}
	fillRun(b, d)
	// Azurite is filled only when a case of it runs (-bench 'Read$/dir' measures the
	// directory alone).
	az := azuritetest.Start(b)
	proxy := az.Latency(b, 20*time.Millisecond)
	var filled sync.Once
	azurite := func(b *testing.B) {
		filled.Do(func() {
			st, err := azblob.NewFromConnectionString(az.ConnectionString(), "job-artifacts")
			if err != nil {
				b.Fatal(err)
			}
			fillRun(b, st)
		})
	}
	// Azurite's own floor: fetching the run's chunk blobs, 64 at a time, without
	// blastlog (Azurite answers one request after another).
	store := func(b *testing.B, conn string) time.Duration {
		azurite(b)
		st, err := azblob.NewFromConnectionString(conn, "job-artifacts")
		if err != nil {
			b.Fatal(err)
		}
		return fetchFloor(b, st)
	}
	backends := []struct {
		name  string
		env   map[string]string
		floor func(b *testing.B) time.Duration
	}{
		{"dir", map[string]string{"BLASTLOG_ARCHIVE": "dir", "BLASTLOG_ARCHIVE_DIR": dir}, nil},
		{"azurite", map[string]string{"BLASTLOG_ARCHIVE": "azblob", "BLASTLOG_ARCHIVE_CONNECTION_STRING": az.ConnectionString()},
			func(b *testing.B) time.Duration { return store(b, az.ConnectionString()) }},
		{"azurite+20ms", map[string]string{"BLASTLOG_ARCHIVE": "azblob", "BLASTLOG_ARCHIVE_CONNECTION_STRING": proxy.ConnectionString()},
			func(b *testing.B) time.Duration { return store(b, proxy.ConnectionString()) }},
	}
	text := filepath.Join(b.TempDir(), "run.txt")
	var fl floors
	for _, be := range backends {
		b.Run(be.name, func(b *testing.B) {
			env := map[string]string{"BLASTLOG_DEV_USER": owner, "BLASTLOG_OWNER_MAX_REQUESTS": "100", "BLASTLOG_MAX_HEAVY_READS": "100"}
			var storeFloor time.Duration
			if be.floor != nil {
				storeFloor = be.floor(b)
			}
			for k, v := range be.env {
				env[k] = v
			}
			cmd, base := serverProcess(b, s, env)
			pid := cmd.Process.Pid
			time.Sleep(500 * time.Millisecond)
			idle := rssKiB(pid)
			var peak int64
			measure := func(name string, f func()) time.Duration {
				resetPeak(pid)
				t0 := time.Now()
				f()
				el := time.Since(t0)
				peak = max(peak, peakKiB(pid))
				b.ReportMetric(float64(el.Microseconds())/1000, name+"-ms")
				return el
			}
			for b.Loop() {
				var plain lineCounter
				download := measure("download", func() { getTo(b, base+"/api/blast/logs/"+readRun+"/download?format=text", &plain) })
				if plain.lines != readLines+1 {
					b.Fatalf("download: %d lines", plain.lines)
				}
				if fl.grep == 0 {
					f, err := os.Create(text)
					if err != nil {
						b.Fatal(err)
					}
					getTo(b, base+"/api/blast/logs/"+readRun+"/download?format=text", f)
					f.Close()
					fl = measureFloors(b, dir, text)
				}
				var zipped []byte
				gz := measure("download-gzip", func() {
					zipped = getAll(b, base+"/api/blast/logs/"+readRun+"/download?format=text", "Accept-Encoding", "gzip")
				})
				zr, err := gzip.NewReader(strings.NewReader(string(zipped)))
				if err != nil {
					b.Fatal(err)
				}
				if n, _ := io.Copy(io.Discard, bufio.NewReader(zr)); n != plain.bytes {
					b.Fatalf("gzip download: %d bytes, plain %d", n, plain.bytes)
				}
				var found []readMatch
				search := measure("search-deep", func() { found = searchAll(b, base, "q="+url.QueryEscape(strings.ToLower(deepMark))) })
				if len(found) != 1 || !strings.Contains(found[0].Line, deepMark) {
					b.Fatalf("deep search found %v", found)
				}
				var issues []readMatch
				measure("issues", func() { issues = searchAll(b, base, "issues=1") })
				if len(issues) != readLines/50_000+readLines/20_000 {
					b.Fatalf("issues=1 found %d", len(issues))
				}
				var snap struct {
					Events []event.Event `json:"events"`
				}
				measure("around-deep", func() {
					json.Unmarshal(getAll(b, base+"/api/blast/logs/"+readRun+"/snapshot?limit=200&around="+found[0].ID), &snap)
				})
				if len(snap.Events) != 200 || snap.Events[100].ID.String() != found[0].ID {
					b.Fatalf("around: %d events", len(snap.Events))
				}
				measure("summary", func() { getAll(b, base+"/api/blast/logs/"+readRun+"/summary") })
				b.ReportMetric(float64(download)/float64(fl.readFiles), "download/read-files")
				b.ReportMetric(float64(gz)/float64(fl.gzip), "gzip/gzip-1")
				b.ReportMetric(float64(search)/float64(fl.grep), "search/grep")
				if storeFloor > 0 {
					b.ReportMetric(float64(storeFloor.Microseconds())/1000, "fetch-blobs-ms")
					b.ReportMetric(float64(download)/float64(storeFloor), "download/fetch-blobs")
					b.ReportMetric(float64(search)/float64(storeFloor), "search/fetch-blobs")
				}
			}
			b.ReportMetric(float64(peak-idle)/1024, "peak-MiB-above-idle")
		})
	}
	b.Run("floor", func(b *testing.B) {
		for b.Loop() {
		}
		b.ReportMetric(float64(fl.readFiles.Microseconds())/1000, "read-files-ms")
		b.ReportMetric(float64(fl.grep.Microseconds())/1000, "grep-F-ms")
		b.ReportMetric(float64(fl.gzip.Microseconds())/1000, "gzip-1-ms")
	})
}
