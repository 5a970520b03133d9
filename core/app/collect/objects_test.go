package collect

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/blastlog/blastlog/core/diagnose"
	"github.com/blastlog/blastlog/core/event"
	"github.com/blastlog/blastlog/core/summary"
	"github.com/blastlog/blastlog/core/target"
)

func TestFollowsEveryLineAndEndsEachContainer(t *testing.T) {
	r := newRig(t)
	p := target.Pod{Name: "submit-jobs-3ed51a95-q9w8e", Init: []target.Container{{Name: "get-creds"}},
		Main: []target.Container{{Name: "submit-jobs"}}}
	r.cluster.AddPod(p)
	stop := r.collect("a")
	for _, c := range []string{"get-creds", "submit-jobs"} {
		r.cluster.StartContainer("default", p.Name, c)
		for i := 0; i < 50; i++ {
			r.cluster.Log("default", p.Name, c, fmt.Sprintf("%s line %d", c, i))
		}
		r.cluster.EndContainer("default", p.Name, c, 0, "Completed")
	}
	evs := r.waitFor("both containers ended", count(event.NoticeContainerEnded, 2))
	if err := stop(); err != nil {
		t.Fatal(err)
	}
	seen := map[string]int{}
	for _, e := range r.events() {
		if e.Source == event.SourceK8s {
			seen[e.Line]++
		}
	}
	for _, c := range []string{"get-creds", "submit-jobs"} {
		for i := 0; i < 50; i++ {
			if l := fmt.Sprintf("%s line %d", c, i); seen[l] != 1 {
				t.Fatalf("%q stored %d times", l, seen[l])
			}
		}
	}
	for _, e := range notices(evs, event.NoticeContainerEnded) {
		if e.Ended.Completeness != event.Complete || e.Ended.ExitCode != 0 || e.Pod != p.Name {
			t.Fatalf("%s", e.AppendJSON(nil))
		}
	}
}

func TestWaitingPodIsNoticedOncePerCause(t *testing.T) {
	r := newRig(t)
	p := batchPod(17, "x7k2p")
	p.Unschedulable, p.UnschedulableMessage = "Unschedulable", "0/3 nodes are available: 3 Insufficient memory."
	r.cluster.AddPod(p)
	stop := r.collect("a")
	defer stop()
	evs := r.waitFor("a waiting notice", count(event.NoticeWaiting, 1))
	w := notices(evs, event.NoticeWaiting)[0]
	if w.Detail == nil || w.Detail.Reason != "Unschedulable" || w.Detail.Object != "Pod/"+p.Name || w.Pod != p.Name ||
		w.Line != p.Name+" Unschedulable: 0/3 nodes are available: 3 Insufficient memory." || w.Phase != event.PhaseRunning {
		t.Fatalf("%s", w.AppendJSON(nil))
	}
	// Seen again on every change and every tick: still one notice for that cause.
	for i := 0; i < 5; i++ {
		r.cluster.UpdatePod("default", p.Name, func(*target.Pod) {})
		time.Sleep(30 * time.Millisecond)
	}
	// Scheduled, then its image cannot be pulled: a new cause, one more notice.
	r.cluster.UpdatePod("default", p.Name, func(p *target.Pod) {
		p.Unschedulable, p.UnschedulableMessage = "", ""
		p.Main[0].WaitingReason, p.Main[0].WaitingMessage = "ImagePullBackOff", `Back-off pulling image "elb:1.4.1"`
	})
	evs = r.waitFor("a second cause", count(event.NoticeWaiting, 2))
	if ws := notices(evs, event.NoticeWaiting); len(ws) != 2 || ws[1].Detail.Reason != "ImagePullBackOff" || ws[1].Container != "blast" {
		t.Fatalf("%s", dump(ws))
	}
	// It starts and writes: the diagnosis no longer counts it as waiting.
	r.cluster.StartContainer("default", p.Name, "blast")
	r.cluster.Log("default", p.Name, "blast", "run start 017")
	evs = r.waitFor("its first line", func(evs []event.Event) bool {
		for _, e := range evs {
			if e.Line == "run start 017" {
				return true
			}
		}
		return false
	})
	if n := len(notices(evs, event.NoticeWaiting)); n != 2 {
		t.Fatalf("%d waiting notices", n)
	}
	var s summary.Run
	for i := range evs {
		s.Add(&evs[i])
	}
	d := s.Diagnosis.Diagnose(diagnose.Run{Status: "running", Now: time.Now()})
	if d.State != diagnose.StateRunning || len(d.Causes) != 0 {
		t.Fatalf("%+v", d)
	}
}

