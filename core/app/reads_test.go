package app

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/blastlog/blastlog/core/app/history"
	"github.com/blastlog/blastlog/core/event"
	"github.com/blastlog/blastlog/core/job"
	"github.com/blastlog/blastlog/ports"
	"github.com/blastlog/blastlog/ports/portstest"
)

func newReads(t *testing.T) (*Reads, *portstest.EventLog) {
	ts, _ := newTickets(t)
	log := portstest.NewEventLog(0)
	ts0 := time.Date(2026, 6, 1, 2, 3, 4, 500e6, time.UTC)
	var evs []event.Event
	for i, l := range []struct{ phase, pod, line string }{
		{"submitting", "", "[1/5] Writing configuration"},
		{"running", "blastn-batch-nt-job-001-3ed51a95-x", "ERROR: db missing"},
		{"running", "blastn-batch-nt-job-002-3ed51a95-y", "WARNING: slow"},
		{"running", "blastn-batch-nt-job-002-3ed51a95-y", "done"},
	} {
		e := portstest.Event("run-a", l.line)
		e.Phase, e.TS = l.phase, ts0.Add(time.Duration(i)*time.Second)
		if l.pod != "" {
			e.Source, e.Pod, e.Container = event.SourceK8s, l.pod, "blast"
		}
		evs = append(evs, e)
	}
	if _, err := log.Append(context.Background(), "run-a", evs); err != nil {
		t.Fatal(err)
	}
	return &Reads{Access: ts.Access, History: &history.Reader{Log: log}}, log
}

func TestDownloadFormatsAndTrailer(t *testing.T) {
	r, _ := newReads(t)
	ctx := context.Background()
	rec, err := r.Authorize(ctx, ports.Credentials{Bearer: "tok-alice"}, "run-a")
	if err != nil {
		t.Fatal(err)
	}
	var b bytes.Buffer
	got, err := r.Download(ctx, rec, &b, DownloadQuery{})
	if err != nil || got.Count != 4 || got.Complete {
		t.Fatalf("%+v %v", got, err)
	}
	want := "2026-06-01T02:03:04.500Z submitting submit stdout: [1/5] Writing configuration\n" +
		"2026-06-01T02:03:05.500Z running blastn-batch-nt-job-001-3ed51a95-x/blast stdout: ERROR: db missing\n"
	if !strings.HasPrefix(b.String(), want) || !strings.HasSuffix(b.String(), "\n# 4 lines, partial\n") {
		t.Fatalf("text:\n%s", b.String())
	}
	rec.Status = job.Completed
	b.Reset()
	got, _ = r.Download(ctx, rec, &b, DownloadQuery{Format: FormatNDJSON, Phase: "running"})
	lines := strings.Split(strings.TrimSpace(b.String()), "\n")
	if got.Count != 3 || len(lines) != 4 || lines[3] != `{"trailer":true,"count":3,"complete":true}` {
		t.Fatalf("ndjson %v", lines)
	}
	for _, q := range []DownloadQuery{{Format: "csv"}, {Phase: "a\x01"}, {Phase: strings.Repeat("p", 81)}} {
		if err := q.Validate(); !errors.Is(err, ErrBadQuery) {
			t.Errorf("%+v: %v", q, err)
		}
	}
}

func TestSearchFiltersAndLineNumbers(t *testing.T) {
	r, _ := newReads(t)
	ctx := context.Background()
	res, err := r.Search(ctx, "run-a", SearchQuery{Issues: true})
	if err != nil || len(res.Matches) != 2 || res.Matches[0].LineNo != 1 || res.Matches[1].LineNo != 2 || res.Scanned != 4 {
		t.Fatalf("issues: %+v %v", res, err)
	}
	res, _ = r.Search(ctx, "run-a", SearchQuery{Q: "done", Pod: "blastn-batch-nt-job-002-3ed51a95-y"})
	if len(res.Matches) != 1 || res.Matches[0].LineNo != 3 {
		t.Fatalf("pod filter: %+v", res)
	}
	res, _ = r.Search(ctx, "run-a", SearchQuery{Q: "e", Limit: 1})
	if len(res.Matches) != 1 || !res.Truncated || res.NextAfter != res.Matches[0].ID {
		t.Fatalf("limit: %+v", res)
	}
	next, _ := r.Search(ctx, "run-a", SearchQuery{Q: "e", After: res.NextAfter.String()})
	if len(next.Matches) != 1 || next.Matches[0].Line != "done" || next.Truncated {
		t.Fatalf("next page: %+v", next)
	}
	// The next page starts where the first stopped, with its line counts; without the
	// mark (another replica) it reads from the first event: the same page.
	other := &Reads{Access: r.Access, History: r.History, Index: r.Index}
	cold, _ := other.Search(ctx, "run-a", SearchQuery{Q: "e", After: res.NextAfter.String()})
	if fmt.Sprint(cold) != fmt.Sprint(next) || next.Matches[0].LineNo != 3 {
		t.Fatalf("the next page with its mark %+v, without %+v", next, cold)
	}
	if _, ok := other.marks.get("run-a", cold.NextAfter); !ok {
		t.Fatal("no mark left where the search stopped")
	}
	b, _ := res.Matches[0].MarshalJSON()
	if !strings.HasSuffix(string(b), `,"line_no":1}`) {
		t.Fatalf("json %s", b)
	}
	var back Match
	if err := back.UnmarshalJSON(b); err != nil || back.LineNo != 1 || back.Line != res.Matches[0].Line {
		t.Fatalf("round trip %+v %v", back, err)
	}
	for _, q := range []SearchQuery{{Q: strings.Repeat("x", 201)}, {Q: "x", Stream: "stdin"}, {Q: "x", After: "nope"}} {
		if err := q.Validate(); err == nil {
			t.Errorf("%+v accepted", q)
		}
	}
}

