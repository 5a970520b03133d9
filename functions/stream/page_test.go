package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	cdpbrowser "github.com/chromedp/cdproto/browser"
	"github.com/chromedp/chromedp"
	"go.uber.org/fx"

	"github.com/blastlog/blastlog/adapters/archive/fsdir"
	"github.com/blastlog/blastlog/adapters/entra"
	"github.com/blastlog/blastlog/adapters/kube/kubesim"
	"github.com/blastlog/blastlog/adapters/redisstore"
	"github.com/blastlog/blastlog/core/event"
	"github.com/blastlog/blastlog/functions/stream/demo"
	"github.com/blastlog/blastlog/ports/portstest"
)

// The Run details page's features, each in headless Chromium against the real
// streaming container (and, for the demo, the real dev stack).

var screenshotDir string

// shot saves a screenshot of the page's state for a person to look at: into
// BLASTLOG_SCREENSHOTS when set, else a temporary directory the test names.
func shot(t *testing.T, ctx context.Context, name string) {
	t.Helper()
	if screenshotDir == "" {
		screenshotDir = os.Getenv("BLASTLOG_SCREENSHOTS")
		if screenshotDir == "" {
			var err error
			if screenshotDir, err = os.MkdirTemp("", "blastlog-page-"); err != nil {
				t.Fatal(err)
			}
		}
	}
	png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100)) // quality 100 encodes PNG
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(screenshotDir, strings.ReplaceAll(t.Name(), "/", "_")+"-"+name+".png")
	if err := os.WriteFile(path, png, 0o644); err != nil {
		t.Fatal(err)
	}
	t.Logf("screenshot %s (%d bytes)", path, len(png))
}

// kubeconfig writes a kubeconfig for a cluster at server.
func kubeconfig(t testing.TB, server string) string {
	path := filepath.Join(t.TempDir(), "kubeconfig")
	err := os.WriteFile(path, []byte(fmt.Sprintf(`apiVersion: v1
kind: Config
clusters: [{name: k, cluster: {server: %q}}]
users: [{name: u, user: {}}]
contexts: [{name: c, context: {cluster: k, user: u}}]
current-context: c
`, server)), 0o600)
	if err != nil {
		t.Fatal(err)
	}
	return path
}

// archiveIndex opens the dir archive's index.
func archiveIndex(t *testing.T, dir string) *fsdir.Dir {
	d, err := fsdir.New(dir)
	if err != nil {
		t.Fatal(err)
	}
	return d
}

func jsString(t testing.TB, ctx context.Context, expr string) string {
	t.Helper()
	s, err := eval[string](ctx, expr)
	if err != nil {
		t.Fatalf("%s: %v", expr, err)
	}
	return s
}

func do(t testing.TB, ctx context.Context, js string) {
	t.Helper()
	if _, err := eval[any](ctx, js); err != nil {
		t.Fatalf("%s: %v", js, err)
	}
}

func open(t testing.TB, ctx context.Context, url string) {
	t.Helper()
	if _, err := chromedp.Run(ctx, chromedp.Navigate(url)); err != nil {
		t.Fatal(err)
	}
}

// step is the JS selector of a step's element.
func step(phase string) string {
	return `document.querySelector('details.step[data-phase="` + phase + `"]')`
}

