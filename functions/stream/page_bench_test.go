package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/heapprofiler"
	cdpruntime "github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"

	"github.com/blastlog/blastlog/adapters/redisstore"
	"github.com/blastlog/blastlog/core/event"
	"github.com/blastlog/blastlog/core/job"
)

// BenchmarkPageMillionLineRun: a completed 1,000,000-line run that only the directory
// archive holds, opened in headless Chromium. Reported: the time from navigation to
// its first lines shown, to the first result of a search whose only match is line
// 700,000, and to that line shown from its permalink in a fresh page.
func BenchmarkPageMillionLineRun(b *testing.B) {
	ctx := browser(b)
	s := newStack(b)
	dir := filepath.Join(b.TempDir(), "archive")
	fillArchive(b, dir, "million", 1_000_000)
	srv := s.server(b, map[string]string{"BLASTLOG_ARCHIVE": "dir", "BLASTLOG_ARCHIVE_DIR": dir, "BLASTLOG_DEV_USER": owner,
		"BLASTLOG_STREAM_TICKETS": "on"})
	var first, verdict, search, link time.Duration
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		open(b, ctx, "about:blank")
		t0 := time.Now()
		open(b, ctx, srv.base+"/?run=million")
		waitJS(b, ctx, "the verdict", `document.getElementById("headline").textContent !== ""`)
		verdict += time.Since(t0)
		waitJS(b, ctx, "the first lines", `document.querySelectorAll("details.step .line").length > 0`)
		first += time.Since(t0)

		t0 = time.Now()
		do(b, ctx, `document.getElementById("q").value = "line 0700000:"; document.getElementById("search").requestSubmit()`)
		waitJS(b, ctx, "the search result", `document.querySelectorAll("#results .result").length === 1`)
		search += time.Since(t0)
		id := jsString(b, ctx, `document.querySelector("#results .result").dataset.id`)

		open(b, ctx, "about:blank")
		t0 = time.Now()
		open(b, ctx, srv.base+"/?run=million#l-"+id)
		waitJS(b, ctx, "the permalinked line", `document.querySelector(".line.target") !== null`)
		link += time.Since(t0)
	}
	n := float64(b.N)
	b.ReportMetric(float64(verdict.Milliseconds())/n, "ms-verdict")
	b.ReportMetric(float64(first.Milliseconds())/n, "ms-first-lines")
	b.ReportMetric(float64(search.Milliseconds())/n, "ms-search-result")
	b.ReportMetric(float64(link.Milliseconds())/n, "ms-permalink")
}

