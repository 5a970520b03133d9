package main

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/blastlog/blastlog/core/app"
	"github.com/blastlog/blastlog/core/event"
	"github.com/blastlog/blastlog/core/job"
)

// reportRun is a run of three batches: 000 succeeded, 013 OOMKilled after its memory
// was sampled at 61.8Gi of 62Gi (its Job failed), 014 still running.
func reportRun(t *testing.T, d *deployment, run string) {
	at := time.Now().UTC().Truncate(time.Second)
	var evs []event.Event
	batch := func(num, state, reason string) {
		e := event.System(run, event.PhaseRunning, event.NoticeBatch, "batch "+num+" "+state, at)
		e.Detail = &event.Detail{Object: "Job/blastn-batch-s01-job-" + num + "-3ed51a95", Batch: num, State: state, Reason: reason, Memory: "62Gi", CPU: "15"}
		evs = append(evs, e)
	}
	ended := func(num string, code int, reason string, ran time.Duration, peak int64) {
		pod := "blastn-batch-s01-job-" + num + "-3ed51a95-x7k2p"
		e := event.System(run, event.PhaseRunning, event.NoticeContainerEnded, pod+"/blast ended", at)
		e.Pod, e.Container, e.ContainerID = pod, "blast", "containerd://"+num
		e.Ended = &event.Ended{ExitCode: code, Reason: reason, StartedAt: at.Add(-ran), FinishedAt: at, Completeness: event.Complete,
			Usage: &event.Usage{PeakMemory: peak, CPUMean: 14.25, CPUPeak: 14.6, Samples: 9, First: at.Add(-ran), Last: at}}
		evs = append(evs, e)
	}
	for _, num := range []string{"000", "013", "014"} {
		batch(num, "active", "")
	}
	ended("000", 0, "Completed", 10*time.Minute, 30<<30)
	export := evs[len(evs)-1] // its results-export, in the same pod: not another attempt
	export.Container, export.ContainerID, export.Ended = "results-export", "containerd://000-export",
		&event.Ended{ExitCode: 0, Reason: "Completed", StartedAt: at.Add(-time.Minute), FinishedAt: at, Completeness: event.Complete}
	evs = append(evs, export)
	batch("000", "succeeded", "")
	ended("013", 137, "OOMKilled", 5*time.Minute, 66355200000)
	batch("013", "failed", "BackoffLimitExceeded")
	if _, err := d.log.Append(context.Background(), run, evs); err != nil {
		t.Fatal(err)
	}
	d.publish(run, "blastn-batch-s01-job-014-3ed51a95-x7k2p|blast|running|batch_014: 5/40 queries searched")
	d.setStatus(run, job.Running)
}

// The report: a row per batch with its peak against its limit and its hint, as JSON
// from the API and the client, as CSV that Python's csv module reads, and --failed.
func TestReport(t *testing.T) {
	d := newDeployment(t, 1)
	const run = "run-report"
	d.register(run, alice)
	reportRun(t, d, run)

	code, out, errOut := d.run(nil, "report", run, "-o", "json")
	var rep app.Report
	if code != 0 || json.Unmarshal([]byte(out), &rep) != nil {
		t.Fatalf("report -o json: %d %s %s", code, out, errOut)
	}
	if len(rep.Batches) != 3 || rep.Totals.Batches != 3 || rep.Batches[0].Attempts != 1 || rep.Totals.FailedBatches != 1 || rep.Totals.WallSeconds < 600 ||
		rep.Totals.BatchSeconds < 900 || rep.Totals.NodeHours != nil {
		t.Fatalf("%+v", rep)
	}
	oom := rep.Batches[1]
	if oom.Batch != "013" || oom.Shard != "s01" || oom.State != "failed" || oom.Attempts != 1 || oom.PeakMemory != "61.8Gi" || oom.MemoryLimit != "62Gi" ||
		oom.ExitCode == nil || *oom.ExitCode != 137 || oom.Reason != "OOMKilled" || oom.Seconds == nil || *oom.Seconds != 300 ||
		oom.CPUMean == nil || *oom.CPUMean != 14.25 || !strings.Contains(oom.Hint, "mem-limit") {
		t.Fatalf("batch 013: %+v", oom)
	}
	if running := rep.Batches[2]; running.State != "running" || running.Ended != nil || running.Seconds == nil {
		t.Fatalf("batch 014: %+v", running)
	}

	// The API's CSV is the client's, and Python's csv module reads a row per batch.
	code, csvOut, errOut := d.run(nil, "report", run, "-o", "csv")
	if code != 0 {
		t.Fatalf("report -o csv: %d %s", code, errOut)
	}
	req, _ := http.NewRequest("GET", d.streams[0].base+"/api/blast/logs/"+run+"/report?format=csv", nil)
	req.Header.Set("X-Dev-User", alice)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	apiCSV, _ := io.ReadAll(res.Body)
	res.Body.Close()
	if res.StatusCode != 200 || res.Header.Get("Content-Type") != "text/csv; charset=utf-8" ||
		!strings.Contains(res.Header.Get("Content-Disposition"), `filename="run-report-report.csv"`) {
		t.Fatalf("the API's CSV: %d %v", res.StatusCode, res.Header)
	}
	// Seconds of a running batch move on: the rest is the same.
	cut := func(s string) string { return strings.Join(strings.Split(s, "\n")[:3], "\n") }
	if cut(string(apiCSV)) != cut(csvOut) {
		t.Fatalf("the API's CSV is not the client's:\n%s\n%s", apiCSV, csvOut)
	}
	req.URL.RawQuery = "format=xml"
	if res, err := http.DefaultClient.Do(req); err != nil || res.StatusCode != http.StatusBadRequest {
		t.Fatalf("format=xml: %v %v", res, err)
	}
	py, err := exec.LookPath("python3")
	if err != nil && os.Getenv("CI") != "" {
		t.Fatal("python3 is required in CI: the report's CSV is read with Python's csv module")
	}
	if err == nil {
		cmd := exec.Command(py, "-c", `import csv, sys, json
rows = list(csv.DictReader(sys.stdin))
print(json.dumps([[r["batch"], r["state"], r["peak_memory"], r["memory_limit"], r["exit_code"]] for r in rows]))`)
		cmd.Stdin = strings.NewReader(csvOut)
		got, err := cmd.Output()
		if err != nil || strings.TrimSpace(string(got)) != `[["000", "succeeded", "30Gi", "62Gi", "0"], ["013", "failed", "61.8Gi", "62Gi", "137"], ["014", "running", "", "62Gi", ""]]` {
			t.Fatalf("python's csv: %v %s\n%s", err, got, csvOut)
		}
	}
	if first := strings.SplitN(csvOut, "\n", 2)[0]; first != strings.Join(app.ReportColumns, ",") {
		t.Fatalf("header %q", first)
	}

	code, out, _ = d.run(nil, "report", run, "--failed")
	if code != 0 || out != "013\n" {
		t.Fatalf("--failed: %d %q", code, out)
	}
	code, out, _ = d.run(nil, "report", run)
	if code != 0 || !strings.Contains(out, "013    s01    failed") || !strings.Contains(out, "61.8Gi of 62Gi") ||
		!strings.Contains(out, "3 batches, 1 failed") {
		t.Fatalf("the table: %d\n%s", code, out)
	}
}