func TestPageCountsIssuesFindAndFollow(t *testing.T) {
	ctx := browser(t)
	s := newStack(t)
	srv := s.server(t, map[string]string{"BLASTLOG_STREAM_TICKETS": "on"})
	s.publish(t, "", "job", "register", "--job", "run-c", "--owner", entra.DefaultDevUser)
	var in strings.Builder
	for i := 1; i <= 30; i++ {
		switch i {
		case 4:
			in.WriteString("ERROR: AKS cluster elb-cluster-02 not found\n")
		case 9:
			in.WriteString("2026-06-01 WARNING: quota close to the limit\n")
		case 12:
			in.WriteString("Traceback (most recent call last):\n")
		case 20:
			in.WriteString("gsutil: warning: retrying batch 7\n")
		case 25:
			in.WriteString("WARN low disk on the node\n")
		default:
			fmt.Fprintf(&in, "uploading batch %d of 30\n", i)
		}
	}
	s.publish(t, in.String(), "lines", "--job", "run-c", "--phase", "submitting")
	open(t, ctx, srv.base+"/?run=run-c")
	waitJS(t, ctx, "live", `document.getElementById("badge").textContent === "live"`)
	waitJS(t, ctx, "the counts in words", step("submitting")+`.querySelector(".counts").textContent === "30 lines · 2 errors · 3 warnings"`)
	if n := jsInt(t, ctx, step("submitting")+`.querySelectorAll(".line.error").length`); n != 2 {
		t.Fatalf("%d lines coloured as errors", n)
	}
	shot(t, ctx, "counts")

	// Issues only: the five flagged lines, with their line numbers in the step.
	do(t, ctx, step("submitting")+`.querySelector(".toolbar input[type=checkbox]").click()`)
	waitJS(t, ctx, "issues only", step("submitting")+`.querySelectorAll(".lines .line").length === 5`)
	if got := jsString(t, ctx, `[...`+step("submitting")+`.querySelectorAll(".lines .line .n")].map(n => n.textContent).join(",")`); got != "4,9,12,20,25" {
		t.Fatalf("issue line numbers %s", got)
	}
	shot(t, ctx, "issues-only")
	// A live error arrives in the filtered view; a plain line does not.
	s.publish(t, "plain line 31\nFATAL: out of memory\n", "lines", "--job", "run-c", "--phase", "submitting")
	waitJS(t, ctx, "the live error", step("submitting")+`.querySelectorAll(".lines .line").length === 6`)
	if got := jsString(t, ctx, `[...`+step("submitting")+`.querySelectorAll(".lines .line .n")].pop().textContent`); got != "32" {
		t.Fatalf("the live error's number %s", got)
	}
	do(t, ctx, step("submitting")+`.querySelector(".toolbar input[type=checkbox]").click()`)
	waitJS(t, ctx, "back to every line", step("submitting")+`.querySelectorAll(".lines .line").length === 32`)

	// "/" focuses the step's find box; n and N move between matches; Esc clears.
	if _, err := chromedp.Run(ctx, chromedp.KeyEvent("/")); err != nil {
		t.Fatal(err)
	}
	waitJS(t, ctx, "the find box focused", `document.activeElement === `+step("submitting")+`.querySelector(".find")`)
	if _, err := chromedp.Run(ctx, chromedp.KeyEvent("batch 2")); err != nil {
		t.Fatal(err)
	}
	// "batch 2", "batch 21".."batch 24", "batch 26".."batch 29" and "retrying batch 7"? no: 9 matches.
	defer func() {
		if t.Failed() {
			t.Log(jsString(t, ctx, step("submitting")+`.querySelector(".find").value + "|" + `+step("submitting")+`.querySelector(".findcount").textContent`))
		}
	}()
	waitJS(t, ctx, "9 matches", step("submitting")+`.querySelector(".findcount").textContent === "9"`)
	do(t, ctx, `document.activeElement.blur()`)
	for _, k := range []string{"n", "n", "N"} {
		if _, err := chromedp.Run(ctx, chromedp.KeyEvent(k)); err != nil {
			t.Fatal(err)
		}
	}
	waitJS(t, ctx, "the first match current", step("submitting")+`.querySelector(".line.current .n").textContent === "2" &&
		`+step("submitting")+`.querySelector(".findcount").textContent === "1 / 9"`)
	if n := jsInt(t, ctx, step("submitting")+`.querySelectorAll(".line mark").length`); n != 9 {
		t.Fatalf("%d marked matches", n)
	}
	shot(t, ctx, "find")
	if _, err := chromedp.Run(ctx, chromedp.KeyEvent("\u001b")); err != nil { // Escape
		t.Fatal(err)
	}
	waitJS(t, ctx, "find cleared", step("submitting")+`.querySelectorAll(".line mark").length === 0`)

	// Going through the matches paused following; the pill resumes it.
	waitJS(t, ctx, "paused by the matches", step("submitting")+`.querySelector(".pill").hidden === false`)
	do(t, ctx, step("submitting")+`.querySelector(".pill").click()`)

	// Copy puts the step's lines on the clipboard; a line's "copy link" its permalink.
	for _, name := range []string{"clipboard-read", "clipboard-write"} {
		if _, err := chromedp.Run(ctx, chromedp.Func(func(ctx context.Context, _ *chromedp.Target) error {
			_, err := chromedp.CallBrowser(ctx, cdpbrowser.SetPermission, cdpbrowser.SetPermissionParams{
				Permission: &cdpbrowser.PermissionDescriptor{Name: name}, Setting: cdpbrowser.PermissionSettingGranted, Origin: srv.base})
			return err
		})); err != nil {
			t.Fatal(err)
		}
	}
	clipboard := func() string {
		do(t, ctx, `window.__clip = undefined; navigator.clipboard.readText().then(t => { window.__clip = t })`)
		waitJS(t, ctx, "the clipboard", `window.__clip !== undefined`)
		return jsString(t, ctx, `window.__clip`)
	}
	do(t, ctx, step("submitting")+`.querySelector(".toolbar button").click()`)
	waitJS(t, ctx, "copied", step("submitting")+`.querySelector(".toolbar button").textContent === "Copied"`)
	if lines := strings.Split(clipboard(), "\n"); len(lines) != 32 || !strings.HasSuffix(lines[3], " submitting submit stdout: ERROR: AKS cluster elb-cluster-02 not found") {
		t.Fatalf("copied %d lines: %q", len(lines), lines[:min(4, len(lines))])
	}
	id := jsString(t, ctx, step("submitting")+`.querySelector(".line").dataset.id`)
	do(t, ctx, step("submitting")+`.querySelector(".line .copylink").click()`)
	waitJS(t, ctx, "link copied", step("submitting")+`.querySelector(".line .copylink").textContent === "copied"`)
	if got := clipboard(); got != srv.base+"/?run=run-c#l-"+id {
		t.Fatalf("copied link %q", got)
	}

	// Wrap, timestamps and font size apply to every step and outlive a reload.
	do(t, ctx, `[...`+step("submitting")+`.querySelectorAll(".toolbar button")].filter(b => ["Wrap", "Time", "A+"].includes(b.textContent)).forEach(b => b.click())`)
	prefs := `(() => { const b = ` + step("submitting") + `.querySelector(".lines"); return b.classList.contains("nowrap") + "," + b.classList.contains("notimes") + "," + b.style.getPropertyValue("--font") })()`
	if got := jsString(t, ctx, prefs); got != "true,true,13px" {
		t.Fatalf("toggles: %s", got)
	}
	open(t, ctx, srv.base+"/?run=run-c")
	waitJS(t, ctx, "the toggles after a reload", prefs+` === "true,true,13px"`)
	do(t, ctx, `[...`+step("submitting")+`.querySelectorAll(".toolbar button")].filter(b => ["Wrap", "Time", "A−"].includes(b.textContent)).forEach(b => b.click())`)
	waitJS(t, ctx, "the toggles back", prefs+` === "false,false,12px"`)
	waitJS(t, ctx, "the lines again", step("submitting")+`.querySelectorAll(".lines .line").length === 32`)

	// Auto-follow: scrolled up, new lines do not move the view and the pill counts
	// them; the pill brings the view to the newest line and following resumes.
	s.publish(t, numbered(300, 0), "lines", "--job", "run-c", "--phase", "submitting")
	waitJS(t, ctx, "332 lines", step("submitting")+`.querySelectorAll(".lines .line").length === 332`)
	box := step("submitting") + `.querySelector(".scroll")`
	waitJS(t, ctx, "following", box+`.scrollTop + `+box+`.clientHeight >= `+box+`.scrollHeight - 4`)
	do(t, ctx, box+`.scrollTop = 0`)
	waitJS(t, ctx, "paused", step("submitting")+`.querySelector(".pill").hidden === false`)
	s.publish(t, numbered(50, 300), "lines", "--job", "run-c", "--phase", "submitting")
	waitJS(t, ctx, "the pill counting", step("submitting")+`.querySelector(".pill").textContent === "↓ Jump to latest · 50 new lines"`)
	if top := jsInt(t, ctx, box+`.scrollTop`); top != 0 {
		t.Fatalf("the view moved to %d while paused", top)
	}
	shot(t, ctx, "paused")
	do(t, ctx, step("submitting")+`.querySelector(".pill").click()`)
	waitJS(t, ctx, "at the newest line", box+`.scrollTop + `+box+`.clientHeight >= `+box+`.scrollHeight - 4 && `+step("submitting")+`.querySelector(".pill").hidden`)
	s.publish(t, numbered(50, 350), "lines", "--job", "run-c", "--phase", "submitting")
	waitJS(t, ctx, "following again", step("submitting")+`.querySelectorAll(".lines .line").length === 432 && `+
		box+`.scrollTop + `+box+`.clientHeight >= `+box+`.scrollHeight - 4`)
}

