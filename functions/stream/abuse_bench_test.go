package main

import (
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/blastlog/blastlog/adapters/archive/fsdir"
	"github.com/blastlog/blastlog/core/event"
	"github.com/blastlog/blastlog/ports/portstest"
)

// The second owner of the abuse benchmarks.
const otherOwner = "0000000b-0000-4000-8000-0000000000b0"

// cpuSeconds is the user and system CPU time a process has used.
func cpuSeconds(pid int) float64 {
	st, _ := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	f := strings.Fields(string(st[strings.LastIndexByte(string(st), ')')+1:]))
	if len(f) < 13 {
		return 0
	}
	u, _ := strconv.ParseFloat(f[11], 64)
	s, _ := strconv.ParseFloat(f[12], 64)
	return (u + s) / 100 // clock ticks (USER_HZ is 100 on Linux)
}

// healthProbe asks /healthz every 10 ms until stop is closed, and returns the slowest
// answer.
func healthProbe(b *testing.B, base string, stop chan struct{}) func() time.Duration {
	var worst atomic.Int64
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			select {
			case <-stop:
				return
			case <-time.After(10 * time.Millisecond):
			}
			t0 := time.Now()
			res, err := http.Get(base + "/healthz")
			if err != nil {
				b.Error(err)
				return
			}
			io.Copy(io.Discard, res.Body)
			res.Body.Close()
			if d := time.Since(t0); int64(d) > worst.Load() {
				worst.Store(int64(d))
			}
		}
	}()
	return func() time.Duration { <-done; return time.Duration(worst.Load()) }
}

// timedGet asks for url as who and returns the status and how long the whole answer took.
func timedGet(b *testing.B, url, who string, w io.Writer, hdr ...string) (int, time.Duration) {
	req, _ := http.NewRequest(http.MethodGet, url, nil)
	req.Header.Set("X-Dev-User", who)
	req.Header.Set("Accept-Encoding", "identity")
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	t0 := time.Now()
	res, err := http.DefaultTransport.RoundTrip(req)
	if err != nil {
		b.Error(err)
		return 0, 0
	}
	defer res.Body.Close()
	if _, err := io.Copy(w, res.Body); err != nil {
		b.Error(err)
	}
	return res.StatusCode, time.Since(t0)
}

// parallel runs n requests at once (n/2 by each owner, each reading its own run) and
// reports the slowest, the 429s, the replica's CPU seconds and peak RSS, and the
// slowest /healthz answer meanwhile.
func parallel(b *testing.B, pid int, base string, n int, path func(run string) string, hdr ...string) {
	b.Helper()
	runtime.GC() // the probe runs here: not behind this process's collection of the run it wrote
	resetPeak(pid)
	cpu0 := cpuSeconds(pid)
	stop := make(chan struct{})
	worstHealth := healthProbe(b, base, stop)
	var mu sync.Mutex
	var times []time.Duration
	refused := 0
	var wg sync.WaitGroup
	t0 := time.Now()
	for i := range n {
		who, run := owner, "abuse-a"
		if i%2 == 1 {
			who, run = otherOwner, "abuse-b"
		}
		wg.Go(func() {
			st, d := timedGet(b, base+path(run), who, io.Discard, hdr...)
			mu.Lock()
			defer mu.Unlock()
			switch st {
			case 200:
				times = append(times, d)
			case 429:
				refused++
			default:
				b.Errorf("%s: %d", path(run), st)
			}
		})
	}
	wg.Wait()
	wall := time.Since(t0)
	close(stop)
	slices.Sort(times)
	if len(times) > 0 {
		b.ReportMetric(float64(times[len(times)-1].Milliseconds()), "slowest-ms")
	}
	b.ReportMetric(wall.Seconds(), "wall-s")
	b.ReportMetric(cpuSeconds(pid)-cpu0, "cpu-s")
	b.ReportMetric(float64(refused), "429s")
	b.ReportMetric(float64(peakKiB(pid))/1024, "peak-RSS-MiB")
	b.ReportMetric(float64(worstHealth().Microseconds())/1000, "healthz-max-ms")
}

