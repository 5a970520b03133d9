package web

import (
	"bytes"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/blastlog/blastlog/core/diagnose"
	"github.com/blastlog/blastlog/core/event"
	"github.com/blastlog/blastlog/core/summary"
)

// The page's keyword rules (static/rules.js) are the server's (core/summary.Classify),
// so that the page's live counts continue the summary's exactly: Node runs rules.js
// over lines and notices as the API hands them out, and each gets the server's class.
func TestPageRulesAreTheServers(t *testing.T) {
	node, err := exec.LookPath("node")
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatal("node is not installed (.ci/run installs npm, which brings it)")
		}
		t.Skip("node is not installed: the page's rules are not compared with the server's")
	}
	notice := func(kind, line string, d *event.Detail) event.Event {
		e := event.System("run-1", event.PhaseRunning, kind, line, event.Event{}.TS)
		e.Detail = d
		return e
	}
	ended := func(code int) event.Event {
		e := event.System("run-1", event.PhaseRunning, event.NoticeContainerEnded, "p/blast ended (Error, exit code "+
			strconv.Itoa(code)+")", event.Event{}.TS)
		e.Ended = &event.Ended{ExitCode: code, Completeness: event.Complete}
		return e
	}
	var corpus []event.Event
	for _, l := range []string{"ERROR: database core_nt not found", "Error: Invalid value", "FATAL: out of memory",
		"Traceback (most recent call last):", "blastn exited with 137", "command failed, exit code 2", "exit status 0",
		"process exited with 0 errors", "2026-06-01 WARNING: quota close", "gsutil: Warning: retrying", "WARN low disk",
		"error rate 0.0", "[1/5] Writing configuration", "Exit Code 3", "exit_code=0", "exit_code=12",
		"\u212aelvin WARNING", "warning:", "WARNING:", "Query_1\tgi|109|ref|NC_1|\t90.1\t101\t1e-41"} {
		corpus = append(corpus, event.Event{SchemaVersion: 1, JobID: "run-1", Source: event.SourceK8s, Stream: event.Stdout,
			Phase: event.PhaseRunning, Pod: "p", Container: "blast", Line: l})
	}
	corpus = append(corpus, ended(137), ended(0),
		notice(event.NoticeK8sEvent, "Pod/p FailedScheduling: 0/3 nodes", &event.Detail{Type: "Warning", Reason: "FailedScheduling"}),
		notice(event.NoticeK8sEvent, "Pod/p Scheduled: ERROR in a Normal event", &event.Detail{Type: "Normal", Reason: "Scheduled"}),
		notice(event.NoticeWaiting, "p Unschedulable: no node", &event.Detail{Reason: "Unschedulable"}),
		notice(event.NoticeWaiting, "waiting for p to start", &event.Detail{}),
		notice(event.NoticeBatch, "batch 013 failed", &event.Detail{Batch: "013", State: "failed", Reason: "BackoffLimitExceeded"}),
		notice("following", "following p/blast (ERROR in its name)", nil))
	var in bytes.Buffer
	var want []string
	for i := range corpus {
		in.Write(corpus[i].AppendJSON(nil))
		in.WriteByte('\n')
		want = append(want, map[summary.Level]string{summary.None: "-", summary.Warning: "warning", summary.Error: "error"}[summary.Classify(&corpus[i])])
	}
	script := `import { classify } from "./static/rules.js";
import { readFileSync } from "node:fs";
for (const l of readFileSync(0, "utf8").split("\n")) if (l) console.log(classify(JSON.parse(l)) || "-");`
	cmd := exec.Command(node, "--input-type=module", "-e", script)
	cmd.Stdin = &in
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("node: %v\n%s", err, out)
	}
	got := strings.Fields(string(out))
	if len(got) != len(want) {
		t.Fatalf("%d classes from rules.js, want %d:\n%s", len(got), len(want), out)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("%s %q: the page says %s, the server %s", corpus[i].Notice, corpus[i].Line, got[i], want[i])
		}
	}
}

// The page says a duration in the server's words (core/diagnose.Duration), so that a
// headline and the page's step times read alike.
func TestPageDurationsAreTheServers(t *testing.T) {
	node, err := exec.LookPath("node")
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatal("node is not installed (.ci/run installs npm, which brings it)")
		}
		t.Skip("node is not installed: the page's durations are not compared with the server's")
	}
	ds := []time.Duration{0, 999 * time.Millisecond, time.Second, 59900 * time.Millisecond, time.Minute, 61 * time.Second,
		599 * time.Second, 3599 * time.Second, time.Hour, 90 * time.Minute, 26*time.Hour + 5*time.Minute}
	var in strings.Builder
	for _, d := range ds {
		in.WriteString(strconv.FormatInt(d.Milliseconds(), 10) + "\n")
	}
	script := `import { duration } from "./static/util.js";
import { readFileSync } from "node:fs";
for (const l of readFileSync(0, "utf8").split("\n")) if (l) console.log(duration(Number(l)));`
	cmd := exec.Command(node, "--input-type=module", "-e", script)
	cmd.Stdin = strings.NewReader(in.String())
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("node: %v\n%s", err, out)
	}
	got := strings.Split(strings.TrimSpace(string(out)), "\n")
	if len(got) != len(ds) {
		t.Fatalf("%d durations from util.js, want %d:\n%s", len(got), len(ds), out)
	}
	for i, d := range ds {
		if want := diagnose.Duration(d); got[i] != want {
			t.Errorf("%v: the page says %q, the server %q", d, got[i], want)
		}
	}
}
