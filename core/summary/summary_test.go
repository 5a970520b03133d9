package summary

import (
	"fmt"
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
	// Kubernetes Warning events and pods waiting for a reason are warnings; a Normal
	// event and the collector's plain "waiting to start" are not.
	for _, c := range []struct {
		notice string
		d      event.Detail
		want   Level
	}{
		{event.NoticeK8sEvent, event.Detail{Type: "Warning", Reason: "FailedScheduling"}, Warning},
		{event.NoticeK8sEvent, event.Detail{Type: "Warning", Reason: "BackoffLimitExceeded"}, Warning},
		{event.NoticeK8sEvent, event.Detail{Type: "Normal", Reason: "Scheduled"}, None},
		{event.NoticeWaiting, event.Detail{Reason: "Unschedulable"}, Warning},
		{event.NoticeWaiting, event.Detail{}, None},
		{event.NoticeBatch, event.Detail{State: "failed", Reason: "BackoffLimitExceeded"}, None},
	} {
		e := event.Event{Line: "Pod/x " + c.d.Reason + ": ERROR in its text", Notice: c.notice, Detail: &c.d}
		if got := Classify(&e); got != c.want {
			t.Errorf("%s %+v: %d, want %d", c.notice, c.d, got, c.want)
		}
	}
}

func TestAddCountsPerStepAndContainer(t *testing.T) {
	r := New()
	t0 := time.Date(2026, 6, 1, 2, 3, 4, 0, time.UTC)
	add := func(phase, pod, line string, stream event.Stream, notice string, at int) {
		e := event.Event{ID: event.ID{MS: 1, Seq: uint64(at)}, Phase: phase, Pod: pod, Container: "blast", Line: line, Stream: stream,
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

// The container table: each instance of a restarted container is its own entry, the
// table stops at MaxContainers (the rest only counted), a k8s_event notice naming a
// pod is not a container's line, and the diagnosis is carried and cloned apart.
func TestContainerTableInstancesCapAndDiagnosis(t *testing.T) {
	r := New()
	at := time.Date(2026, 6, 1, 2, 3, 4, 0, time.UTC)
	line := func(pod, id string, restart int, text string) {
		e := event.Event{ID: event.ID{MS: 1, Seq: 1}, Source: event.SourceK8s, Phase: "running", Pod: pod, Container: "blast", ContainerID: id,
			Restart: restart, Line: text, Stream: event.Stdout, TS: at}
		r.Add(&e)
	}
	line("b-5", "c://1", 0, "Error: Stale file handle")
	line("b-5", "c://2", 1, "run start")
	if a, b := r.Containers["b-5/blast/c://1"], r.Containers["b-5/blast/c://2"]; a == nil || b == nil || b.Restart != 1 || a.Errors != 1 || b.Errors != 0 {
		t.Fatalf("instances %+v %+v", a, b)
	}
	ev := event.System("r", "running", event.NoticeK8sEvent, "Pod/b-5 BackOff: restarting", at)
	ev.Pod, ev.Detail = "b-5", &event.Detail{Object: "Pod/b-5", Type: "Warning", Reason: "BackOff"}
	r.Add(&ev)
	if n := r.Containers["b-5//"]; n != nil && n.Count != 0 {
		t.Fatalf("a notice counted as a container's line: %+v", n)
	}
	for i := len(r.Containers); i < MaxContainers+10; i++ {
		line(fmt.Sprintf("p-%d", i), "c://x", 0, "x")
	}
	if len(r.Containers) != MaxContainers || r.ContainersDropped != 10 {
		t.Fatalf("%d containers, %d dropped", len(r.Containers), r.ContainersDropped)
	}
	if len(r.Diagnosis.Waiting) != 1 {
		t.Fatalf("the diagnosis did not see the event: %+v", r.Diagnosis)
	}
	cl := r.Clone()
	cl.Diagnosis.Waiting[0].Reason = "changed"
	if r.Diagnosis.Waiting[0].Reason != "BackOff" {
		t.Fatal("Clone shares the diagnosis")
	}
}

// BenchmarkClassify: the keyword rules on a BLAST hit line that matches none of them,
// the common case (every line of every run passes through them).
func BenchmarkClassify(b *testing.B) {
	e := event.Event{Line: "Query_700001\tgi|109001|ref|NC_000001.1|\t90.10\t101\t0\t1\t101\t1\t101\t1e-41\t203 exited"}
	for b.Loop() {
		Classify(&e)
	}
}