func TestWarningEventsOfTheRunOnlyOncePerCount(t *testing.T) {
	r := newRig(t)
	ours := batchPod(3, "q9w8e")
	labelled := target.Pod{Name: "init-pv-abcde", Labels: map[string]string{target.LabelJobID: elbID}, Main: []target.Container{{Name: "init"}}}
	r.cluster.AddPod(ours)
	r.cluster.Event(target.Event{UID: "e1", Kind: "Pod", Name: ours.Name, Type: "Warning", Reason: "FailedScheduling",
		Text: "0/4 nodes are available: 3 Insufficient cpu.", Count: 2})
	r.cluster.Event(target.Event{UID: "e2", Kind: "Pod", Name: "blastn-batch-s00-job-003-cafebabe-zzzzz", Type: "Warning",
		Reason: "FailedScheduling", Text: "another run's pod"})
	r.cluster.Event(target.Event{UID: "e3", Kind: "Pod", Name: ours.Name, Type: "Normal", Reason: "Scheduled", Text: "assigned"})
	r.cluster.Event(target.Event{UID: "e4", Kind: "Job", Name: "blastn-batch-s01-job-013-3ed51a95", Type: "Warning",
		Reason: "BackoffLimitExceeded", Text: "Job has reached the specified backoff limit"})
	// An event of a pod whose name does not carry the run's suffix: kept until the pod
	// is known (by its label), then stored.
	r.cluster.Event(target.Event{UID: "e5", Kind: "Pod", Name: labelled.Name, FieldPath: "spec.containers{init}",
		Type: "Warning", Reason: "FailedMount", Text: `MountVolume.SetUp failed for volume "blast-dbs"`})
	stop := r.collect("a")
	r.waitFor("two events of the run", count(event.NoticeK8sEvent, 2))
	r.cluster.AddPod(labelled)
	evs := r.waitFor("the labelled pod's event", count(event.NoticeK8sEvent, 3))
	// The same count again, many times: nothing new.
	for i := 0; i < 5; i++ {
		r.cluster.Event(target.Event{UID: "e1", Kind: "Pod", Name: ours.Name, Type: "Warning", Reason: "FailedScheduling",
			Text: "0/4 nodes are available: 3 Insufficient cpu.", Count: 2})
		time.Sleep(10 * time.Millisecond)
	}
	if err := stop(); err != nil {
		t.Fatal(err)
	}
	evs = notices(r.events(), event.NoticeK8sEvent)
	if len(evs) != 3 {
		t.Fatalf("%s", dump(evs))
	}
	byReason := map[string]event.Event{}
	for _, e := range evs {
		if strings.Contains(e.Line, "another run") || strings.Contains(e.Line, "assigned") {
			t.Fatalf("not the run's: %s", e.Line)
		}
		byReason[e.Detail.Reason] = e
	}
	fs := byReason["FailedScheduling"]
	if fs.Detail.Object != "Pod/"+ours.Name || fs.Detail.Count != 2 || fs.Detail.Type != "Warning" || fs.Pod != ours.Name ||
		fs.Line != "Pod/"+ours.Name+" FailedScheduling: 0/4 nodes are available: 3 Insufficient cpu." {
		t.Fatalf("%s", fs.AppendJSON(nil))
	}
	if j := byReason["BackoffLimitExceeded"]; j.Detail.Object != "Job/blastn-batch-s01-job-013-3ed51a95" || j.Pod != "" {
		t.Fatalf("%s", j.AppendJSON(nil))
	}
	if m := byReason["FailedMount"]; m.Container != "init" || m.Phase != event.PhaseRunning && m.Phase != event.PhaseStagingDB {
		t.Fatalf("%s", m.AppendJSON(nil))
	}
	// A new holder (a takeover) does not say them again; a grown count it does.
	r.cluster.Event(target.Event{UID: "e1", Kind: "Pod", Name: ours.Name, Type: "Warning", Reason: "FailedScheduling",
		Text: "0/4 nodes are available: 3 Insufficient cpu.", Count: 5})
	stop = r.collect("b")
	r.waitFor("the grown count", count(event.NoticeK8sEvent, 4))
	time.Sleep(100 * time.Millisecond)
	if err := stop(); err != nil {
		t.Fatal(err)
	}
	if evs := notices(r.events(), event.NoticeK8sEvent); len(evs) != 4 || evs[3].Detail.Count != 5 {
		t.Fatalf("after the takeover:\n%s", dump(evs))
	}
}

