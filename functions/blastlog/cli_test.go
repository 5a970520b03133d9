package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/blastlog/blastlog/adapters/apiclient"
	"github.com/blastlog/blastlog/core/app"
	"github.com/blastlog/blastlog/core/event"
	"github.com/blastlog/blastlog/core/job"
)

// api is the API's own answer, read as alice.
func (d *deployment) api() *apiclient.Client {
	return &apiclient.Client{Base: d.streams[0].base, TicketBase: d.ticket, DevUser: alice}
}

// ids are the ids of -o json output lines.
func ids(t *testing.T, lines []string) []string {
	t.Helper()
	var out []string
	for _, l := range lines {
		var e event.Event
		if err := json.Unmarshal([]byte(l), &e); err != nil {
			t.Fatalf("not an event: %q: %v", l, err)
		}
		out = append(out, e.ID.String())
	}
	return out
}

// logs -f of a live run prints every line once and in order, and exits by the run's
// outcome: 0 when it succeeded, 1 when it failed.
func TestLogsFollowLiveRun(t *testing.T) {
	d := newDeployment(t, 1)
	for _, c := range []struct {
		status job.Status
		code   int
	}{{job.Completed, 0}, {job.Failed, 1}} {
		t.Run(string(c.status), func(t *testing.T) {
			run := "run-" + string(c.status)
			d.register(run, alice)
			want := d.publish(run, "before the follow")
			f := d.blastlog("", nil, "logs", run, "-f", "-o", "raw")
			for i := 0; i < 20; i++ {
				var lines []string
				for j := 0; j < 50; j++ {
					lines = append(lines, fmt.Sprintf("line %04d", i*50+j))
				}
				want = append(want, d.publish(run, lines...)...)
				time.Sleep(10 * time.Millisecond)
			}
			d.setStatus(run, c.status)
			if code := f.wait(t, 30*time.Second); code != c.code {
				t.Fatalf("exit %d, want %d; stderr %s", code, c.code, f.stderr.String())
			}
			got := f.stdout.lines()
			if len(got) != len(want) || got[0] != "before the follow" {
				t.Fatalf("%d lines, want %d: %q", len(got), len(want), got[:min(3, len(got))])
			}
			for i := 1; i < len(got); i++ {
				if got[i] != fmt.Sprintf("line %04d", i-1) {
					t.Fatalf("line %d: %q", i, got[i])
				}
			}
		})
	}
}

// A follow survives a SIGKILL of one of two streaming replicas behind a balancer:
// it resumes on the other with no line lost or repeated.
func TestLogsFollowAcrossReplicaKill(t *testing.T) {
	d := newDeployment(t, 2)
	lb := newBalancer(t, d.streams...)
	d.register("run-k", alice)
	f := d.blastlog(lb.URL, nil, "logs", "run-k", "-f", "-o", "json")
	var want []string
	for i := 0; i < 40; i++ {
		var lines []string
		for j := 0; j < 25; j++ {
			lines = append(lines, fmt.Sprintf("line %d.%d", i, j))
		}
		want = append(want, d.publish("run-k", lines...)...)
		if i == 15 {
			d.streams[0].cmd.Process.Signal(syscall.SIGKILL)
		}
		time.Sleep(20 * time.Millisecond)
	}
	d.setStatus("run-k", job.Completed)
	if code := f.wait(t, 60*time.Second); code != 0 {
		t.Fatalf("exit %d: %s", code, f.stderr.String())
	}
	if got := ids(t, f.stdout.lines()); strings.Join(got, " ") != strings.Join(want, " ") {
		t.Fatalf("%d events, want %d", len(got), len(want))
	}
}

