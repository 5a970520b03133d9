package summary

import (
	"testing"
	"time"

	"github.com/blastlog/blastlog/core/event"
)

func TestClassify(t *testing.T) {
	for _, c := range []struct {
		line   string
		notice string
		want   Level
	}{
		{"ERROR: database core_nt not found", "", Error},
		{"Error: Invalid value for '--cfg'", "", Error},
		{"FATAL: out of memory", "", Error},
		{"Traceback (most recent call last):", "", Error},
		{"blastn exited with 137", "", Error},
		{"command failed, exit code 2", "", Error},
		{"exit status 0", "", None},
		{"process exited with 0 errors", "", None},
		{"2026-06-01 WARNING: quota close to the limit", "", Warning},
		{"gsutil: Warning: retrying", "", Warning},
		{"WARN low disk", "", Warning},
		{"error rate 0.0 (all good)", "", None},
		{"[1/5] Writing configuration", "", None},
		{"following pod/x (ERROR in its name)", "following", None},
		{"batch-003 ended: exit code 137 (OOMKilled)", "container_ended", Error},
		{"batch-004 ended: exit code 0 (Completed)", "container_ended", None},
	} {
		e := event.Event{Line: c.line, Notice: c.notice}
		if got := Classify(&e); got != c.want {
			t.Errorf("%q (%s): %d, want %d", c.line, c.notice, got, c.want)
		}
	}
}

func TestAddCountsPerStepAndContainer(t *testing.T) {
	r := New()
	t0 := time.Date(2026, 6, 1, 2, 3, 4, 0, time.UTC)
	add := func(phase, pod, line string, stream event.Stream, notice string, at int) {
		e := event.Event{ID: "1-" + string(rune('0'+at)), Phase: phase, Pod: pod, Container: "blast", Line: line, Stream: stream,
			Notice: notice, TS: t0.Add(time.Duration(at) * time.Second)}
		if pod != "" {
			e.Source = event.SourceK8s
		}
		if notice == "container_ended" {
			e.Ended = &event.Ended{ExitCode: 137, Reason: "OOMKilled", StartedAt: t0, FinishedAt: e.TS,
				Completeness: event.Partial, Missing: event.MissingDeleted, MissingLines: 12}
		}
		r.Add(&e)
	}
	add("submitting", "", "start", event.Stdout, "", 1)
	add("running", "b-1", "ERROR: x", event.Stderr, "", 2)
	add("running", "b-1", "last words", event.Stdout, "", 3)
	add("running", "b-1", "b-1 ended: exit code 1", event.Stdout, "container_ended", 4)
	add("", "", "notice", event.Stderr, "collector_started", 5)
	s := r.Steps["running"]
	if s.Count != 3 || s.Errors != 2 || s.Stderr != 1 || !s.FirstTS.Equal(t0.Add(2*time.Second)) || !s.LastTS.Equal(t0.Add(4*time.Second)) {
		t.Fatalf("running %+v", s)
	}
	if r.Steps["system"].Count != 1 || r.Steps["submitting"].Errors != 0 {
		t.Fatalf("steps %+v", r.Steps)
	}
	c := r.Containers["b-1/blast/"]
	if c == nil || c.Count != 2 || c.LastLine != "last words" || c.Ended != "b-1 ended: exit code 1" || c.Errors != 2 {
		t.Fatalf("container %+v", c)
	}
	if c.ExitCode == nil || *c.ExitCode != 137 || c.Reason != "OOMKilled" || !c.StartedAt.Equal(t0) ||
		!c.FinishedAt.Equal(t0.Add(4*time.Second)) || c.Completeness != "partial" || c.Missing != "deleted" || c.MissingLines != 12 {
		t.Fatalf("container_ended fields %+v", c)
	}
	cl := r.Clone()
	cl.Steps["running"].Count = 99
	if r.Steps["running"].Count != 3 {
		t.Fatal("Clone shares steps")
	}
}
