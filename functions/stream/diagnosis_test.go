package main

import (
	"context"
	"encoding/json"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/rest"

	"github.com/blastlog/blastlog/adapters/archive/fsdir"
	"github.com/blastlog/blastlog/adapters/kube/kubesim"
	"github.com/blastlog/blastlog/adapters/redisstore"
	"github.com/blastlog/blastlog/core/app"
	"github.com/blastlog/blastlog/core/app/collect"
	"github.com/blastlog/blastlog/core/diagnose"
	"github.com/blastlog/blastlog/core/event"
	"github.com/blastlog/blastlog/core/summary"
	"github.com/blastlog/blastlog/core/target"
)

// diagDriver is a driver that also plays what Kubernetes says about the run's
// objects: events, Jobs, pods that wait (kubesim, or kubesim mirrored into a real API
// server through the API).
type diagDriver interface {
	driver
	Event(corev1.Event)
	Job(batchv1.Job)
	EndJob(ns, name string, failed bool, reason string)
	Schedule(ns, name string)
	TerminateWith(ns, name, c string, code int32, reason string)
	Use(ns, name, c string, memory int64, cpu float64)
}

// diagBackends runs f against kubesim and against the real control plane, there
// under the shipped RBAC (infra/k8s/base/rbac.yaml).
func diagBackends(t *testing.T, f func(t *testing.T, k *kstack, d diagDriver)) {
	t.Run("kubesim", func(t *testing.T) {
		sim := kubesim.New()
		t.Cleanup(sim.Close)
		f(t, newK(t, sim, &rest.Config{Host: sim.URL()}, "default"), sim)
	})
	t.Run("apiserver", func(t *testing.T) {
		cp := realPlane(t)
		m := cp.NewMirror()
		f(t, newK(t, m, shippedRBAC(t, cp.Admin, m.Namespace, false), m.Namespace), m)
	})
}

// diagCollector waits 300 ms (not 30 s) before a pod counts as waiting.
func (k *kstack) diagCollector(t *testing.T, holder string) *collect.Collector {
	c := k.collector(t, holder, 8)
	c.Config.WaitingAfter = 300 * time.Millisecond
	return c
}