func TestPageSearchAndPermalinkReachAnArchivedStepOfACompletedRun(t *testing.T) {
	ctx := browser(t)
	s := newStack(t)
	dir := t.TempDir()
	srv := s.archived(t, dir, map[string]string{"BLASTLOG_STREAM_MAXLEN": "1000", "BLASTLOG_ARCHIVE_CHUNK": "500"})
	s.publish(t, "", "job", "register", "--job", "run-d", "--owner", entra.DefaultDevUser)
	var staging strings.Builder
	for i := 1; i <= 500; i++ {
		if i == 123 {
			staging.WriteString("DB shard 07: checksum mismatch (needle-7), retrying\n")
			continue
		}
		fmt.Fprintf(&staging, "downloading shard %d\n", i)
	}
	s.publish(t, staging.String(), "lines", "--job", "run-d", "--phase", "staging_db")
	s.publish(t, numbered(5000, 0), "lines", "--job", "run-d", "--phase", "running")
	s.publish(t, "", "job", "status", "--job", "run-d", "--status", "completed")
	waitComplete(t, archiveIndex(t, dir), "run-d", 30*time.Second)
	// The staging step is in the archive only: the stream kept its last ~1,000 events.
	first, err := s.rdb.XRangeN(context.Background(), "joblogs:run-d", "-", "+", 1).Result()
	if err != nil || len(first) != 1 || strings.Contains(fmt.Sprint(first[0].Values), "shard") {
		t.Fatalf("the stream still holds the staging step: %v %v", first, err)
	}

	open(t, ctx, srv.base+"/?run=run-d")
	waitJS(t, ctx, "completed", `document.getElementById("badge").textContent === "completed"`)
	waitJS(t, ctx, "the step's whole-run count", step("staging_db")+`.querySelector(".counts").textContent === "500 lines · 0 errors · 0 warnings"`)
	do(t, ctx, `document.getElementById("q").value = "NEEDLE-7"; document.getElementById("search").requestSubmit()`)
	waitJS(t, ctx, "one result", `document.querySelectorAll("#results .result").length === 1`)
	if got := jsString(t, ctx, `document.querySelector('#results .group[data-phase="staging_db"] .result .n').textContent`); got != "123" {
		t.Fatalf("the result's line number %q", got)
	}
	shot(t, ctx, "search")
	do(t, ctx, `document.querySelector("#results .result a").click()`)
	waitJS(t, ctx, "the line opened in its step", step("staging_db")+`.open && `+step("staging_db")+`.querySelector(".line.target .text").textContent.includes("needle-7")`)
	if got := jsString(t, ctx, step("staging_db")+`.querySelector(".line.target .n").textContent`); got != "123" {
		t.Fatalf("the opened line's number %q", got)
	}
	// Its neighbours are numbered from it.
	if got := jsString(t, ctx, step("staging_db")+`.querySelector(".line.target").previousElementSibling.querySelector(".n").textContent`); got != "122" {
		t.Fatalf("the line before is numbered %q", got)
	}
	url := jsString(t, ctx, `location.href`)
	if !strings.Contains(url, "/?run=run-d#l-") {
		t.Fatalf("the URL is %s", url)
	}
	shot(t, ctx, "opened")

	// The permalink, opened afresh: the line is loaded, highlighted, in view, and gets
	// its line number.
	open(t, ctx, "about:blank")
	open(t, ctx, url)
	waitJS(t, ctx, "the permalinked line", step("staging_db")+`.querySelector(".line.target .text") !== null`)
	waitJS(t, ctx, "in view", `(() => { const r = `+step("staging_db")+`.querySelector(".line.target").getBoundingClientRect();
		const b = `+step("staging_db")+`.querySelector(".lines").getBoundingClientRect(); return r.top >= b.top && r.bottom <= b.bottom && r.bottom <= innerHeight })()`)
	waitJS(t, ctx, "its number", step("staging_db")+`.querySelector(".line.target .n").textContent === "123"`)
	shot(t, ctx, "permalink")
	// Back to live: the step's tail again.
	do(t, ctx, step("staging_db")+`.querySelector(".viewbar button:last-child").click()`)
	waitJS(t, ctx, "the tail", step("staging_db")+`.querySelector(".line.target") === null`)
}