func TestSummaryAndRuns(t *testing.T) {
	r, _ := newReads(t)
	ctx := context.Background()
	rec, _ := r.Authorize(ctx, ports.Credentials{Bearer: "tok-alice"}, "run-a")
	s, err := r.Summary(ctx, rec)
	if err != nil || s.Count != 4 || s.Steps["running"].Errors != 1 || s.Steps["running"].Warnings != 1 || len(s.Containers) != 2 {
		t.Fatalf("%+v %v", s, err)
	}
	runs, err := r.Runs(ctx, ports.Credentials{Bearer: "tok-alice"}, 0)
	if err != nil || len(runs) != 1 || runs[0].JobID != "run-a" {
		t.Fatalf("runs %+v %v", runs, err)
	}
	if _, err := r.Authorize(ctx, ports.Credentials{Bearer: "tok-alice"}, "run-b"); !errors.Is(err, ports.ErrNotFound) {
		t.Fatalf("another owner's run: %v", err)
	}
}

// Notices are searched by their reason and exit code too, and the summary gives the
// verdict they imply (docs/api.md §8).
func TestSearchFindsNoticesAndSummaryDiagnoses(t *testing.T) {
	r, log := newReads(t)
	ctx := context.Background()
	at := time.Date(2026, 6, 1, 2, 10, 0, 0, time.UTC)
	pod := "blastn-batch-nt-job-001-3ed51a95-x"
	ended := event.System("run-a", "running", event.NoticeContainerEnded, pod+"/blast ended: all 1 lines stored", at)
	ended.Pod, ended.Container = pod, "blast"
	ended.Ended = &event.Ended{ExitCode: 137, Reason: "OOMKilled", StartedAt: at.Add(-time.Minute), FinishedAt: at,
		Completeness: event.Complete}
	job1 := event.System("run-a", "running", event.NoticeBatch, "batch 001 failed", at)
	job1.Detail = &event.Detail{Object: "Job/blastn-batch-nt-job-001-3ed51a95", Batch: "001", State: "failed",
		Reason: "BackoffLimitExceeded", Memory: "62Gi"}
	if _, err := log.Append(ctx, "run-a", []event.Event{ended, job1}); err != nil {
		t.Fatal(err)
	}
	for _, q := range []string{"oomkilled", "OOMKilled", "137"} {
		res, err := r.Search(ctx, "run-a", SearchQuery{Q: q})
		if err != nil || len(res.Matches) != 1 || res.Matches[0].Notice != event.NoticeContainerEnded {
			t.Fatalf("q=%s: %+v %v", q, res.Matches, err)
		}
	}
	rec, _ := r.Authorize(ctx, ports.Credentials{Bearer: "tok-alice"}, "run-a")
	rec.Status = job.Failed
	r.Now = func() time.Time { return at.Add(time.Minute) }
	s, err := r.Summary(ctx, rec)
	if err != nil {
		t.Fatal(err)
	}
	d := s.Diagnosis
	if d.State != "failed" || !strings.Contains(d.Headline, "batch 001 was OOMKilled (exit 137, limit 62Gi)") ||
		len(d.Causes) == 0 || d.Causes[0].Hint == "" || d.Progress == nil || d.Progress.Failed != 1 {
		t.Fatalf("%+v", d)
	}
}