// logs --since, --tail, --from, --grep, --issues, --pod and -o json print exactly
// what the API answers.
func TestLogsFiltersMatchTheAPI(t *testing.T) {
	d := newDeployment(t, 1)
	d.register("run-f", alice)
	old := d.publish("run-f", "old line", "ERROR: old failure")
	time.Sleep(4 * time.Second)
	lines := []string{"submit says hello", "init-ssd-x|init|staging_db|copying the database", "Warning: low disk",
		"blastn-batch-s00-job-001-a|blast|running|Query_1 hits", "blastn-batch-s00-job-002-b|blast|running|ERROR: BLAST engine error",
		"blastn-batch-s01-job-003-c|blast|running|exit code 3 from blastn", "on stderr: INFO Hello", "elb-finalizer-z|fin|exporting_results|done"}
	for i := 0; i < 30; i++ {
		lines = append(lines, fmt.Sprintf("blastn-batch-s%02d-job-%03d-q|blast|running|Query_%d hello %d", i%2, i, i, i))
	}
	recent := d.publish("run-f", lines...)
	all := append(append([]string{}, old...), recent...)
	d.setStatus("run-f", job.Completed)
	ctx := context.Background()
	api := d.api()
	search := func(q app.SearchQuery) []string {
		res, err := api.Search(ctx, "run-f", q)
		if err != nil {
			t.Fatal(err)
		}
		var out []string
		for _, m := range res.Matches {
			out = append(out, m.ID.String())
		}
		return out
	}
	for _, c := range []struct {
		args []string
		want []string
	}{
		{[]string{"--since", "2s"}, recent},
		{[]string{"--tail", "7"}, all[len(all)-7:]},
		{[]string{"--from", recent[3]}, recent[3:]},
		{[]string{"--grep", "HELLO"}, search(app.SearchQuery{Q: "hello"})},
		{[]string{"--issues"}, search(app.SearchQuery{Issues: true})},
		{[]string{"--issues", "--tail", "2"}, lastOf(search(app.SearchQuery{Issues: true}), 2)},
		{[]string{"--phase", "running", "--grep", "query"}, search(app.SearchQuery{Q: "query", Phase: "running"})},
		{[]string{"--pod", "blastn-batch-s01-*"}, podIDs(t, api, "run-f", "blastn-batch-s01-")},
		{nil, all},
	} {
		for _, follow := range []bool{false, true} {
			args := append([]string{"logs", "run-f", "-o", "json"}, c.args...)
			if follow {
				args = append(args, "-f")
			}
			code, out, errOut := d.run(nil, args...)
			if code != 0 {
				t.Fatalf("%v: exit %d: %s", args, code, errOut)
			}
			var lines []string
			if out != "" {
				lines = strings.Split(strings.TrimSuffix(out, "\n"), "\n")
			}
			if got := ids(t, lines); strings.Join(got, " ") != strings.Join(c.want, " ") {
				t.Errorf("%v:\n got %v\nwant %v", args, got, c.want)
			}
			if len(c.want) == 0 {
				t.Fatalf("%v: the case expects nothing", args)
			}
		}
	}
	// -o json is the API's event JSON, byte for byte.
	snap, err := api.Snapshot(ctx, "run-f", app.SnapshotQuery{Limit: 2000})
	if err != nil {
		t.Fatal(err)
	}
	var want bytes.Buffer
	for i := range snap.Events {
		want.Write(append(snap.Events[i].AppendJSON(nil), '\n'))
	}
	if _, out, _ := d.run(nil, "logs", "run-f", "-o", "json"); out != want.String() {
		t.Fatalf("-o json differs from the API's events:\n%s\n%s", out, want.String())
	}
	// Text names the step when it changes and marks nothing else on a non-terminal.
	_, text, _ := d.run(nil, "logs", "run-f", "--tail", "3")
	if !strings.HasPrefix(text, "── Running BLAST ──\n") || strings.Contains(text, "\x1b[") {
		t.Fatalf("text:\n%s", text)
	}
}

func lastOf(s []string, n int) []string { return s[max(0, len(s)-n):] }

// podIDs are the ids of the events of pods named with prefix.
func podIDs(t *testing.T, api *apiclient.Client, run, prefix string) []string {
	snap, err := api.Snapshot(context.Background(), run, app.SnapshotQuery{Limit: 2000})
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, e := range snap.Events {
		if strings.HasPrefix(e.Pod, prefix) {
			out = append(out, e.ID.String())
		}
	}
	return out
}

// status --wait exits by the run's outcome; status alone exits 0 and says where the
// run stands.
func TestStatusWait(t *testing.T) {
	d := newDeployment(t, 1)
	for _, c := range []struct {
		status job.Status
		code   int
	}{{job.Completed, 0}, {job.Failed, 1}, {job.Cancelled, 1}} {
		run := "run-s-" + string(c.status)
		d.register(run, alice)
		d.publish(run, "hello")
		w := d.blastlog("", nil, "status", run, "--wait")
		time.Sleep(300 * time.Millisecond)
		d.setStatus(run, c.status)
		if code := w.wait(t, 30*time.Second); code != c.code {
			t.Errorf("%s: exit %d, want %d: %s", c.status, code, c.code, w.stderr.String())
		}
		if !strings.Contains(w.stdout.String(), run+"  "+string(c.status)) {
			t.Errorf("%s: %q", c.status, w.stdout.String())
		}
		code, out, _ := d.run(nil, "status", run, "-o", "json")
		var s struct {
			JobID     string `json:"job_id"`
			Status    string `json:"status"`
			Diagnosis struct {
				State string `json:"state"`
			} `json:"diagnosis"`
		}
		if code != 0 || json.Unmarshal([]byte(out), &s) != nil || s.JobID != run || s.Status != string(c.status) || s.Diagnosis.State == "" {
			t.Errorf("status -o json: %d %s", code, out)
		}
	}
}