func TestPageDownloadsEveryLineOfTheRun(t *testing.T) {
	ctx := browser(t)
	s := newStack(t)
	dir := t.TempDir()
	srv := s.archived(t, dir, nil)
	s.publish(t, "", "job", "register", "--job", "run-e", "--owner", entra.DefaultDevUser)
	s.publish(t, numbered(20000, 0), "lines", "--job", "run-e", "--phase", "running")
	s.publish(t, "", "job", "status", "--job", "run-e", "--status", "completed")
	waitComplete(t, archiveIndex(t, dir), "run-e", 30*time.Second)
	downloads := allowDownloads(t, ctx)
	open(t, ctx, srv.base+"/?run=run-e")
	waitJS(t, ctx, "completed", `document.getElementById("badge").textContent === "completed"`)
	do(t, ctx, `document.getElementById("download-run").click()`)
	path := filepath.Join(downloads, "run-e-logs.txt")
	deadline := time.Now().Add(30 * time.Second)
	for {
		if _, err := os.Stat(path); err == nil {
			break
		}
		if time.Now().After(deadline) {
			entries, _ := os.ReadDir(downloads)
			t.Fatalf("no %s (the directory holds %v)", path, entries)
		}
		time.Sleep(100 * time.Millisecond)
	}
	shot(t, ctx, "downloaded")
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	n := 0
	var last string
	for sc.Scan() {
		last = sc.Text()
		if strings.HasPrefix(last, "# ") {
			break
		}
		if want := " running submit stdout: " + fmt.Sprintf("line %05d", n); !strings.HasSuffix(last, want) {
			t.Fatalf("line %d is %q, want ...%q", n+1, last, want)
		}
		n++
	}
	if n != 20000 || last != "# 20000 lines, complete" {
		t.Fatalf("%d lines, trailer %q", n, last)
	}
}

// demoPage is a browser, a streaming container collecting from kubesim, and a demo
// player of the dev user's runs on that simulator.
func demoPage(t *testing.T) (context.Context, *streamServer, demo.Player) {
	ctx := browser(t)
	s := newStack(t)
	sim := kubesim.New()
	t.Cleanup(sim.Close)
	// The demo's batches run for a third of a second here: whether a sample catches
	// one would be luck, so the page's verdicts are checked without samples
	// (TestPageSaysWhatABatchUsed has them).
	srv := s.server(t, map[string]string{"BLASTLOG_STREAM_TICKETS": "on", "BLASTLOG_K8S": "kubeconfig", "KUBECONFIG": kubeconfig(t, sim.URL()),
		"BLASTLOG_K8S_METRICS_EVERY": "off"})
	cfg := redisstore.Config{MaxLen: 100_000}
	return ctx, srv, demo.Player{Log: redisstore.NewEventLog(s.rdb, cfg), Jobs: s.tickets.Access.Jobs,
		Active: redisstore.NewCoordination(s.rdb, cfg), Sim: sim, Owner: entra.DefaultDevUser}
}