func (k *kstack) waitEvents(t *testing.T, what string, cond func([]event.Event) bool) []event.Event {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		evs := k.events(t)
		if cond(evs) {
			return evs
		}
		if time.Now().After(deadline) {
			var b strings.Builder
			for _, e := range evs {
				fmt.Fprintf(&b, "  %s\n", e.AppendJSON(nil))
			}
			t.Fatalf("timed out waiting for %s; the run's log:\n%s", what, b.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func hasNotice(kind string, n int, match func(event.Event) bool) func([]event.Event) bool {
	return func(evs []event.Event) bool {
		c := 0
		for _, e := range evs {
			if e.Notice == kind && (match == nil || match(e)) {
				c++
			}
		}
		return c >= n
	}
}

func verdict(evs []event.Event, status string, now time.Time, stuckAfter time.Duration) diagnose.Diagnosis {
	var s summary.Run
	for i := range evs {
		s.Add(&evs[i])
	}
	return s.Diagnosis.Diagnose(diagnose.Run{Status: status, Now: now, StuckAfter: stuckAfter})
}

// A batch pod Pending on FailedScheduling: its waiting notice and the scheduler's
// event, the run stuck once nothing moved for stuck-after, then running again once
// it schedules. Another run's pod in the same namespace, with an event of its own,
// never appears.
func TestPendingBatchWaitsIsStuckThenRuns(t *testing.T) {
	diagBackends(t, func(t *testing.T, k *kstack, d diagDriver) {
		wait, cancel := collectRun(t, k.diagCollector(t, "diag"))
		defer cancel()
		started := "blastn-batch-s00-job-000-" + suffix + "-a0000"
		d.AddPod(kubesim.PodSpec{Name: started, Main: []string{"blast"}, Labels: map[string]string{target.LabelApp: "blast"}})
		d.Start("default", started, "blast")
		d.Log("default", started, "blast", "run start 000")
		pending := "blastn-batch-s00-job-017-" + suffix + "-x7k2p"
		msg := "0/3 nodes are available: 3 Insufficient memory. preemption: 0/3 nodes are available: 3 No preemption victims found for incoming pod."
		d.AddPod(kubesim.PodSpec{Name: pending, Main: []string{"blast"}, Labels: map[string]string{target.LabelApp: "blast"},
			Unschedulable: msg})
		theirs := "blastn-batch-s00-job-017-cafebabe-zzzzz"
		d.AddPod(kubesim.PodSpec{Name: theirs, Main: []string{"blast"}, Labels: map[string]string{target.LabelJobID: otherR},
			Unschedulable: msg})
		for _, pod := range []string{theirs, pending} {
			d.Event(corev1.Event{ObjectMeta: metav1.ObjectMeta{Name: pod + ".fs"}, Type: corev1.EventTypeWarning,
				Reason: "FailedScheduling", Message: msg, InvolvedObject: corev1.ObjectReference{Kind: "Pod", Name: pod},
				Source: corev1.EventSource{Component: "default-scheduler"}})
		}
		evs := k.waitEvents(t, "the waiting notice and the event", func(evs []event.Event) bool {
			return hasNotice(event.NoticeWaiting, 1, nil)(evs) && hasNotice(event.NoticeK8sEvent, 1, nil)(evs)
		})
		for _, e := range evs {
			if strings.Contains(e.Line, "cafebabe") || e.Pod == theirs {
				t.Fatalf("another run's pod in the run's log: %s", e.AppendJSON(nil))
			}
		}
		for _, e := range evs {
			switch e.Notice {
			case event.NoticeWaiting:
				if e.Pod != pending || e.Detail.Reason != "Unschedulable" || !strings.Contains(e.Line, "Insufficient memory") {
					t.Fatalf("%s", e.AppendJSON(nil))
				}
			case event.NoticeK8sEvent:
				if e.Detail.Object != "Pod/"+pending || e.Detail.Reason != "FailedScheduling" || e.Detail.Count != 1 {
					t.Fatalf("%s", e.AppendJSON(nil))
				}
			}
		}
		// Nothing moves for a minute: stuck, with the hint of the hint table.
		dg := verdict(evs, "running", time.Now().Add(61*time.Second), time.Minute)
		if dg.State != diagnose.StateStuck || len(dg.Causes) == 0 || !strings.Contains(dg.Causes[0].Hint, "mem-request") {
			t.Fatalf("after a minute pending: %+v", dg)
		}
		// It schedules and writes: running, and the waiting cause is gone.
		d.Schedule("default", pending)
		d.Start("default", pending, "blast")
		d.Log("default", pending, "blast", "run start 017")
		evs = k.waitEvents(t, "the pending batch's first line", func(evs []event.Event) bool {
			for _, e := range evs {
				if e.Line == "run start 017" {
					return true
				}
			}
			return false
		})
		dg = verdict(evs, "running", time.Now().Add(time.Second), time.Minute)
		if dg.State != diagnose.StateRunning || len(dg.Causes) != 0 {
			t.Fatalf("after it scheduled: %+v", dg)
		}
		for _, p := range []string{started, pending} {
			d.Terminate("default", p, "blast", 0)
		}
		d.Delete("default", theirs)
		k.finish(t)
		if err := wait(); err != nil {
			t.Fatal(err)
		}
	})
}

// A batch Job that fails with BackoffLimitExceeded after two OOMKilled attempts: both
// attempts' container_ended notices, and a failed verdict naming OOMKilled with the
// memory limit of the pod spec and the peak the metrics API reported (through the
// API server's aggregator on the real control plane).
func TestBatchFailsWithBackoffLimitAfterTwoOOMKilled(t *testing.T) {
	diagBackends(t, func(t *testing.T, k *kstack, d diagDriver) {
		c := k.diagCollector(t, "diag")
		c.Config.MetricsEvery = 50 * time.Millisecond
		if sim, ok := d.(*kubesim.Sim); ok { // the real control plane's node has its labels
			sim.AddNode(kubesim.DefaultNode, map[string]string{target.LabelInstanceType: "Standard_E32s_v3", target.LabelRegion: "eastus"})
		}
		wait, cancel := collectRun(t, c)
		defer cancel()
		limits := corev1.ResourceList{corev1.ResourceMemory: resource.MustParse("62Gi"), corev1.ResourceCPU: resource.MustParse("15")}
		for n := 13; n <= 14; n++ {
			name := fmt.Sprintf("blastn-batch-s01-job-%03d-%s", n, suffix)
			j := batchv1.Job{ObjectMeta: metav1.ObjectMeta{Name: name, Labels: map[string]string{target.LabelApp: "blast"}}}
			j.Spec.Template.Spec.Containers = []corev1.Container{{Name: "blast", Image: "ncbi/elb",
				Resources: corev1.ResourceRequirements{Limits: limits}}}
			d.Job(j)
		}
		job := "blastn-batch-s01-job-013-" + suffix
		k.waitEvents(t, "the two batches", hasNotice(event.NoticeBatch, 2, nil))
		for i, attempt := range []string{"a1b2c", "d3e4f"} {
			pod := job + "-" + attempt
			d.AddPod(kubesim.PodSpec{Name: pod, Job: job, Main: []string{"blast"}, Labels: map[string]string{target.LabelApp: "blast"},
				Limits: map[string]corev1.ResourceList{"blast": limits}})
			d.Start("default", pod, "blast")
			d.Log("default", pod, "blast", "run start 013 "+attempt)
			// Its memory climbs to the limit, a few samples at each step.
			for _, gib := range []float64{20, 45, 61.8} {
				d.Use("default", pod, "blast", int64(gib*(1<<30)), 14.6)
				time.Sleep(250 * time.Millisecond)
			}
			d.TerminateWith("default", pod, "blast", 137, "OOMKilled")
			k.waitEvents(t, "the attempt's end", hasNotice(event.NoticeContainerEnded, i+1, nil))
		}
		d.Event(corev1.Event{ObjectMeta: metav1.ObjectMeta{Name: job + ".bl"}, Type: corev1.EventTypeWarning,
			Reason: "BackoffLimitExceeded", Message: "Job has reached the specified backoff limit",
			InvolvedObject: corev1.ObjectReference{Kind: "Job", Name: job}, Source: corev1.EventSource{Component: "job-controller"}})
		d.EndJob("default", job, true, "BackoffLimitExceeded")
		evs := k.waitEvents(t, "the Job's failure and the node released after the last attempt", func(evs []event.Event) bool {
			// The node's last notice is released, at the last attempt's end or after (the
			// two notices come in either order).
			var lastEnd time.Time
			var node *event.Detail
			for _, e := range evs {
				switch e.Notice {
				case event.NoticeContainerEnded:
					lastEnd = e.Ended.FinishedAt
				case event.NoticeNode:
					node = e.Detail
				}
			}
			released := node != nil && node.State == "released" && !lastEnd.IsZero() && !node.LastTS.Before(lastEnd.Truncate(time.Second))
			return hasNotice(event.NoticeBatch, 1, func(e event.Event) bool { return e.Detail.State == "failed" })(evs) &&
				hasNotice(event.NoticeK8sEvent, 1, nil)(evs) && released
		})
		var ended int
		for _, e := range evs {
			if e.Notice == event.NoticeContainerEnded {
				ended++
				if e.Ended.ExitCode != 137 || e.Ended.Reason != "OOMKilled" {
					t.Fatalf("%s", e.AppendJSON(nil))
				}
			}
			if e.Notice == event.NoticeBatch && e.Detail.State == "failed" &&
				(e.Detail.Reason != "BackoffLimitExceeded" || e.Detail.Memory != "62Gi" || e.Detail.Batch != "013") {
				t.Fatalf("%s", e.AppendJSON(nil))
			}
		}
		if ended != 2 {
			t.Fatalf("%d container_ended notices", ended)
		}
		dg := verdict(evs, "failed", time.Now(), 0)
		if dg.State != diagnose.StateFailed || dg.Headline != "1 of 2 batches failed: batch 013 was OOMKilled (exit 137, peak 61.8 of 62Gi)." ||
			!strings.Contains(dg.Causes[0].Hint, "mem-limit") || dg.Causes[0].Peak == nil || *dg.Causes[0].Peak != (diagnose.Peak{Memory: "61.8Gi", CPU: 14.6}) {
			t.Fatalf("%+v", dg)
		}
		if b := dg.Batches[0]; b.Batch != "013" || b.Peak == nil || b.Peak.Memory != "61.8Gi" || len(b.Attempts) != 2 || b.Attempts[0].Peak == nil ||
			b.Attempts[1].NodeType != "Standard_E32s_v3" {
			t.Fatalf("the batch: %+v", b)
		}
		// Its node, read from its labels: node-hours from the first start to the last end
		// (whole seconds, as the API gives container times: its two attempts took 1.5 s
		// and more, so at least one second and at most two).
		if c := dg.Cost; c == nil || len(c.ByType) != 1 || c.ByType["Standard_E32s_v3"] != c.NodeHours || c.NodeHours > 3.0/3600+1e-4 ||
			c.NodeHours < 1.0/3600-1e-4 {
			t.Fatalf("cost %+v", c)
		}
		k.finish(t)
		if err := wait(); err != nil {
			t.Fatal(err)
		}
	})
}

// A failed submit's verdict is in the summary, and still there after FLUSHALL: the
// archive index keeps what it is derived from.
func TestDiagnosisOutlivesRedis(t *testing.T) {
	s := newStack(t)
	dir := filepath.Join(t.TempDir(), "archive")
	srv := s.archived(t, dir, nil)
	s.publish(t, "", "job", "register", "--job", "run-sub", "--owner", owner)
	err := s.run("", "run", "--job", "run-sub", "--", "sh", "-c",
		`echo "[1/5] Writing configuration"; echo "ERROR: BLAST database core_nt was not found" >&2; exit 2`)
	if err == nil || !strings.Contains(err.Error(), "exit status 2") {
		t.Fatalf("the command's exit: %v", err)
	}
	s.publish(t, "", "job", "status", "--job", "run-sub", "--status", "failed")
	arch, _ := fsdir.New(dir)
	waitComplete(t, arch, "run-sub", 30*time.Second)
	check := func(stage string) {
		var sum app.RunSummary
		st, b, _ := get(t, srv.base+"/api/blast/logs/run-sub/summary", owner)
		if err := json.Unmarshal(b, &sum); err != nil || st != 200 {
			t.Fatalf("%s: %d %s", stage, st, b)
		}
		d := sum.Diagnosis
		if d.State != "failed" || d.Headline != "elastic-blast submit failed: the BLAST database was not found (exit code 2)." ||
			len(d.Causes) != 1 || d.Causes[0].Kind != "submit" || d.Causes[0].Reason != "DatabaseNotFound" ||
			d.Causes[0].Message != "ERROR: BLAST database core_nt was not found" ||
			!strings.Contains(d.Causes[0].Hint, "db setting") || d.Causes[0].ID.IsZero() {
			t.Fatalf("%s: %s", stage, b)
		}
	}
	check("live")
	if err := s.rdb.FlushAll(context.Background()).Err(); err != nil {
		t.Fatal(err)
	}
	check("after FLUSHALL")
}

// A container that restarted in place before the collector looked at its pod: the
// pod's lastState names the first instance, whose lines are read as the previous log
// and whose end (exit 1, Error) is stored — the batch's first attempt is not lost.
func TestInstanceRestartedBeforeTheCollectorLooked(t *testing.T) {
	diagBackends(t, func(t *testing.T, k *kstack, d diagDriver) {
		pod := "blastn-batch-s00-job-005-" + suffix + "-r5t6y"
		d.AddPod(kubesim.PodSpec{Name: pod, Main: []string{"blast"}, Labels: map[string]string{target.LabelApp: "blast"}})
		d.Start("default", pod, "blast")
		d.Log("default", pod, "blast", "first 1", "first 2", "Error: Stale file handle")
		d.Restart("default", pod, "blast")
		d.Log("default", pod, "blast", "second 1", "second 2")
		wait, cancel := collectRun(t, k.diagCollector(t, "diag"))
		defer cancel()
		evs := k.waitEvents(t, "the first instance's end", hasNotice(event.NoticeContainerEnded, 1, nil))
		d.Terminate("default", pod, "blast", 0)
		k.finish(t)
		if err := wait(); err != nil {
			t.Fatal(err)
		}
		evs = k.events(t)
		var lines []string
		var ended []string
		for _, e := range evs {
			if e.Source == event.SourceK8s {
				lines = append(lines, e.Line)
			}
			if e.Notice == event.NoticeContainerEnded {
				ended = append(ended, fmt.Sprintf("%d %s %d", e.Restart, e.Ended.Reason, e.Ended.ExitCode))
			}
		}
		if strings.Join(lines, "|") != "first 1|first 2|Error: Stale file handle|second 1|second 2" {
			t.Fatalf("lines %q", lines)
		}
		if strings.Join(ended, ",") != "0 Error 1,1 Completed 0" {
			t.Fatalf("container_ended notices %q", ended)
		}
	})
}

// The report of a run Redis forgot (FLUSHALL) comes from the archive's index: the same
// rows as before.
func TestReportOutlivesRedis(t *testing.T) {
	s := newStack(t)
	dir := filepath.Join(t.TempDir(), "archive")
	srv := s.archived(t, dir, nil)
	s.register(t, "run-rep", owner)
	if _, err := redisstore.NewEventLog(s.rdb, redisstore.Config{MaxLen: 100_000}).Append(context.Background(), "run-rep", oomNotices("run-rep")); err != nil {
		t.Fatal(err)
	}
	s.publish(t, "", "job", "status", "--job", "run-rep", "--status", "failed")
	arch, _ := fsdir.New(dir)
	waitComplete(t, arch, "run-rep", 30*time.Second)
	report := func(stage string) string {
		st, b, _ := get(t, srv.base+"/api/blast/logs/run-rep/report?format=json", owner)
		var rep app.Report
		if err := json.Unmarshal(b, &rep); err != nil || st != 200 || len(rep.Batches) != 1 {
			t.Fatalf("%s: %d %s", stage, st, b)
		}
		r := rep.Batches[0]
		if r.Batch != "013" || r.State != "failed" || r.Reason != "OOMKilled" || r.MemoryLimit != "62Gi" || rep.Totals.FailedBatches != 1 {
			t.Fatalf("%s: %s", stage, b)
		}
		return string(b)
	}
	before := report("live")
	if err := s.rdb.FlushAll(context.Background()).Err(); err != nil {
		t.Fatal(err)
	}
	if after := report("after FLUSHALL"); after != before {
		t.Fatalf("the report changed:\n%s\n%s", before, after)
	}
}