// download -O writes what the API's download answers, and a run not the caller's is
// exit 3.
func TestDownloadEqualsTheAPI(t *testing.T) {
	d := newDeployment(t, 1)
	d.register("run-d", alice)
	d.register("run-bob", bob)
	var lines []string
	for i := 0; i < 3000; i++ {
		lines = append(lines, fmt.Sprintf("blastn-batch-s00-job-%03d-x|blast|running|Query_%d\thit", i%7, i))
	}
	d.publish("run-d", lines...)
	d.setStatus("run-d", job.Completed)
	for _, format := range []string{"text", "ndjson"} {
		file := filepath.Join(t.TempDir(), "run."+format)
		code, _, errOut := d.run(nil, "download", "run-d", "--format", format, "-O", file)
		if code != 0 {
			t.Fatalf("exit %d: %s", code, errOut)
		}
		got, _ := os.ReadFile(file)
		body, err := d.api().Download(context.Background(), "run-d", app.DownloadQuery{Format: format})
		if err != nil {
			t.Fatal(err)
		}
		want, _ := io.ReadAll(body)
		body.Close()
		if !bytes.Equal(got, want) || len(want) == 0 {
			t.Fatalf("%s: %d bytes, the API's %d", format, len(got), len(want))
		}
		if !strings.Contains(errOut, "3000 lines, complete") {
			t.Errorf("stderr: %q", errOut)
		}
		if _, err := os.Stat(file + ".part"); !os.IsNotExist(err) {
			t.Errorf("the .part file is left: %v", err)
		}
	}
	if code, _, errOut := d.run(nil, "download", "run-bob"); code != 3 || !strings.Contains(errOut, "not found") {
		t.Fatalf("another's run: exit %d: %s", code, errOut)
	}
}

// runs lists only the caller's runs.
func TestRunsListsOnlyTheCallers(t *testing.T) {
	d := newDeployment(t, 1)
	d.register("run-a1", alice)
	d.register("run-a2", alice)
	d.register("run-b1", bob)
	code, out, errOut := d.run(nil, "runs", "-o", "json")
	var got struct{ Runs []app.RunInfo }
	if code != 0 || json.Unmarshal([]byte(out), &got) != nil {
		t.Fatalf("exit %d: %s %s", code, out, errOut)
	}
	var names []string
	for _, r := range got.Runs {
		names = append(names, r.JobID)
	}
	if strings.Join(names, ",") != "run-a2,run-a1" {
		t.Fatalf("runs %v", names)
	}
	if _, table, _ := d.run(nil, "runs"); !strings.HasPrefix(table, "RUN ") || strings.Contains(table, "run-b1") {
		t.Fatalf("table:\n%s", table)
	}
}

// Exit codes and one-line errors of scripts' mistakes: usage 2, unknown run 3, a
// server that does not answer 5, a closed pipe 0.
func TestExitCodes(t *testing.T) {
	d := newDeployment(t, 1)
	d.register("run-e", alice)
	var many []string
	for i := 0; i < 4000; i++ { // more than a pipe holds, less than the stream's cap
		many = append(many, fmt.Sprintf("line %d of a long run", i))
	}
	d.publish("run-e", many...)
	for _, c := range []struct {
		env  []string
		args []string
		code int
		msg  string
	}{
		{nil, []string{"logs"}, 2, "needs RUN"},
		{nil, []string{"logs", "run-e", "--tail", "1", "--since", "1m"}, 2, "none of the others can be"},
		{nil, []string{"logs", "run-e", "-o", "yaml"}, 2, "-o must be"},
		{nil, []string{"logs", "run-e", "--bogus"}, 2, "unknown flag"},
		{nil, []string{"logs", "no-such-run"}, 3, "not found"},
		{nil, []string{"status", "no-such-run"}, 3, "not found"},
		{[]string{"BLASTLOG_URL=http://127.0.0.1:1"}, []string{"runs"}, 5, "unavailable"},
		{[]string{"BLASTLOG_URL="}, []string{"runs"}, 2, "BLASTLOG_URL"},
	} {
		code, _, errOut := d.run(c.env, c.args...)
		if code != c.code || !strings.Contains(errOut, c.msg) || strings.Count(errOut, "\n") != 1 {
			t.Errorf("%v: exit %d, want %d; stderr %q", c.args, code, c.code, errOut)
		}
	}
	// | head: the reader goes away early; the client ends quietly with 0.
	sh := fmt.Sprintf("set -o pipefail; BLASTLOG_URL=%s BLASTLOG_TICKET_URL=%s BLASTLOG_DEV_USER=%s %s logs run-e -o raw | head -3",
		d.streams[0].base, d.ticket, alice, bin["blastlog"])
	out, err := execShell(sh)
	if err != nil || out.stdout != "line 0 of a long run\nline 1 of a long run\nline 2 of a long run\n" || out.stderr != "" {
		t.Fatalf("| head: %v %q %q", err, out.stdout, out.stderr)
	}
}

