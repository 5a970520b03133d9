package main

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/blastlog/blastlog/adapters/entra"
	"github.com/blastlog/blastlog/adapters/redisstore"
	"github.com/blastlog/blastlog/core/event"
	"github.com/blastlog/blastlog/core/job"
)

// browser starts headless Chromium (Debian's package) for the test.
func browser(t testing.TB, extra ...chromedp.ExecAllocatorOption) context.Context {
	t.Helper()
	path, err := exec.LookPath("chromium")
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("chromium is not installed; CI must install it (apt-get install -y chromium): %v", err)
		}
		t.Skip("chromium is not installed (apt-get install chromium) — the browser test needs it")
	}
	opts := append(chromedp.DefaultExecAllocatorOptions[:], chromedp.ExecPath(path), chromedp.NoSandbox,
		chromedp.DisableGPU, chromedp.Flag("disable-quic", true), chromedp.NoFirstRun,
		chromedp.Flag("disable-background-networking", true), chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true), chromedp.UserDataDir(t.TempDir()), chromedp.WindowSize(1280, 900))
	opts = append(opts, extra...)
	actx, cancelA := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancelB := chromedp.NewContext(actx)
	t.Cleanup(func() { cancelB(); cancelA() })
	if _, err := chromedp.Run(ctx, chromedp.Navigate("about:blank")); err != nil {
		t.Fatalf("starting chromium: %v", err)
	}
	return ctx
}

// eval runs a JS expression and returns its value.
func eval[T any](ctx context.Context, expr string) (T, error) {
	return chromedp.Run(ctx, chromedp.Evaluate[T](expr))
}

