package main

import (
	"bytes"
	"context"
	"strings"
	"testing"
	"time"

	"github.com/blastlog/blastlog/core/app"
	"github.com/blastlog/blastlog/core/diagnose"
	"github.com/blastlog/blastlog/core/event"
)

// runHere runs the CLI in-process (no server is reached by these).
func runHere(args ...string) (int, string, string) {
	var out, errOut bytes.Buffer
	code := run(context.Background(), &env{args: args, stdout: &out, stderr: &errOut, getenv: func(string) string { return "" }})
	return code, out.String(), errOut.String()
}

// Every command has help with examples, and completion for bash, zsh and fish.
func TestHelpAndCompletion(t *testing.T) {
	for _, c := range []string{"runs", "logs", "status", "report", "search", "download"} {
		code, out, _ := runHere(c, "--help")
		if code != 0 || !strings.Contains(out, "Examples:") || !strings.Contains(out, "blastlog "+c) {
			t.Errorf("%s --help: %d\n%s", c, code, out)
		}
	}
	for shell, want := range map[string]string{"bash": "__start_blastlog", "zsh": "#compdef blastlog", "fish": "complete -c blastlog"} {
		if code, out, _ := runHere("completion", shell); code != 0 || !strings.Contains(out, want) {
			t.Errorf("completion %s: %d %.80q", shell, code, out)
		}
	}
	if code, _, errOut := runHere("logs", "run-1", "--color", "sometimes"); code != 2 || !strings.Contains(errOut, "--color") {
		t.Errorf("--color sometimes: %d %q", code, errOut)
	}
}

// The text format: the step named when it changes, the pod in its colour, notices
// marked, issues coloured; the same pod has the same colour everywhere.
func TestTextFormat(t *testing.T) {
	var b bytes.Buffer
	p := newPrinter(&b, formatText, true, true)
	ts := time.Date(2026, 12, 4, 10, 0, 0, 0, time.UTC)
	for _, e := range []event.Event{
		{Phase: "submitting", Line: "elastic-blast submit", TS: ts},
		{Phase: "running", Pod: "blastn-batch-s00-job-001-a", Container: "blast", Line: "Query_1", TS: ts},
		{Phase: "running", Pod: "blastn-batch-s00-job-001-a", Container: "blast", Line: "ERROR: boom", TS: ts},
		{Phase: "running", Source: event.SourceSystem, Notice: event.NoticeK8sEvent, Line: "Pod/x FailedScheduling: no node",
			Detail: &event.Detail{Type: "Warning", Reason: "FailedScheduling"}, TS: ts},
		{Source: event.SourceSystem, Notice: "following", Line: "following blastn-batch-s00-job-001-a/blast", TS: ts},
		{Phase: "running", Pod: "blastn-batch-s00-job-001-a", Container: "blast", Line: "Query_2", TS: ts},
	} {
		p.event(&e)
	}
	p.flush()
	pod := podColour("blastn-batch-s00-job-001-a")
	// Steps by the names the page uses; a notice is its sentence (no kind before it),
	// a Warning event a warning, and the collector's own notices no step of their own.
	when := dim + "2026-12-04T10:00:00.000Z" + reset + " "
	want := bold + "── Submitting ──" + reset + "\n" + when + bold + "submit" + reset + " elastic-blast submit\n" +
		bold + "── Running BLAST ──" + reset + "\n" + when + pod + "blastn-batch-s00-job-001-a blast" + reset + " Query_1\n" +
		when + pod + "blastn-batch-s00-job-001-a blast" + reset + " " + red + "ERROR: boom" + reset + "\n" +
		when + cyan + "»" + reset + " " + yellow + "Pod/x FailedScheduling: no node" + reset + "\n" +
		when + cyan + "»" + reset + " following blastn-batch-s00-job-001-a/blast\n" +
		when + pod + "blastn-batch-s00-job-001-a blast" + reset + " Query_2\n"
	if b.String() != want {
		t.Fatalf("got\n%q\nwant\n%q", b.String(), want)
	}
	if podColour("a") != podColour("a") || len(podColours) < 8 {
		t.Fatal("pod colours")
	}
}