func TestPageBatchTableOfTheDemoRun(t *testing.T) {
	ctx, srv, p := demoPage(t)
	p.Pace = 30 * time.Millisecond
	if err := p.Play(context.Background(), "run-f"); err != nil {
		t.Fatal(err)
	}
	open(t, ctx, srv.base+"/?run=run-f")
	waitJS(t, ctx, "the run failed", `document.getElementById("badge").textContent === "failed"`)
	waitJS(t, ctx, "the batch table's header", step("running")+`.querySelector(".batchhead").textContent === "23 of 24 batches succeeded · 1 failed · 2 retried"`)
	// The verdict, its progress and its first cause, at the top of the page.
	if got := jsString(t, ctx, `document.getElementById("headline").textContent`); got != "1 of 24 batches failed: batch 013 was OOMKilled (exit 137, limit 62Gi)." {
		t.Fatalf("headline %q", got)
	}
	if got := jsString(t, ctx, `document.getElementById("progress-text").textContent`); got != "23 of 24 batches done, 0 running, 0 pending, 1 failed" {
		t.Fatalf("progress %q", got)
	}
	if got := jsString(t, ctx, `document.querySelector("#causes .cause").textContent`); !strings.Contains(got, "batch 013 · OOMKilled · exit 137 · limit 62Gi") ||
		!strings.Contains(got, "raise mem-limit") {
		t.Fatalf("first cause %q", got)
	}
	// A failed run opens on its failing batch: the step open, the row selected, its lines.
	waitJS(t, ctx, "the failing batch selected", step("running")+`.open && `+step("running")+`.querySelector(".batchtable tr.selected") !== null`)
	waitJS(t, ctx, "its lines", step("running")+`.querySelector(".viewbar span").textContent.includes("of blastn-batch-s01-job-013-")`)
	if open := jsString(t, ctx, `[...document.querySelectorAll("details.step")].filter(d => d.open).map(d => d.dataset.phase).join(",")`); open != "running" {
		t.Fatalf("open steps %q", open)
	}
	shot(t, ctx, "opened-on-the-failure")
	row := step("running") + `.querySelector(".batchtable tbody tr")`
	cells := jsString(t, ctx, `[...`+row+`.children].map(c => c.textContent).join("|")`)
	if !strings.HasPrefix(cells, fmt.Sprintf("%03d|s01|blastn-batch-s01-job-013-", demo.OOMBatch)) || !strings.Contains(cells, "|failed|") ||
		!strings.Contains(cells, "|137|OOMKilled|") {
		t.Fatalf("the first row: %s", cells)
	}
	if got := jsString(t, ctx, step("running")+`.querySelector(".state").textContent`); got != "failed" {
		t.Fatalf("the step's state %q", got)
	}
	cellOf := func(batch string, col int) string {
		return jsString(t, ctx, `[...`+step("running")+`.querySelectorAll(".batchtable tbody tr")].find(r => r.children[0].textContent === "`+batch+`").children[`+fmt.Sprint(col)+`].textContent`)
	}
	// Every attempt of a retried batch, the first failed one too.
	if got := cellOf("005", 7); got != "1" {
		t.Fatalf("batch 005 restarts %q", got)
	}
	if got := cellOf("005", 8); got != "exit 1 → exit 0" {
		t.Fatalf("batch 005 attempts %q", got)
	}
	if got := cellOf("008", 8); got != "exit 137 ContainerStatusUnknown → exit 0" || cellOf("008", 3) != "succeeded" {
		t.Fatalf("batch 008 (evicted, then run again) attempts %q", got)
	}
	// The timeline: a lane per node, a bar per attempt coloured by its end; a click
	// opens the attempt's pod.
	rec, err := p.Jobs.Get(context.Background(), "run-f")
	if err != nil {
		t.Fatal(err)
	}
	var lanes []string
	for i := range demo.Nodes {
		lanes = append(lanes, demo.NodeName(rec.ELBJobID, i)+" · Standard_E32s_v3")
	}
	if got := jsString(t, ctx, `[...`+step("running")+`.querySelectorAll(".timeline .lane")].map(l => l.textContent).join("|")`); got != strings.Join(lanes, "|") {
		t.Fatalf("the timeline's lanes %q", got)
	}
	attempts := jsInt(t, ctx, `window.blastlogDiagnosis.batches.reduce((n, b) => n + (b.attempts || []).filter((a) => a.container === "blast").length, 0)`)
	if n := jsInt(t, ctx, step("running")+`.querySelectorAll(".timeline .bar").length`); n != attempts || n != 26 {
		t.Fatalf("%d bars for %d attempts", n, attempts)
	}
	if n := jsInt(t, ctx, step("running")+`.querySelectorAll(".timeline .bar.oom").length`); n != 1 {
		t.Fatalf("%d OOMKilled bars", n)
	}
	do(t, ctx, step("running")+`.querySelector('.timeline .bar[data-batch="005"]').dispatchEvent(new MouseEvent("click", {bubbles: true}))`)
	waitJS(t, ctx, "batch 005's lines", step("running")+`.querySelector(".viewbar span").textContent.includes("of blastn-batch-s01-job-005-")`)
	// One scroll per step: no box inside it scrolls on its own.
	nested := `[...` + step("running") + `.querySelectorAll("*")].filter(e => !e.classList.contains("scroll") && ["auto", "scroll"].includes(getComputedStyle(e).overflowY) && e.scrollHeight > e.clientHeight + 1).length`
	if n := jsInt(t, ctx, nested); n != 0 {
		t.Fatalf("%d nested scroll boxes", n)
	}
	// Kubernetes' words have a style of their own; an INFO line on stderr is not an error.
	if n := jsInt(t, ctx, `[...document.querySelectorAll(".line.stderr")].filter(l => l.textContent.includes("INFO") && l.classList.contains("error")).length`); n != 0 {
		t.Fatalf("%d INFO lines on stderr painted as errors", n)
	}
	if got := jsString(t, ctx, `document.querySelector(".viewbar button:last-child").textContent`); got != "Back to the last lines" {
		t.Fatalf("the finished run's back button %q", got)
	}
	do(t, ctx, step("running")+`.open = true`)
	shot(t, ctx, "batches")
	// A row filters the step to that batch's lines.
	row = `[...` + step("running") + `.querySelectorAll(".batchtable tbody tr")].find(r => r.children[0].textContent === "013")`
	pod := jsString(t, ctx, row+`.dataset.pod`)
	do(t, ctx, row+`.click()`)
	waitJS(t, ctx, "the batch's lines", step("running")+`.querySelector(".viewbar span").textContent.endsWith("of `+pod+`")`)
	srcs := jsString(t, ctx, `[...new Set([...`+step("running")+`.querySelectorAll(".lines .line .src")].map(s => s.textContent.split("/")[0]))].join(",")`)
	if srcs != pod+",blastlog" && srcs != pod {
		t.Fatalf("the filtered lines come from %s", srcs)
	}
	if !strings.Contains(jsString(t, ctx, step("running")+`.querySelector(".lines").textContent`), "OOMKilled") {
		t.Fatal("the batch's container_ended notice is not among its lines")
	}
	shot(t, ctx, "batch-filter")
	// The secrets the demo prints are masked.
	if text := jsString(t, ctx, `document.body.textContent`); strings.Contains(text, "q5n0cUzH") || strings.Contains(text, "c2VjcmV0") {
		t.Fatal("a secret reached the page")
	}
}