// BenchmarkPageHeapAt1000LinesPerSecond: the page following a run that writes 1,000
// lines a second (100 every 100 ms, in three steps) for BLASTLOG_PAGE_HEAP_SECONDS
// (default 60). Reported: the JS heap in use after the first 10 s and at the end
// (after a collection), and the lines the page holds.
func BenchmarkPageHeapAt1000LinesPerSecond(b *testing.B) {
	secs, _ := strconv.Atoi(os.Getenv("BLASTLOG_PAGE_HEAP_SECONDS"))
	if secs <= 0 {
		secs = 60
	}
	ctx := browser(b)
	s := newStack(b)
	srv := s.server(b, map[string]string{"BLASTLOG_STREAM_TICKETS": "on", "BLASTLOG_DEV_USER": owner})
	if err := s.tickets.Access.Jobs.Register(context.Background(), job.Record{JobID: "heap", OwnerOID: owner, Status: job.Running}); err != nil {
		b.Fatal(err)
	}
	log := redisstore.NewEventLog(s.rdb, redisstore.Config{MaxLen: 5000})
	open(b, ctx, srv.base+"/?run=heap")
	waitJS(b, ctx, "live", `document.getElementById("badge").textContent === "live"`)
	heap := func() float64 {
		if _, err := chromedp.Run(ctx, chromedp.Func(func(ctx context.Context, _ *chromedp.Target) error {
			_, err := chromedp.Call(ctx, heapprofiler.CollectGarbage, cdp.Empty{})
			return err
		})); err != nil {
			b.Fatal(err)
		}
		u, err := chromedp.Run(ctx, chromedp.Action[cdpruntime.GetHeapUsageResult](func(ctx context.Context, _ *chromedp.Target) (cdpruntime.GetHeapUsageResult, error) {
			return chromedp.Call(ctx, cdpruntime.GetHeapUsage, cdp.Empty{})
		}))
		if err != nil {
			b.Fatal(err)
		}
		return u.UsedSize / (1 << 20)
	}
	phases := []string{event.PhaseSubmitting, event.PhaseRunning, event.PhaseExportingResults}
	var early float64
	b.ResetTimer()
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	for i := 0; i < secs*10; i++ {
		<-tick.C
		evs := make([]event.Event, 100)
		for j := range evs {
			n := i*100 + j
			evs[j] = event.Event{SchemaVersion: 1, JobID: "heap", Source: event.SourceK8s, Phase: phases[n%3], Stream: event.Stdout,
				Pod: "blastn-batch-s00-job-000-3ed51a95-h4j5k", Container: "blast", TS: time.Now(),
				Line: fmt.Sprintf("batch_%03d: query %d searched, %d hits so far (ERROR-free line %d)", n%300, n, n*3, n)}
		}
		if _, err := log.Append(context.Background(), "heap", evs); err != nil {
			b.Fatal(err)
		}
		if i == 100 {
			early = heap()
		}
	}
	want := secs * 1000
	waitJS(b, ctx, "every line counted", fmt.Sprintf(`document.getElementById("count").textContent === %q`, humanCount(want)+" lines"))
	b.StopTimer()
	b.ReportMetric(early, "heap-MiB-10s")
	b.ReportMetric(heap(), "heap-MiB-end")
	b.ReportMetric(float64(jsInt(b, ctx, `document.querySelectorAll(".line").length`)), "lines-held")
}

// humanCount formats n as the page does (en: 12,345).
func humanCount(n int) string {
	s := strconv.Itoa(n)
	for i := len(s) - 3; i > 0; i -= 3 {
		s = s[:i] + "," + s[i:]
	}
	return s
}

// BenchmarkPageTimeline5000: the timeline of 5,000 batches (two attempts each on 40
// nodes) drawn into the page and laid out, in headless Chromium. Reported: ms per
// drawing.
func BenchmarkPageTimeline5000(b *testing.B) {
	ctx := browser(b)
	s := newStack(b)
	srv := s.server(b, map[string]string{"BLASTLOG_STREAM_TICKETS": "on"})
	open(b, ctx, srv.base+"/")
	do(b, ctx, `import("/static/timeline.js").then((m) => { window.timelineModule = m; })`)
	waitJS(b, ctx, "the module", `window.timelineModule !== undefined`)
	do(b, ctx, `window.fakeBatches = Array.from({length: 5000}, (_, i) => {
		const t = Date.parse("2026-12-07T00:00:00Z") + i * 60000, pod = (k) => "blastn-batch-s00-job-" + i + "-3ed51a95-" + k;
		return {batch: String(i).padStart(3, "0"), state: "succeeded", attempts: [
			{pod: pod("a"), node: "node-" + (i % 40), node_type: "Standard_E32s_v3", started_at: new Date(t).toISOString(), finished_at: new Date(t + 600000).toISOString(), exit_code: 137, reason: "OOMKilled"},
			{pod: pod("b"), node: "node-" + ((i + 1) % 40), node_type: "Standard_E32s_v3", started_at: new Date(t + 600000).toISOString(), finished_at: new Date(t + 1800000).toISOString(), exit_code: 0}]};
	})`)
	const draw = `(() => { const t = performance.now(); const el = window.timelineModule.timeline(window.fakeBatches, Date.now(), () => {});
		document.body.append(el); el.getBoundingClientRect(); const n = el.querySelectorAll(".bar").length; el.remove();
		return n === 10000 ? performance.now() - t : -1; })()`
	var total float64
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		ms, err := eval[float64](ctx, draw)
		if err != nil || ms < 0 {
			b.Fatalf("%v %v", ms, err)
		}
		total += ms
	}
	b.ReportMetric(total/float64(b.N), "ms-draw")
}