type shellOut struct{ stdout, stderr string }

func execShell(script string) (shellOut, error) {
	var o, e bytes.Buffer
	cmd := exec.Command("bash", "-c", script)
	cmd.Stdout, cmd.Stderr = &o, &e
	err := cmd.Run()
	return shellOut{o.String(), e.String()}, err
}

// Ctrl-C stops a follow at once.
func TestInterruptStopsAtOnce(t *testing.T) {
	d := newDeployment(t, 1)
	d.register("run-i", alice)
	d.publish("run-i", "one")
	f := d.blastlog("", nil, "logs", "run-i", "-f")
	deadline := time.Now().Add(10 * time.Second)
	for !strings.Contains(f.stdout.String(), "one") && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	start := time.Now()
	f.cmd.Process.Signal(os.Interrupt)
	if code := f.wait(t, 5*time.Second); code != 130 {
		t.Fatalf("exit %d", code)
	}
	if el := time.Since(start); el > time.Second {
		t.Fatalf("stopped after %v", el)
	}
}

// A run recorded completed whose batch failed for good failed: status --wait and
// logs -f exit 1 by its diagnosis, not 0 by its record.
func TestExitByTheVerdict(t *testing.T) {
	d := newDeployment(t, 1)
	const run = "run-verdict"
	d.register(run, alice)
	d.publish(run, "blastn-batch-s00-job-013-3ed51a95-x7k2p|blast|running|batch_013: 5/40 queries searched")
	at := time.Now().UTC()
	ended := event.System(run, event.PhaseRunning, event.NoticeContainerEnded, "batch 013 ended (OOMKilled, exit code 137)", at)
	ended.Pod, ended.Container, ended.ContainerID = "blastn-batch-s00-job-013-3ed51a95-x7k2p", "blast", "containerd://013"
	ended.Ended = &event.Ended{ExitCode: 137, Reason: "OOMKilled", StartedAt: at, FinishedAt: at, Completeness: event.Complete}
	failed := event.System(run, event.PhaseRunning, event.NoticeBatch, "batch 013 failed", at)
	failed.Detail = &event.Detail{Object: "Job/blastn-batch-s00-job-013-3ed51a95", Batch: "013", State: "failed", Reason: "BackoffLimitExceeded"}
	if _, err := d.log.Append(context.Background(), run, []event.Event{ended, failed}); err != nil {
		t.Fatal(err)
	}
	w := d.blastlog("", nil, "status", run, "--wait")
	f := d.blastlog("", nil, "logs", run, "-f", "-o", "raw")
	time.Sleep(300 * time.Millisecond)
	d.setStatus(run, job.Completed)
	if code := w.wait(t, 30*time.Second); code != 1 || !strings.Contains(w.stdout.String(), "batch 013 was OOMKilled") {
		t.Fatalf("status --wait: exit %d, want 1: %s %s", code, w.stdout.String(), w.stderr.String())
	}
	if code := f.wait(t, 90*time.Second); code != 1 {
		t.Fatalf("logs -f: exit %d, want 1: %s", code, f.stderr.String())
	}
}

// A server with no ticket route answers 404 to a ticket: the client says which
// setting is missing and exits 5 (unavailable), not 3 (not found).
func TestNoTicketRouteNamesTheSetting(t *testing.T) {
	d := newDeployment(t, 1)
	d.register("run-t", alice)
	c := d.blastlog("", []string{"BLASTLOG_TICKET_URL="}, "logs", "run-t", "-f")
	if code := c.wait(t, 60*time.Second); code != 5 || !strings.Contains(c.stderr.String(), "BLASTLOG_TICKET_URL") ||
		!strings.Contains(c.stderr.String(), "BLASTLOG_STREAM_TICKETS=on") || strings.Contains(c.stderr.String(), "not found") {
		t.Fatalf("exit %d: %s", code, c.stderr.String())
	}
	// An unknown run is still exit 3 through the ticket function.
	if code, _, errOut := d.run(nil, "logs", "run-none", "-f"); code != 3 {
		t.Fatalf("unknown run: exit %d: %s", code, errOut)
	}
}

// Against a server that is not there, logs -f says so once its requests' retries are
// spent, not after rounds of reconnections, and never as a broken stream.
func TestFollowAServerThatIsDown(t *testing.T) {
	d := newDeployment(t, 1)
	down := "http://127.0.0.1:" + freePort(t)
	c := d.blastlog(down, []string{"BLASTLOG_TICKET_URL="}, "logs", "run-x", "-f")
	code := c.wait(t, 60*time.Second)
	if code != 5 || strings.Contains(c.stderr.String(), "broke") || !strings.Contains(c.stderr.String(), "127.0.0.1") {
		t.Fatalf("exit %d: %s", code, c.stderr.String())
	}
}