// waitJS polls a JS expression until it is true.
func waitJS(t testing.TB, ctx context.Context, what, expr string) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		ok, err := eval[bool](ctx, expr)
		if err == nil && ok {
			return
		}
		if time.Now().After(deadline) {
			state, _ := eval[string](ctx, `document.getElementById("badge").textContent + " | " + document.getElementById("count").textContent +
				" | " + (document.getElementById("notice") || {}).textContent`)
			t.Fatalf("timed out waiting for %s (page: %s; last: %v, %v)", what, state, ok, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func jsInt(t testing.TB, ctx context.Context, expr string) int {
	t.Helper()
	n, err := eval[int](ctx, expr)
	if err != nil {
		t.Fatal(err)
	}
	return n
}

func TestRunDetailsPageInChromium(t *testing.T) {
	ctx := browser(t)
	s := newStack(t)
	port := freePort(t)
	env := map[string]string{"BLASTLOG_ADDR": "127.0.0.1:" + port, "BLASTLOG_STREAM_TICKETS": "on"}
	srv := s.server(t, env)
	s.register(t, "run-b", entra.DefaultDevUser)
	log := redisstore.NewEventLog(s.rdb, redisstore.Config{MaxLen: 100_000})
	k8s := func(phase, pod, container string, stream event.Stream, lines ...string) {
		var evs []event.Event
		for _, l := range lines {
			evs = append(evs, event.Event{SchemaVersion: 1, JobID: "run-b", Source: event.SourceK8s, Phase: phase, Stream: stream,
				Pod: pod, Container: container, Line: l, TS: time.Now()})
		}
		if _, err := log.Append(context.Background(), "run-b", evs); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := chromedp.Run(ctx, chromedp.Navigate(srv.base+"/?job=run-b")); err != nil {
		t.Fatal(err)
	}
	waitJS(t, ctx, "live", `document.getElementById("badge").textContent === "live"`)

	// Lines appear in the right steps as they are published.
	s.publish(t, "\x1b[33m[1/5] Writing configuration\x1b[0m\n Splitting queries into batches\n", "lines", "--job", "run-b", "--phase", "submitting")
	s.publish(t, "ERROR: AKS cluster elb-cluster-02 not found\n", "lines", "--job", "run-b", "--phase", "submitting", "--stream", "stderr")
	k8s("staging_db", "init-ssd-3ed51a95-0-x7k2p", "get-blastdb", event.Stdout, "DB files downloaded: 12 .nsq files")
	waitJS(t, ctx, "submit and staging lines", `document.querySelectorAll('[data-phase="submitting"] .line').length === 3 &&
		document.querySelectorAll('[data-phase="staging_db"] .line').length === 1`)
	stderrText, _ := eval[string](ctx, `document.querySelector('[data-phase="submitting"] .line.stderr .text').textContent`)
	src, _ := eval[string](ctx, `document.querySelector('[data-phase="staging_db"] .line .src').textContent`)
	if stderrText != "ERROR: AKS cluster elb-cluster-02 not found" || src != "init-ssd-3ed51a95-0-x7k2p/get-blastdb" {
		t.Fatalf("stderr %q src %q", stderrText, src)
	}
	firstText, _ := eval[string](ctx, `document.querySelector('[data-phase="submitting"] .line .text').textContent`)
	if firstText != "[1/5] Writing configuration" {
		t.Fatalf("first line %q", firstText)
	}

	// 2,500 lines: a step holds (and shows) the newest 2,000, the open step is the live one.
	var batch []string
	for i := 0; i < 2500; i++ {
		batch = append(batch, fmt.Sprintf("blast line %04d", i))
	}
	k8s("running", "blastn-batch-nt-job-000-3ed51a95-h4j5k", "blast", event.Stdout, batch...)
	waitJS(t, ctx, "2,504 lines", `document.getElementById("count").textContent === "2,504 lines"`)
	if n := jsInt(t, ctx, `Math.max(...[...document.querySelectorAll("details.step")].map(d => d.querySelectorAll(".line").length))`); n != 2000 {
		t.Fatalf("a step shows %d lines", n)
	}
	waitJS(t, ctx, "newest line shown", `[...document.querySelectorAll('[data-phase="running"] .text')].pop().textContent === "blast line 2499"`)
	waitJS(t, ctx, "running step open", `document.querySelector('[data-phase="running"]').open && !document.querySelector('[data-phase="submitting"]').open`)

	// The stream server stops mid-run and comes back: no duplicate, no missing line.
	if err := srv.app.Stop(context.Background()); err != nil {
		t.Fatal(err)
	}
	k8s("running", "blastn-batch-nt-job-000-3ed51a95-h4j5k", "blast", event.Stdout, "while the server was down 1", "while the server was down 2")
	waitJS(t, ctx, "the page noticing", `document.getElementById("badge").textContent !== "live"`)
	srv = s.server(t, env)
	k8s("exporting_results", "elb-finalizer-3ed51a95-m3n4b", "finalizer", event.Stdout, "Merging results from 10 shards...")
	waitJS(t, ctx, "reconnected with every line", `document.getElementById("count").textContent === "2,507 lines"`)
	if n := jsInt(t, ctx, `(() => { const ids = [...document.querySelectorAll(".line")].map(l => l.dataset.id); return ids.length - new Set(ids).size })()`); n != 0 {
		t.Fatalf("%d duplicate lines on the page", n)
	}
	waitJS(t, ctx, "lines of the outage", `[...document.querySelectorAll('[data-phase="running"] .text')].map(e => e.textContent).slice(-2).join("|") === "while the server was down 1|while the server was down 2"`)

	// completed switches the badge.
	if err := s.tickets.Access.Jobs.SetStatus(context.Background(), "run-b", job.Completed); err != nil {
		t.Fatal(err)
	}
	waitJS(t, ctx, "completed", `document.getElementById("badge").textContent === "completed"`)

	png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100)) // quality 100 encodes PNG
	if err != nil {
		t.Fatal(err)
	}
	shot := filepath.Join(t.TempDir(), "run-details.png")
	if dst := os.Getenv("BLASTLOG_SCREENSHOT"); dst != "" {
		shot = dst
	}
	if err := os.WriteFile(shot, png, 0o644); err != nil {
		t.Fatal(err)
	}
	t.Logf("screenshot: %s (%d bytes)", shot, len(png))
	if !strings.HasSuffix(shot, ".png") || len(png) < 1000 {
		t.Fatal("no screenshot")
	}
}