// BenchmarkAbuse (go tool task bench:abuse): what one or two owners can do to a replica
// with searches and downloads, measured on the streaming container's own process with
// the chart's defaults (8 reads per owner, 4 heavy reads per replica waiting up to 5 s
// for a place, 128 MiB for reads' chunks):
//
//   - search: 15,000 lines of 3,990 × "a" then "b" per owner's run, searched for 199 ×
//     "a" then "c" (a near-match at every place) or "zzz" (a miss): one alone, then 16
//     at once by two owners;
//   - download: a 1,000,000-line run per owner, 1, 8 and 16 at once as text, and 16 as
//     gzip NDJSON, by two owners; and 16 at once on a replica that lets them all run
//     (BLASTLOG_MAX_HEAVY_READS=16), where the read budget alone bounds memory;
//     searches of the same runs for their one deep match, 1 and 16 at once, and 16 on
//     that replica.
//
// Each reports the slowest answer, the 429s, the replica's CPU seconds and peak RSS,
// and the slowest /healthz answer meanwhile (probed every 10 ms).
func BenchmarkAbuse(b *testing.B) {
	s := newStack(b)
	dir := filepath.Join(b.TempDir(), "archive")
	d, err := fsdir.New(dir)
	if err != nil {
		b.Fatal(err)
	}
	cmd, base := serverProcess(b, s, map[string]string{"BLASTLOG_ARCHIVE": "dir", "BLASTLOG_ARCHIVE_DIR": dir})
	pid := cmd.Process.Pid
	b.Run("search", func(b *testing.B) {
		aaa := strings.Repeat("a", 3990) + "b"
		for run, who := range map[string]string{"abuse-a": owner, "abuse-b": otherOwner} {
			writeRunOf(b, d, run, who, 15_000, func(int) event.Event { return portstest.Event(run, aaa) })
		}
		near := "/search?q=" + url.QueryEscape(strings.Repeat("a", 199)+"c")
		for _, c := range []struct {
			name, q string
			n       int
		}{{"near-match-1", near, 1}, {"miss-1", "/search?q=zzz", 1}, {"near-match-16", near, 16}} {
			b.Run(c.name, func(b *testing.B) {
				for b.Loop() {
					parallel(b, pid, base, c.n, func(run string) string { return "/api/blast/logs/" + run + c.q })
				}
			})
		}
	})
	// The same server with room for 16 heavy reads at once: the read budget alone
	// bounds their memory.
	wide, wideBase := serverProcess(b, s, map[string]string{"BLASTLOG_ARCHIVE": "dir", "BLASTLOG_ARCHIVE_DIR": dir,
		"BLASTLOG_MAX_HEAVY_READS": "16"})
	b.Run("download", func(b *testing.B) {
		for run, who := range map[string]string{"abuse-a": owner, "abuse-b": otherOwner} {
			writeRunOf(b, d, run+"-m", who, readLines, func(i int) event.Event {
				e := portstest.Event(run+"-m", realisticLine(i))
				e.Source, e.Pod, e.Container = event.SourceK8s, fmt.Sprintf("blastn-batch-s%02d-job-%03d-3ed51a95-h4j5k", i%4, i%300), "blast"
				return e
			})
		}
		for _, c := range []struct {
			name, format string
			n            int
			gzip, wide   bool
		}{{"text-1", "text", 1, false, false}, {"text-8", "text", 8, false, false}, {"text-16", "text", 16, false, false},
			{"ndjson-gzip-16", "ndjson", 16, true, false}, {"text-16-all-at-once", "text", 16, false, true},
			{"search-1", "", 1, false, false}, {"search-16", "", 16, false, false}, {"search-16-all-at-once", "", 16, false, true}} {
			b.Run(c.name, func(b *testing.B) {
				var hdr []string
				if c.gzip {
					hdr = []string{"Accept-Encoding", "gzip"}
				}
				pid, base := pid, base
				if c.wide {
					pid, base = wide.Process.Pid, wideBase
				}
				for b.Loop() {
					path := func(run string) string { return "/api/blast/logs/" + run + "-m/download?format=" + c.format }
					if c.format == "" { // a whole-run search, its one match 70 % in
						path = func(run string) string { return "/api/blast/logs/" + run + "-m/search?q=" + strings.ToLower(deepMark) }
					}
					parallel(b, pid, base, c.n, path, hdr...)
				}
			})
		}
	})
}