func TestPageTheDemoAlwaysHasALiveRun(t *testing.T) {
	ctx := browser(t)
	port := freePort(t)
	vars := map[string]string{"BLASTLOG_ADDR": "127.0.0.1:" + port, "BLASTLOG_DEMO_PERIOD": "3s", "BLASTLOG_ARCHIVE_DIR": t.TempDir()}
	cfg, err := load(func(k string) string { return vars[k] }, true)
	if err != nil {
		t.Fatal(err)
	}
	app := fx.New(options(cfg), fx.Decorate(func() *slog.Logger { return slog.New(slog.DiscardHandler) }))
	if err := app.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { app.Stop(context.Background()) })
	base := "http://127.0.0.1:" + port
	open(t, ctx, base+"/")
	waitJS(t, ctx, "the first demo run, live", `location.search === "?run=demo-run-1" && document.getElementById("badge").textContent === "live"`)
	waitJS(t, ctx, "its lines", `Number(document.getElementById("count").textContent.split(" ")[0]) > 0`)
	shot(t, ctx, "demo-run-1")
	time.Sleep(3 * time.Second)
	open(t, ctx, base+"/")
	waitJS(t, ctx, "a newer demo run, live", `/^\?run=demo-run-[2-9]$/.test(location.search) && document.getElementById("badge").textContent === "live"`)
	waitJS(t, ctx, "the switcher lists both", `[...document.querySelectorAll("#runs option")].map(o => o.value).includes("demo-run-1")`)
	if st := jsString(t, ctx, `document.querySelector("#runs option").textContent`); !strings.Contains(st, "running") {
		t.Fatalf("the newest run in the switcher: %q", st)
	}
	// The first run, still running: each run lasts longer than the period.
	if st := jsString(t, ctx, `[...document.querySelectorAll("#runs option")].find(o => o.value === "demo-run-1").textContent`); !strings.Contains(st, "running") {
		t.Fatalf("demo-run-1 in the switcher: %q", st)
	}
	shot(t, ctx, "demo-run-2")
}