// A download is complete only with its trailer, in either format, however the
// bytes arrive.
func TestTrailer(t *testing.T) {
	for _, c := range []struct {
		format, body, want string
	}{
		{"text", "a\nb\n# 2 lines, complete\n", "2 lines, complete"},
		{"text", "a\n# 1 lines, partial\n", "1 lines, partial"},
		{"text", "a\nb\n", ""},
		{"text", "# 5 lines, compl", ""},
		{"ndjson", `{"id":"1-0"}` + "\n" + `{"trailer":true,"count":1,"complete":false}` + "\n", "1 lines, partial"},
		{"ndjson", `{"id":"1-0"}` + "\n", ""},
	} {
		for _, step := range []int{1, 3, 1000} {
			tw := &tailWriter{w: &bytes.Buffer{}}
			for b := []byte(c.body); len(b) > 0; b = b[min(step, len(b)):] {
				tw.Write(b[:min(step, len(b))])
			}
			if got := tw.trailer(c.format); got != c.want {
				t.Errorf("%s %q in %d-byte writes: %q", c.format, c.body, step, got)
			}
		}
	}
}

func TestHighlight(t *testing.T) {
	if got := highlight("an Error and an ERROR", "error"); got != "an "+bold+red+"Error"+reset+" and an "+bold+red+"ERROR"+reset {
		t.Fatalf("%q", got)
	}
	if got := highlight("İstanbul error", "error"); got != "İstanbul error" {
		t.Fatalf("a rune that changes size when lowered: %q", got)
	}
}

// An OOMKilled cause says its peak against its limit, as the headline does; the
// run's cost follows the headline.
func TestStatusSaysThePeak(t *testing.T) {
	code := 137
	s := app.RunSummary{JobID: "run-42", Status: "failed"}
	s.Diagnosis.State = diagnose.StateFailed
	s.Diagnosis.Headline = "1 of 24 batches failed: batch 013 was OOMKilled (exit 137, peak 61.8 of 62Gi)."
	s.Diagnosis.Causes = []diagnose.Cause{{Kind: diagnose.KindContainer, Batch: "013", Reason: "OOMKilled", ExitCode: &code,
		Limit: &diagnose.Limits{Memory: "62Gi"}, Peak: &diagnose.Peak{Memory: "61.8Gi", CPU: 14.6}, Hint: "raise mem-limit"}}
	usd, rate, projected := 25.0, 8.064, 31.2
	s.Diagnosis.Cost = &diagnose.Cost{NodeHours: 12.4, ByType: map[string]float64{"Standard_E32s_v3": 12.4}, USD: &usd,
		USDPerHourNow: &rate, ProjectedUSD: &projected, Source: "file", Text: "12.4 node-hours · $25.00 · $8.06/h now · ≈ $31.20 at the end"}
	var b bytes.Buffer
	if err := printStatus(&b, s, false); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(b.String(), "peak 61.8 of 62Gi") || !strings.Contains(b.String(), "✗ 013: OOMKilled (exit 137, peak 61.8Gi of 62Gi)") ||
		!strings.Contains(b.String(), "12.4 node-hours · $25.00 · $8.06/h now · ≈ $31.20 at the end") {
		t.Fatalf("%s", b.String())
	}
	// A cluster left running: the notice's sentence, as the page shows it.
	idle := "the cluster of run job-42 is still up 20 min after it ended: 4 nodes, ≈ $8.06/h — run `elastic-blast delete`"
	s.Diagnosis.ClusterIdle = &diagnose.ClusterIdle{Nodes: 4, USDPerHour: &rate, Text: idle}
	b.Reset()
	printStatus(&b, s, false)
	if !strings.Contains(b.String(), "\n"+idle+"\n") {
		t.Fatalf("%s", b.String())
	}
}