// A batch Job that fails with BackoffLimitExceeded after two OOMKilled attempts: both
// attempts' container_ended notices, the Job's states, and a failed verdict naming
// OOMKilled with the memory limit.
func TestBatchFailsAfterTwoOOMKilledAttempts(t *testing.T) {
	r := newRig(t)
	j := target.Job{Name: "blastn-batch-s00-job-013-3ed51a95", Labels: map[string]string{target.LabelApp: "blast"},
		MemoryLimit: "62Gi", CPULimit: "15"}
	r.cluster.Job(j)
	r.cluster.Job(target.Job{Name: "blastn-batch-s00-job-014-3ed51a95", MemoryLimit: "62Gi"})
	r.cluster.Job(target.Job{Name: "blastn-batch-s00-job-013-cafebabe"}) // another run's
	stop := r.collect("a")
	defer stop()
	r.waitFor("the run's two batches", count(event.NoticeBatch, 2))
	for i, attempt := range []string{"a1", "a2"} {
		p := batchPod(13, attempt)
		r.cluster.AddPod(p)
		r.cluster.StartContainer("default", p.Name, "blast")
		r.cluster.Log("default", p.Name, "blast", "run start 013 attempt "+attempt)
		r.cluster.EndContainer("default", p.Name, "blast", 137, "OOMKilled")
		r.waitFor("the attempt's end", count(event.NoticeContainerEnded, i+1))
	}
	j.Done, j.Reason = "failed", "BackoffLimitExceeded"
	r.cluster.Job(j)
	evs := r.waitFor("the Job's failure", count(event.NoticeBatch, 3))
	batches := notices(evs, event.NoticeBatch)
	last := batches[len(batches)-1]
	if last.Detail.Batch != "013" || last.Detail.State != "failed" || last.Detail.Reason != "BackoffLimitExceeded" ||
		last.Detail.Memory != "62Gi" || last.Detail.CPU != "15" {
		t.Fatalf("%s", last.AppendJSON(nil))
	}
	for _, b := range batches {
		if strings.Contains(b.Detail.Object, "cafebabe") {
			t.Fatalf("another run's Job: %s", b.Line)
		}
	}
	var s summary.Run
	for i := range evs {
		s.Add(&evs[i])
	}
	d := s.Diagnosis.Diagnose(diagnose.Run{Status: "failed", Now: time.Now()})
	if d.State != diagnose.StateFailed || d.Headline != "1 of 2 batches failed: batch 013 was OOMKilled (exit 137, limit 62Gi)." {
		t.Fatalf("%s: %s", d.State, d.Headline)
	}
	ended := notices(evs, event.NoticeContainerEnded)
	if len(ended) != 2 || ended[0].Ended.Reason != "OOMKilled" || ended[1].Ended.Reason != "OOMKilled" || ended[0].Pod == ended[1].Pod {
		t.Fatalf("%s", dump(ended))
	}
}

// Without permission to watch events, the collector says so once and still follows
// the pods.
func TestForbiddenEventsAreSaidOnce(t *testing.T) {
	r := newRig(t)
	r.cluster.Forbid("events")
	p := batchPod(1, "h4j5k")
	r.cluster.AddPod(p)
	stop := r.collect("a")
	defer stop()
	r.cluster.StartContainer("default", p.Name, "blast")
	r.cluster.Log("default", p.Name, "blast", "hello")
	r.cluster.EndContainer("default", p.Name, "blast", 0, "Completed")
	evs := r.waitFor("the container's end", count(event.NoticeContainerEnded, 1))
	time.Sleep(50 * time.Millisecond)
	deg := notices(r.events(), "degraded")
	if len(deg) != 1 || !strings.Contains(deg[0].Line, "cannot watch the run's events: the collector lacks permission (events list/watch") {
		t.Fatalf("%s", dump(evs))
	}
}

// A run's events are remembered up to maxEvents; past it one degraded notice says so and
// nothing more is stored.
func TestEventsOfARunAreBounded(t *testing.T) {
	r := newRig(t)
	p := batchPod(1, "h4j5k")
	r.cluster.AddPod(p)
	for i := 0; i < maxEvents+5; i++ {
		r.cluster.Event(target.Event{UID: fmt.Sprintf("e%d", i), Kind: "Pod", Name: p.Name, Type: "Warning", Reason: "BackOff",
			Text: fmt.Sprintf("back-off %d", i)})
	}
	stop := r.collect("a")
	r.waitFor("the bound said", count("degraded", 1))
	time.Sleep(50 * time.Millisecond)
	if err := stop(); err != nil {
		t.Fatal(err)
	}
	evs := r.events()
	if n := len(notices(evs, event.NoticeK8sEvent)); n != maxEvents {
		t.Fatalf("%d events stored, want %d", n, maxEvents)
	}
	deg := notices(evs, "degraded")
	if len(deg) != 1 || !strings.Contains(deg[0].Line, "more than 10000 Kubernetes warnings") {
		t.Fatalf("%s", dump(deg))
	}
}