// A live run told as it happens: its first wave of batches Pending on
// FailedScheduling (the reason in their rows, the banner saying they wait), then the
// progress bar counting up to "24 of 24 batches" and a succeeded verdict.
func TestPageProgressAndPendingBatchesOfALiveRun(t *testing.T) {
	ctx, srv, p := demoPage(t)
	p.Pace, p.Healthy, p.Pending = 60*time.Millisecond, true, 6*time.Second
	played := make(chan error, 1)
	go func() { played <- p.Play(context.Background(), "run-live") }()
	open(t, ctx, srv.base+"/?run=run-live")
	// The batches are known from their Jobs before any pod runs; the first wave waits.
	// (the scheduler's event at once; the pod's own condition after 30 s)
	pending := `[...` + step("running") + `.querySelectorAll(".batchtable tbody tr.pending")].filter(r => /^waits: (FailedScheduling|Unschedulable): 0\/3 nodes are available: 3 Insufficient memory\./.test(r.querySelector(".reason").textContent))`
	waitJS(t, ctx, "pending batches with their reason", pending+`.length === 6`)
	waitJS(t, ctx, "the banner saying they wait", `/6 pods waiting \((FailedScheduling|Unschedulable)\)/.test(document.getElementById("headline").textContent)`)
	waitJS(t, ctx, "every batch known from its Job while the first wave waits", `document.getElementById("progress-text").textContent === "0 of 24 batches done, 0 running, 24 pending"`)
	do(t, ctx, step("running")+`.open = true`)
	shot(t, ctx, "pending")
	// Counting up: record what the progress and the headline say until the run ends.
	do(t, ctx, `window.__seen = []; window.__both = []; window.__watch = setInterval(() => {
		const t = document.getElementById("progress-text").textContent.split(" · ")[0], h = document.getElementById("headline").textContent;
		if (window.__seen[window.__seen.length-1] !== t) window.__seen.push(t);
		window.__both.push([t, h]); }, 20)`)
	waitJS(t, ctx, "a batch running", `document.getElementById("progress-text").textContent.includes("running")`)
	shot(t, ctx, "running")
	if err := <-played; err != nil {
		t.Fatal(err)
	}
	waitJS(t, ctx, "the run completed", `document.getElementById("badge").textContent === "completed"`)
	waitJS(t, ctx, "24 of 24", `document.getElementById("progress-text").textContent === "24 of 24 batches done, 0 running, 0 pending"`)
	if got := jsString(t, ctx, `document.getElementById("headline").textContent`); got != "All 24 batches succeeded, 2 batches after a retry." {
		t.Fatalf("headline %q", got)
	}
	seen := jsString(t, ctx, `JSON.stringify(window.__seen)`)
	var counts []int
	for _, part := range strings.Split(seen, `"`) {
		var n int
		if _, err := fmt.Sscanf(part, "%d of 24 batches", &n); err == nil {
			counts = append(counts, n)
		}
	}
	if len(counts) < 3 || counts[len(counts)-1] != 24 {
		t.Fatalf("the progress did not count up: %s", seen)
	}
	for i := 1; i < len(counts); i++ {
		if counts[i] < counts[i-1] {
			t.Fatalf("the progress went back: %s", seen)
		}
	}
	// The headline and the bar say the same counts in the same words at every moment
	// (the headline adds who waits, or is the verdict once the run ended).
	var both [][2]string
	if err := json.Unmarshal([]byte(jsString(t, ctx, `JSON.stringify(window.__both)`)), &both); err != nil {
		t.Fatal(err)
	}
	for _, b := range both {
		bar, head := b[0], b[1]
		if strings.Contains(head, "batches done") && !strings.HasPrefix(head, bar+".") && !strings.HasPrefix(head, bar+";") {
			t.Fatalf("the headline %q and the bar %q disagree", head, bar)
		}
	}
	if cls := jsString(t, ctx, `document.getElementById("verdict").className`); cls != "verdict succeeded" {
		t.Fatalf("verdict %q", cls)
	}
	// The retried batches (005 failed once, 008 was evicted) recovered: no cause, and
	// the step is done, not failed.
	if n := jsInt(t, ctx, `document.querySelectorAll("#causes .cause").length`); n != 0 {
		t.Fatalf("%d causes on a succeeded run: %s", n, jsString(t, ctx, `document.getElementById("causes").textContent`))
	}
	if got := jsString(t, ctx, step("running")+`.querySelector(".state").textContent`); got != "done" {
		t.Fatalf("the Running BLAST step of a succeeded run says %q", got)
	}
	shot(t, ctx, "succeeded")
}

// An OOMKilled batch whose memory was sampled: the headline, the cause and the batch
// table say its peak against its limit; the run's node-hours cost what the prices say.
func TestPageSaysWhatABatchUsed(t *testing.T) {
	ctx := browser(t)
	s := newStack(t)
	prices := filepath.Join(t.TempDir(), "prices.json")
	os.WriteFile(prices, []byte(`{"Standard_E32s_v3": 2.016}`), 0o600)
	srv := s.server(t, map[string]string{"BLASTLOG_STREAM_TICKETS": "on", "BLASTLOG_PRICES": prices})
	s.register(t, "run-u", owner)
	evs := oomNotices("run-u")
	evs[0].Ended.Usage = &event.Usage{PeakMemory: 66355200000, CPUMean: 14.2, CPUPeak: 14.6, Samples: 9,
		First: evs[0].Ended.StartedAt, Last: evs[0].Ended.FinishedAt}
	node := event.System("run-u", "", event.NoticeNode, "node n0 no longer runs this run's pods", evs[0].TS)
	node.Detail = &event.Detail{Object: "Node/n0", State: "released", FirstTS: evs[0].TS.Add(-time.Hour), LastTS: evs[0].TS,
		InstanceType: "Standard_E32s_v3", Region: "eastus"}
	rate := 2.02
	idle := event.System("run-u", "", event.NoticeClusterIdle, "the cluster of run run-u is still up 20 min after it ended: 1 node, ≈ $2.02/h — run `elastic-blast delete`", evs[0].TS.Add(20*time.Minute))
	idle.Detail = &event.Detail{FirstTS: evs[0].TS, Nodes: 1, USDPerHour: &rate}
	evs = append(evs, node, idle)
	if _, err := redisstore.NewEventLog(s.rdb, redisstore.Config{MaxLen: 100_000}).Append(context.Background(), "run-u", evs); err != nil {
		t.Fatal(err)
	}
	s.publish(t, "", "job", "status", "--job", "run-u", "--status", "failed")
	open(t, ctx, srv.base+"/?run=run-u&dev_user="+owner)
	waitJS(t, ctx, "the verdict", `document.getElementById("headline").textContent !== ""`)
	if got := jsString(t, ctx, `document.getElementById("headline").textContent`); got != "1 of 1 batch failed: batch 013 was OOMKilled (exit 137, peak 61.8 of 62Gi)." {
		t.Fatalf("headline %q", got)
	}
	if got := jsString(t, ctx, `document.querySelector("#causes .cause .what").textContent`); got != "batch 013 · OOMKilled · exit 137 · peak 61.8Gi of 62Gi" {
		t.Fatalf("cause %q", got)
	}
	if got := jsString(t, ctx, `document.getElementById("cost").textContent`); got != "1.0 node-hours · $2.02" {
		t.Fatalf("cost %q", got)
	}
	if got := jsString(t, ctx, `document.getElementById("cluster-idle").hidden ? "" : document.getElementById("cluster-idle").textContent`); got != idle.Line {
		t.Fatalf("the cluster left running %q", got)
	}
	do(t, ctx, step("running")+`.open = true`)
	waitJS(t, ctx, "the batch table", step("running")+`.querySelector(".batchtable td.peak") !== null`)
	if got := jsString(t, ctx, step("running")+`.querySelector(".batchtable td.peak").textContent`); got != "61.8Gi of 62Gi · 14.6 cores" {
		t.Fatalf("the batch's peak %q", got)
	}
	// Download CSV: the run's report, a row per batch.
	downloads := allowDownloads(t, ctx)
	do(t, ctx, `document.getElementById("download-report").click()`)
	path := filepath.Join(downloads, "run-u-report.csv")
	var csv []byte
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		if b, err := os.ReadFile(path); err == nil && len(b) > 0 {
			csv = b
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no %s", path)
		}
	}
	lines := strings.Split(strings.TrimSpace(string(csv)), "\n")
	if len(lines) != 2 || !strings.HasPrefix(lines[0], "batch,shard,state,") || !strings.HasPrefix(lines[1], "013,s00,failed,1,") ||
		!strings.Contains(lines[1], ",61.8Gi,62Gi,14.20,14.6,") {
		t.Fatalf("the report's CSV:\n%s", csv)
	}
}

// allowDownloads makes the browser save downloads in a directory of the test's, which
// it returns.
func allowDownloads(t *testing.T, ctx context.Context) string {
	t.Helper()
	dir := t.TempDir()
	if _, err := chromedp.Run(ctx, chromedp.Func(func(ctx context.Context, _ *chromedp.Target) error {
		_, err := chromedp.Call(ctx, cdpbrowser.SetDownloadBehavior, cdpbrowser.SetDownloadBehaviorParams{
			Behavior: cdpbrowser.SetDownloadBehaviorBehaviorAllow, DownloadPath: dir})
		return err
	})); err != nil {
		t.Fatal(err)
	}
	return dir
}

// A stalled batch makes the run stuck, and the stall's age in the banner keeps up with
// the server's though no notice comes: the page reads the diagnosis every few seconds
// while the run is stuck (not every 30 s).
func TestPageKeepsAStallsAgeCurrent(t *testing.T) {
	ctx := browser(t)
	s := newStack(t)
	srv := s.server(t, map[string]string{"BLASTLOG_STREAM_TICKETS": "on"})
	s.register(t, "run-st", owner)
	pod := "blastn-batch-s00-job-001-3ed51a95-x7k2p"
	now := time.Now().UTC()
	job := event.System("run-st", event.PhaseRunning, event.NoticeBatch, "batch 001 active", now.Add(-time.Minute))
	job.Detail = &event.Detail{Object: "Job/blastn-batch-s00-job-001-3ed51a95", Batch: "001", State: "active"}
	line := portstest.Event("run-st", "run start")
	line.Source, line.Phase, line.Pod, line.Container, line.ContainerID, line.TS =
		event.SourceK8s, event.PhaseRunning, pod, "blast", "containerd://001", now.Add(-40*time.Second)
	stalled := event.System("run-st", event.PhaseRunning, event.NoticeStalled, pod+"/blast has used no CPU and written no line for 10s", now)
	stalled.Pod, stalled.Container, stalled.ContainerID = pod, "blast", "containerd://001"
	stalled.Detail = &event.Detail{Object: "Pod/" + pod, Reason: "Stalled", FirstTS: now.Add(-10 * time.Second), LastTS: now}
	if _, err := redisstore.NewEventLog(s.rdb, redisstore.Config{MaxLen: 100_000}).Append(context.Background(), "run-st",
		[]event.Event{job, line, stalled}); err != nil {
		t.Fatal(err)
	}
	s.publish(t, "", "job", "status", "--job", "run-st", "--status", "running")
	open(t, ctx, srv.base+"/?run=run-st&dev_user="+owner)
	waitJS(t, ctx, "the stall in the banner", `document.getElementById("headline").textContent.includes("has stalled")`)
	first := jsString(t, ctx, `document.getElementById("headline").textContent`)
	// The diagnosis is read at most every 3 s: 10 s is ample, where 30 s would be the
	// page's period without a stuck run.
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(200 * time.Millisecond) {
		if h := jsString(t, ctx, `document.getElementById("headline").textContent`); h != first && strings.Contains(h, "has stalled") {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("the banner still says %q after 10 s", first)
		}
	}
}
