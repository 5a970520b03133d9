package diagnose

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/blastlog/blastlog/core/event"
)

var t0 = time.Date(2026, 12, 4, 14, 0, 0, 0, time.UTC)

const run = "run-42"

// b is an ElasticBLAST batch pod's name (suffix 3ed51a95).
func b(n int) string { return fmt.Sprintf("blastn-batch-s00-job-%03d-3ed51a95-x7k2p", n) }

func bjob(n int) string { return fmt.Sprintf("blastn-batch-s00-job-%03d-3ed51a95", n) }

type feed struct {
	evs []event.Event
	seq int
}

func (f *feed) add(e event.Event) *feed {
	f.seq++
	e.ID = event.ID{MS: uint64(1764856800000 + f.seq)}
	f.evs = append(f.evs, e)
	return f
}

func (f *feed) line(at time.Duration, pod, text string) *feed {
	src := event.SourceK8s
	container := "blast"
	if pod == "" {
		src, container = event.SourceTerminal, ""
	}
	return f.add(event.Event{SchemaVersion: 1, JobID: run, Source: src, Phase: event.PhaseRunning, Stream: event.Stdout,
		Pod: pod, Container: container, ContainerID: "containerd://" + pod, Line: text, TS: t0.Add(at)})
}

func (f *feed) ended(at, ran time.Duration, pod string, restart, code int, reason string) *feed {
	e := event.System(run, event.PhaseRunning, event.NoticeContainerEnded,
		fmt.Sprintf("%s/blast ended (%s, exit code %d): all 10 lines stored", pod, reason, code), t0.Add(at))
	e.Pod, e.Container, e.ContainerID, e.Restart = pod, "blast", "containerd://"+pod, restart
	e.Ended = &event.Ended{ExitCode: code, Reason: reason, StartedAt: t0.Add(at - ran), FinishedAt: t0.Add(at),
		Completeness: event.Complete}
	return f.add(e)
}

func (f *feed) k8s(at time.Duration, object, typ, reason, msg string) *feed {
	e := event.System(run, event.PhaseRunning, event.NoticeK8sEvent, object+" "+reason+": "+msg, t0.Add(at))
	e.Detail = &event.Detail{Object: object, Type: typ, Reason: reason, Count: 1, FirstTS: t0.Add(at), LastTS: t0.Add(at)}
	if strings.HasPrefix(object, "Pod/") {
		e.Pod = strings.TrimPrefix(object, "Pod/")
	}
	return f.add(e)
}

func (f *feed) waiting(at time.Duration, pod, reason, msg string) *feed {
	e := event.System(run, event.PhaseRunning, event.NoticeWaiting, pod+" "+reason+": "+msg, t0.Add(at))
	e.Pod, e.Detail = pod, &event.Detail{Object: "Pod/" + pod, Reason: reason}
	return f.add(e)
}

func (f *feed) job(at time.Duration, n int, state, reason string) *feed {
	e := event.System(run, event.PhaseRunning, event.NoticeBatch, fmt.Sprintf("batch %03d %s", n, state), t0.Add(at))
	e.Detail = &event.Detail{Object: "Job/" + bjob(n), Batch: fmt.Sprintf("%03d", n), State: state, Reason: reason,
		Memory: "62Gi", CPU: "15"}
	return f.add(e)
}

func (f *feed) command(at time.Duration, code int) *feed {
	e := event.System(run, event.PhaseSubmitting, event.NoticeCommandEnded, fmt.Sprintf("elastic-blast exited with %d", code), t0.Add(at))
	e.Detail = &event.Detail{ExitCode: &code}
	return f.add(e)
}

func (f *feed) tracker() *Tracker {
	var t Tracker
	for i := range f.evs {
		t.Add(&f.evs[i])
	}
	return &t
}

// jobs declares n batch Jobs, all active.
func jobs(n int) *feed {
	f := &feed{}
	for i := 0; i < n; i++ {
		f.job(0, i, BatchActive, "")
	}
	return f
}

// done runs batch i to a successful end.
func (f *feed) done(i int, at time.Duration) *feed {
	return f.line(at-time.Minute, b(i), "run start").ended(at, time.Minute, b(i), 0, 0, "Completed").
		job(at, i, BatchSucceeded, "")
}

// verdictCase is a run's events, its status and the moment asked, and the verdict.
type verdictCase struct {
	name     string
	f        *feed
	status   string
	at       time.Duration // now, after t0
	state    string
	headline string // a substring
	reason   string // the first cause's reason ("" : no cause)
	hint     string // a substring of the first cause's hint
}

func TestVerdicts(t *testing.T) {
	cases := []verdictCase{
		{"OOMKilled without retry", jobs(24).done(1, 2*time.Minute).line(3*time.Minute, b(13), "run start").
			ended(4*time.Minute, time.Minute, b(13), 0, 137, "OOMKilled").job(4*time.Minute, 13, BatchFailed, "BackoffLimitExceeded"),
			"failed", 5 * time.Minute, StateFailed, "1 of 24 batches failed: batch 013 was OOMKilled (exit 137, limit 62Gi)", "OOMKilled", "mem-limit"},
		{"OOMKilled then retried and succeeded", jobs(3).done(0, time.Minute).done(2, time.Minute).line(time.Minute, b(1), "x").
			ended(2*time.Minute, time.Minute, b(1), 0, 137, "OOMKilled").line(3*time.Minute, b(1)+"b", "again").
			ended(4*time.Minute, time.Minute, b(1)+"b", 1, 0, "Completed").job(4*time.Minute, 1, BatchSucceeded, ""),
			"completed", 5 * time.Minute, StateSucceeded, "All 3 batches succeeded, 1 batch after a retry", "", ""},
		{"OOMKilled twice then BackoffLimitExceeded", jobs(2).done(0, time.Minute).line(time.Minute, b(1), "x").
			ended(2*time.Minute, time.Minute, b(1), 0, 137, "OOMKilled").line(3*time.Minute, b(1)+"b", "x").
			ended(4*time.Minute, time.Minute, b(1)+"b", 1, 137, "OOMKilled").
			k8s(4*time.Minute, "Job/"+bjob(1), "Warning", "BackoffLimitExceeded", "Job has reached the specified backoff limit").
			job(4*time.Minute, 1, BatchFailed, "BackoffLimitExceeded"),
			"failed", 5 * time.Minute, StateFailed, "batch 001 was OOMKilled (exit 137, limit 62Gi)", "OOMKilled", "62Gi"},
		{"OOMKilled while still running", jobs(4).line(time.Minute, b(2), "x").ended(2*time.Minute, time.Minute, b(2), 0, 137, "OOMKilled").
			line(time.Minute, b(0), "x"),
			"running", 3 * time.Minute, StateRunning, "0 of 4 batches done, 1 running", "OOMKilled", "mem-limit"},
		{"FailedScheduling for memory", jobs(4).k8s(time.Minute, "Pod/"+b(3), "Warning", "FailedScheduling",
			"0/3 nodes are available: 3 Insufficient memory. preemption: 0/3 nodes are available"),
			"running", 2 * time.Minute, StateRunning, "1 pod waiting (FailedScheduling)", "FailedScheduling", "larger machine-type, or lower mem-request"},
		{"FailedScheduling for cpu and a taint", jobs(4).k8s(time.Minute, "Pod/"+b(3), "Warning", "FailedScheduling",
			"0/4 nodes are available: 1 node(s) had untolerated taint {node-role.kubernetes.io/control-plane: }, 3 Insufficient cpu."),
			"running", 2 * time.Minute, StateRunning, "waiting", "FailedScheduling", "num-cpus"},
		{"Unschedulable pod condition", jobs(2).waiting(time.Minute, b(1), "Unschedulable", "0/3 nodes are available: 3 Insufficient memory."),
			"running", 2 * time.Minute, StateRunning, "waiting (Unschedulable)", "Unschedulable", "mem-request"},
		{"quota exceeded on the Job", jobs(24).k8s(time.Minute, "Job/"+bjob(21), "Warning", "FailedCreate",
			`Error creating: pods "x" is forbidden: exceeded quota: compute-resources, requested: requests.memory=60Gi`),
			"running", 2 * time.Minute, StateRunning, "waiting (FailedCreate)", "FailedCreate", "quota"},
		{"subscription core quota at submit", (&feed{}).line(0, "", "[1/5] Writing configuration").
			line(time.Second, "", "ERROR: Operation could not be completed because the subscription has reached its quota of 'standardESv3Family' cores").
			command(2*time.Second, 7),
			"failed", time.Minute, StateFailed, "elastic-blast submit failed: the subscription's vCPU quota is too small for the cluster (exit code 7).", "QuotaExceeded", "num-nodes"},
		{"ImagePullBackOff", jobs(1).waiting(time.Minute, b(0), "ImagePullBackOff", `Back-off pulling image "elbacr.azurecr.io/ncbi/elb:1.4.1"`),
			"running", 2 * time.Minute, StateRunning, "waiting (ImagePullBackOff)", "ImagePullBackOff", "registry"},
		{"image pull failed event", jobs(1).k8s(time.Minute, "Pod/"+b(0), "Warning", "Failed", `Failed to pull image "elbacr.azurecr.io/ncbi/elb:1.4.1": not found`),
			"running", 2 * time.Minute, StateRunning, "waiting", "ErrImagePull", "image"},
		{"Evicted for ephemeral storage, retried", jobs(2).done(0, time.Minute).line(time.Minute, b(1), "x").
			k8s(2*time.Minute, "Pod/"+b(1), "Warning", "Evicted", "The node was low on resource: ephemeral-storage. Threshold quantity: 10Gi").
			ended(2*time.Minute, time.Minute, b(1), 0, 137, "Evicted").line(3*time.Minute, b(1)+"b", "x").
			ended(4*time.Minute, time.Minute, b(1)+"b", 1, 0, "Completed").job(4*time.Minute, 1, BatchSucceeded, ""),
			"completed", 5 * time.Minute, StateSucceeded, "1 batch after a retry", "", ""},
		{"Evicted for ephemeral storage, retry pending", jobs(2).done(0, time.Minute).line(time.Minute, b(1), "x").
			k8s(2*time.Minute, "Pod/"+b(1), "Warning", "Evicted", "The node was low on resource: ephemeral-storage. Threshold quantity: 10Gi").
			ended(2*time.Minute, time.Minute, b(1), 0, 137, "Evicted"),
			"running", 3 * time.Minute, StateRunning, "1 of 2 batches done, 0 running, 1 pending", "Evicted", "local SSD"},
		{"Evicted, its container killed as ContainerStatusUnknown: one cause", jobs(1).line(time.Minute, b(0), "x").
			k8s(2*time.Minute, "Pod/"+b(0), "Warning", "Evicted", "The node was low on resource: ephemeral-storage.").
			ended(2*time.Minute, time.Minute, b(0), 0, 137, "ContainerStatusUnknown").job(2*time.Minute, 0, BatchFailed, "BackoffLimitExceeded"),
			"failed", 3 * time.Minute, StateFailed, "batch 000 failed: Evicted", "Evicted", "local SSD"},
		{"Evicted for memory pressure", jobs(1).k8s(time.Minute, "Pod/"+b(0), "Warning", "Evicted", "The node was low on resource: memory."),
			"running", 2 * time.Minute, StateRunning, "0 of 1 batch done", "Evicted", "mem-limit"},
		{"DeadlineExceeded", jobs(3).done(0, time.Minute).done(1, time.Minute).
			k8s(5*time.Minute, "Job/"+bjob(2), "Warning", "DeadlineExceeded", "Job was active longer than specified deadline").
			job(5*time.Minute, 2, BatchFailed, "DeadlineExceeded"),
			"failed", 6 * time.Minute, StateFailed, "1 of 3 batches failed: batch 002 failed: DeadlineExceeded", "DeadlineExceeded", "timeout"},
		{"BackoffLimitExceeded after exit 2", jobs(2).done(0, time.Minute).line(time.Minute, b(1), "x").
			ended(2*time.Minute, time.Minute, b(1), 0, 2, "Error").job(2*time.Minute, 1, BatchFailed, "BackoffLimitExceeded"),
			"failed", 3 * time.Minute, StateFailed, "batch 001 exited with 2 (a BLAST database error)", "Error", "staged"},
		{"BackoffLimitExceeded with no attempt seen", jobs(2).done(0, time.Minute).
			k8s(2*time.Minute, "Job/"+bjob(1), "Warning", "BackoffLimitExceeded", "Job has reached the specified backoff limit").
			job(2*time.Minute, 1, BatchFailed, "BackoffLimitExceeded"),
			"failed", 3 * time.Minute, StateFailed, "batch 001 failed: BackoffLimitExceeded", "BackoffLimitExceeded", "every retry"},
		{"CrashLoopBackOff", jobs(1).waiting(time.Minute, b(0), "CrashLoopBackOff", "back-off 40s restarting failed container"),
			"running", 2 * time.Minute, StateRunning, "waiting (CrashLoopBackOff)", "CrashLoopBackOff", "last lines"},
		{"FailedMount on the setup pod", (&feed{}).k8s(time.Minute, "Pod/init-ssd-3ed51a95-0-z8x7c", "Warning", "FailedMount",
			`MountVolume.SetUp failed for volume "blast-dbs"`),
			"running", 2 * time.Minute, StateRunning, "Running; 1 pod is waiting (FailedMount)", "FailedMount", "persistent volume"},
		{"Preempted", jobs(1).k8s(time.Minute, "Pod/"+b(0), "Warning", "Preempted", "Preempted by a pod on node aks-1"),
			"running", 2 * time.Minute, StateRunning, "0 of 1 batch done", "Preempted", "regular nodes"},
		{"CreateContainerConfigError", jobs(1).waiting(time.Minute, b(0), "CreateContainerConfigError", `secret "elb-secret" not found`),
			"running", 2 * time.Minute, StateRunning, "waiting", "CreateContainerConfigError", "secret"},
		{"a Normal event is not a cause", jobs(1).k8s(time.Minute, "Pod/"+b(0), "Normal", "Scheduled", "Successfully assigned"),
			"running", 2 * time.Minute, StateRunning, "0 of 1 batch done, 0 running", "", ""},
	}
	for code, want := range map[int]string{1: "config file", 2: "db name", 5: "timed out", 6: "results", 8: "cluster is running", 9: "submit the run again"} {
		cases = append(cases, verdictCase{fmt.Sprintf("submit exit %d", code), (&feed{}).line(0, "", "ERROR: something").command(time.Second, code),
			"failed", time.Minute, StateFailed, fmt.Sprintf("exit code %d (", code), "", want})
	}
	for code, want := range map[int]string{1: "query file", 2: "staged", 3: "engine", 4: "ran out of memory", 6: "write its output"} {
		cases = append(cases, verdictCase{fmt.Sprintf("BLAST+ exit %d", code), jobs(1).line(0, b(0), "x").ended(time.Minute, time.Minute, b(0), 0, code, "Error"),
			"failed", 2 * time.Minute, StateFailed, fmt.Sprintf("batch 000 exited with %d (%s", code, ExitMeaning(KindContainer, code)), "Error", want})
	}
	cases = append(cases,
		verdictCase{"cancelled", jobs(2).done(0, time.Minute), "cancelled", 2 * time.Minute, StateCancelled, "cancelled", "", ""},
		verdictCase{"no status", &feed{}, "", time.Minute, StateUnknown, "Nothing is known", "", ""})
	if len(cases) < 25 {
		t.Fatalf("only %d cases", len(cases))
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			tr := c.f.tracker()
			d := tr.Diagnose(Run{Status: c.status, Now: t0.Add(c.at)})
			if d.State != c.state || !strings.Contains(d.Headline, c.headline) {
				t.Fatalf("state %q headline %q\nwant %q containing %q", d.State, d.Headline, c.state, c.headline)
			}
			if c.reason == "" && c.hint == "" {
				if len(d.Causes) != 0 {
					t.Fatalf("causes %+v", d.Causes)
				}
				return
			}
			if len(d.Causes) == 0 {
				t.Fatal("no cause")
			}
			first := d.Causes[0]
			if c.reason != "" && first.Reason != c.reason || !strings.Contains(first.Hint, c.hint) {
				t.Fatalf("first cause %+v\nwant reason %q, hint containing %q", first, c.reason, c.hint)
			}
			if first.ID.IsZero() {
				t.Fatalf("cause without its id: %+v", first)
			}
		})
	}
}

func TestBatchState(t *testing.T) {
	ended := func(code int, reason string) Attempt { return Attempt{ExitCode: code, Reason: reason} }
	cases := []struct {
		name string
		b    Batch
		want string
	}{
		{"nothing known", Batch{}, BatchUnknown},
		{"a Job, no pod yet", Batch{Job: "j", JobState: BatchActive}, BatchPending},
		{"waiting", Batch{Waiting: "Unschedulable"}, BatchPending},
		{"lines arriving", Batch{Job: "j", JobState: BatchActive, Live: []string{"p/blast/1"}}, BatchRunning},
		{"failed attempt, Job retries", Batch{Job: "j", JobState: BatchActive, Attempts: []Attempt{ended(137, "OOMKilled")}}, BatchPending},
		{"failed attempt, no Job known: a retry may come", Batch{Attempts: []Attempt{ended(137, "OOMKilled")}}, BatchPending},
		{"failed attempt, the Job's failure said by its event", Batch{JobEnded: "BackoffLimitExceeded", Attempts: []Attempt{ended(137, "OOMKilled")}}, BatchFailed},
		{"retry succeeded, no Job known", Batch{Attempts: []Attempt{ended(1, "Error"), ended(0, "Completed")}}, BatchSucceeded},
		{"attempt ended, its Job not yet: still running", Batch{Job: "j", JobState: BatchActive, Attempts: []Attempt{ended(0, "Completed")}}, BatchRunning},
		{"the Job failed", Batch{JobState: BatchFailed, Live: []string{"p/blast/1"}}, BatchFailed},
		{"the Job succeeded", Batch{JobState: BatchSucceeded}, BatchSucceeded},
	}
	for _, c := range cases {
		if got := c.b.State(); got != c.want {
			t.Errorf("%s: %s, want %s", c.name, got, c.want)
		}
	}
	// A batch OOMKilled once keeps that reason when its retry succeeds.
	var bt Batch
	bt.addAttempt(ended(137, "OOMKilled"))
	bt.addAttempt(ended(0, "Completed"))
	if !bt.OOM || bt.State() != BatchSucceeded {
		t.Fatalf("%+v", bt)
	}
	// Attempts are bounded: the first and the latest are kept.
	for i := 0; i < 3*MaxAttempts; i++ {
		bt.addAttempt(Attempt{ExitCode: i})
	}
	if len(bt.Attempts) != MaxAttempts || bt.Attempts[0].Reason != "OOMKilled" || bt.Attempts[MaxAttempts-1].ExitCode != 3*MaxAttempts-1 {
		t.Fatalf("attempts %+v", bt.Attempts)
	}
}

func TestBatchOf(t *testing.T) {
	for name, want := range map[string]string{
		"blastn-batch-s00-job-013-3ed51a95-x7k2p": "013",
		"blastn-batch-s00-job-013-3ed51a95":       "013",
		"blastn-batch-core-nt-job-7":              "7",
		"blastp-batch-job-db-job-002-3ed51a95":    "002",
		"init-ssd-3ed51a95-0-x7k2p":               "",
		"submit-jobs-3ed51a95-q9w8e":              "",
		"blastn-batch-s00-job-abc-3ed51a95":       "",
		"blastn-batch-s00-job-":                   "",
	} {
		got, ok := BatchOf(name)
		if got != want || ok != (want != "") {
			t.Errorf("%s: %q %v, want %q", name, got, ok, want)
		}
	}
}

func TestProgressAndETA(t *testing.T) {
	f := jobs(10)
	// Three batches of 2, 4 and 6 minutes ended: median 4 min.
	for i, d := range []time.Duration{2, 4, 6} {
		f.line(0, b(i), "start").ended(d*time.Minute, d*time.Minute, b(i), 0, 0, "Completed").job(d*time.Minute, i, BatchSucceeded, "")
	}
	for i := 3; i < 5; i++ {
		f.line(7*time.Minute, b(i), "start")
	}
	tr := f.tracker()
	now := t0.Add(8 * time.Minute)
	p := tr.Progress(now)
	if p.Batches != 10 || p.Succeeded != 3 || p.Running != 2 || p.Pending != 5 || p.Failed != 0 {
		t.Fatalf("%+v", p)
	}
	// 7 left × 4 min ÷ 2 running = 14 min.
	if p.ETA == nil || !p.ETA.Equal(now.Add(14*time.Minute)) {
		t.Fatalf("eta %v, want %v", p.ETA, now.Add(14*time.Minute))
	}
	// Fewer than three ended: no ETA; nothing running: no ETA.
	if p := jobs(5).done(0, time.Minute).done(1, time.Minute).line(time.Minute, b(2), "x").tracker().Progress(now); p.ETA != nil {
		t.Fatalf("eta with two ended: %v", p.ETA)
	}
	if p := jobs(5).done(0, time.Minute).done(1, time.Minute).done(2, time.Minute).tracker().Progress(now); p.ETA != nil {
		t.Fatalf("eta with none running: %v", p.ETA)
	}
	// A finished run has no ETA.
	if d := tr.Diagnose(Run{Status: "completed", Now: now}); d.Progress.ETA != nil {
		t.Fatal("eta of a completed run")
	}
}

// The batches one by one: by number, a pending one with why it waits, every attempt.
func TestBatchStatesForTheTable(t *testing.T) {
	f := jobs(3).waiting(time.Minute, b(2), "Unschedulable", "0/3 nodes are available: 3 Insufficient memory.").
		line(time.Minute, b(1), "x").ended(2*time.Minute, time.Minute, b(1), 0, 1, "Error").
		line(3*time.Minute, b(1)+"b", "x").ended(4*time.Minute, time.Minute, b(1)+"b", 1, 0, "Completed").
		job(4*time.Minute, 1, BatchSucceeded, "")
	d := f.tracker().Diagnose(Run{Status: "running", Now: t0.Add(5 * time.Minute)})
	if len(d.Batches) != 3 || d.Batches[0].Batch != "000" || d.Batches[2].Batch != "002" {
		t.Fatalf("%+v", d.Batches)
	}
	if w := d.Batches[2]; w.State != BatchPending || w.Waiting != "Unschedulable: 0/3 nodes are available: 3 Insufficient memory." ||
		w.Limit == nil || w.Limit.Memory != "62Gi" {
		t.Fatalf("pending batch %+v", w)
	}
	if r := d.Batches[1]; r.State != BatchSucceeded || r.Retries != 1 || len(r.Attempts) != 2 || r.Attempts[0].ExitCode != 1 || r.Attempts[0].Reason != "Error" {
		t.Fatalf("retried batch %+v", r)
	}
}

func TestStuck(t *testing.T) {
	f := jobs(4).line(0, b(0), "start").
		k8s(time.Minute, "Pod/"+b(1), "Warning", "FailedScheduling", "0/3 nodes are available: 3 Insufficient memory.")
	tr := f.tracker()
	if d := tr.Diagnose(Run{Status: "running", Now: t0.Add(9 * time.Minute)}); d.State != StateRunning {
		t.Fatalf("before stuck-after: %s", d.State)
	}
	d := tr.Diagnose(Run{Status: "running", Now: t0.Add(11 * time.Minute)})
	if d.State != StateStuck || !strings.Contains(d.Headline, "No progress for 11 min: 1 pod waiting, the latest on FailedScheduling") {
		t.Fatalf("%s: %s", d.State, d.Headline)
	}
	if d := tr.Diagnose(Run{Status: "running", Now: t0.Add(3 * time.Minute), StuckAfter: 2 * time.Minute}); d.State != StateStuck {
		t.Fatalf("BLASTLOG_STUCK_AFTER not honoured: %s", d.State)
	}
	// No trouble since the last line: quiet, not stuck (BLAST may print nothing for long).
	quiet := jobs(4).line(0, b(0), "start").tracker()
	if d := quiet.Diagnose(Run{Status: "running", Now: t0.Add(time.Hour)}); d.State != StateRunning {
		t.Fatalf("quiet run: %s", d.State)
	}
	// The waiting pod schedules and writes: the run recovers, the cause is gone.
	f.line(12*time.Minute, b(1), "run start")
	tr = f.tracker()
	d = tr.Diagnose(Run{Status: "running", Now: t0.Add(13 * time.Minute)})
	if d.State != StateRunning || len(d.Causes) != 0 || tr.Batches["001"].State() != BatchRunning {
		t.Fatalf("after recovery: %s %+v", d.State, d.Causes)
	}
	// Nothing ever ran and the first pod has waited past stuck-after.
	never := jobs(1).waiting(0, b(0), "Unschedulable", "0/3 nodes are available: 3 Insufficient cpu.").tracker()
	if d := never.Diagnose(Run{Status: "queued", Now: t0.Add(11 * time.Minute)}); d.State != StateStuck {
		t.Fatalf("never started: %s", d.State)
	}
}

// The tracker round-trips through JSON (the archive index keeps it) and gives the same
// verdict afterwards.
func TestTrackerSurvivesJSON(t *testing.T) {
	tr := jobs(3).done(0, time.Minute).line(time.Minute, b(1), "x").ended(2*time.Minute, time.Minute, b(1), 0, 137, "OOMKilled").
		job(2*time.Minute, 1, BatchFailed, "BackoffLimitExceeded").tracker()
	raw, err := json.Marshal(tr)
	if err != nil {
		t.Fatal(err)
	}
	var back Tracker
	if err := json.Unmarshal(raw, &back); err != nil {
		t.Fatal(err)
	}
	r := Run{Status: "failed", Now: t0.Add(3 * time.Minute)}
	a, c := tr.Diagnose(r), back.Diagnose(r)
	ja, _ := json.Marshal(a)
	jc, _ := json.Marshal(c)
	if string(ja) != string(jc) {
		t.Fatalf("before %s\nafter  %s", ja, jc)
	}
}

// What a tracker keeps is bounded, whatever a run sends.
func TestTrackerBounds(t *testing.T) {
	f := &feed{}
	for i := 0; i < 3*MaxFailures; i++ {
		f.line(0, b(i), "x").ended(time.Minute, time.Minute, b(i), 0, 1, "Error")
		f.waiting(time.Minute, fmt.Sprintf("pod-%d", i), "Unschedulable", "x")
		f.waiting(time.Minute, fmt.Sprintf("pod-%d", i+1000), "Unschedulable", "x")
	}
	tr := f.tracker()
	if len(tr.Failures) != MaxFailures || len(tr.Waiting) > MaxWaiting || len(tr.SubmitTail) > submitTail {
		t.Fatalf("failures %d waiting %d", len(tr.Failures), len(tr.Waiting))
	}
	d := tr.Diagnose(Run{Status: "failed", Now: t0.Add(time.Hour)})
	if n := len(d.Causes); n > 2*MaxCauses {
		t.Fatalf("%d causes", n)
	}
}

// used gives the feed's last container_ended notice what the metrics API measured.
func (f *feed) used(peak int64, cpuPeak float64, samples int) *feed {
	e := &f.evs[len(f.evs)-1]
	e.Ended.Usage = &event.Usage{PeakMemory: peak, CPUMean: cpuPeak / 2, CPUPeak: cpuPeak, Samples: samples,
		First: e.Ended.StartedAt, Last: e.Ended.FinishedAt}
	return f
}

// An OOMKilled batch's peak stands beside its limit in the cause, the batch and the
// headline; a batch's peak is the most of its attempts'.
func TestPeaks(t *testing.T) {
	const gi = int64(1) << 30
	f := jobs(2).line(time.Minute, b(0), "x").ended(2*time.Minute, time.Minute, b(0), 0, 137, "OOMKilled").used(618*gi/10, 14.6, 8).
		line(3*time.Minute, b(0)+"b", "again").ended(4*time.Minute, time.Minute, b(0)+"b", 1, 137, "OOMKilled").used(40*gi, 15.04, 6).
		job(4*time.Minute, 0, BatchFailed, "BackoffLimitExceeded").done(1, 5*time.Minute)
	f.evs[0].Detail.Memory = "62Gi" // the Job template's limit
	d := f.tracker().Diagnose(Run{Status: "failed", Now: t0.Add(6 * time.Minute)})
	if !strings.Contains(d.Headline, "batch 000 was OOMKilled (exit 137, peak 40 of 62Gi)") {
		t.Fatalf("headline %q", d.Headline) // the cause is the last attempt's
	}
	if c := d.Causes[0]; c.Peak == nil || *c.Peak != (Peak{Memory: "40Gi", CPU: 15}) {
		t.Fatalf("cause %+v", c)
	}
	if p := d.Batches[0].Peak; p == nil || *p != (Peak{Memory: "61.8Gi", CPU: 15}) {
		t.Fatalf("batch peak %+v", p)
	}
	if d.Batches[1].Peak != nil {
		t.Fatalf("a batch without samples has a peak: %+v", d.Batches[1].Peak)
	}
	for c, want := range map[Cause]string{
		{Peak: &Peak{Memory: "900Mi"}, Limit: &Limits{Memory: "62Gi"}}:  "peak 900Mi of 62Gi",
		{Peak: &Peak{Memory: "61.8Gi"}}:                                 "peak 61.8Gi",
		{Peak: &Peak{Memory: "512Mi"}, Limit: &Limits{Memory: "512Mi"}}: "peak 512 of 512Mi",
		{Limit: &Limits{Memory: "62Gi"}}:                                "",
	} {
		if got := peakText(c); got != want {
			t.Errorf("%+v: %q, want %q", c, got, want)
		}
	}
	for b, want := range map[int64]string{618 * gi / 10: "61.8Gi", 62 * gi: "62Gi", 900 << 20: "900Mi", 1536: "1.5Ki", 12: "12", 3 << 40: "3Ti"} {
		if got := MemoryText(b); got != want || memoryBytes(got) == 0 {
			t.Errorf("%d: %q, want %q", b, got, want)
		}
	}
}

func (f *feed) stalled(at, idle time.Duration, pod string) *feed {
	e := event.System(run, event.PhaseRunning, event.NoticeStalled, pod+"/blast has used no CPU (under 0.05 cores) and written no line for 15m0s", t0.Add(at))
	e.Pod, e.Container, e.ContainerID = pod, "blast", "containerd://"+pod
	e.Detail = &event.Detail{Object: "Pod/" + pod, Reason: "Stalled", FirstTS: t0.Add(at - idle), LastTS: t0.Add(at)}
	return f.add(e)
}

// A stalled batch is a cause that makes the run stuck, until it writes a line again
// (or ends); a run that ended has no stalled cause.
func TestStalledBatch(t *testing.T) {
	base := func() *feed {
		return jobs(3).done(0, time.Minute).line(time.Minute, b(1), "run start").line(2*time.Minute, b(2), "run start").
			stalled(20*time.Minute, 15*time.Minute, b(1))
	}
	d := base().tracker().Diagnose(Run{Status: "running", Now: t0.Add(21 * time.Minute)})
	if d.State != StateStuck || d.Headline != "Batch 001 has stalled: no CPU and no line for 16 min." || len(d.Causes) != 1 {
		t.Fatalf("%s: %q %+v", d.State, d.Headline, d.Causes)
	}
	if c := d.Causes[0]; c.Kind != KindContainer || c.Reason != ReasonStalled || c.Batch != "001" || !strings.Contains(c.Hint, "vmtouch") || c.ID.IsZero() {
		t.Fatalf("cause %+v", c)
	}
	// A line written before the stall began does not end it; one after does.
	if d := base().line(4*time.Minute, b(1), "old").tracker().Diagnose(Run{Status: "running", Now: t0.Add(21 * time.Minute)}); d.State != StateStuck {
		t.Fatalf("an older line ended the stall: %s", d.State)
	}
	for name, f := range map[string]*feed{
		"a line":      base().line(22*time.Minute, b(1), "batch_001: 5/40 queries searched"),
		"its end":     base().ended(22*time.Minute, 21*time.Minute, b(1), 0, 0, "Completed"),
		"another pod": base().line(22*time.Minute, b(1)+"b", "run start"),
	} {
		d := f.tracker().Diagnose(Run{Status: "running", Now: t0.Add(23 * time.Minute)})
		stuck := name == "another pod"
		if (d.State == StateStuck) != stuck {
			t.Errorf("after %s: %s %q", name, d.State, d.Headline)
		}
	}
	if d := base().tracker().Diagnose(Run{Status: "completed", Now: t0.Add(30 * time.Minute)}); slices.ContainsFunc(d.Causes, func(c Cause) bool { return c.Reason == ReasonStalled }) {
		t.Fatalf("a stalled cause after the run ended: %+v", d.Causes)
	}
}

func (f *feed) node(at time.Duration, name, typ string, spot bool, state string, first, last time.Duration) *feed {
	e := event.System(run, "", event.NoticeNode, "node "+name, t0.Add(at))
	e.Detail = &event.Detail{Object: "Node/" + name, State: state, FirstTS: t0.Add(first), InstanceType: typ, Region: "eastus", Spot: spot}
	if last > 0 {
		e.Detail.LastTS = t0.Add(last)
	}
	return f.add(e)
}

// Node-hours are, per node, its first start to its last end (to now while it runs);
// dollars are node-hours by price, a spot node at its spot price; an unpriced type
// leaves node-hours only; the ETA projects the cost.
func TestCost(t *testing.T) {
	f := jobs(4).done(0, 30*time.Minute).done(1, 40*time.Minute).done(2, 50*time.Minute).line(51*time.Minute, b(3), "x").
		node(time.Minute, "n0", "Standard_E32s_v3", false, "in_use", 0, 0).
		node(time.Minute, "n1", "Standard_E32s_v3", true, "in_use", 0, 0).
		node(41*time.Minute, "n1", "Standard_E32s_v3", true, "released", 0, 40*time.Minute)
	prices := Prices{USD: map[string]float64{"Standard_E32s_v3": 2.016, "Standard_E32s_v3/spot": 0.4}, Source: "file"}
	d := f.tracker().Diagnose(Run{Status: "running", Now: t0.Add(60 * time.Minute), Prices: prices})
	c := d.Cost
	// n0: 60 min in use; n1: 40 min, released.
	if c == nil || c.NodeHours != round(100.0/60, 4) || c.ByType["Standard_E32s_v3"] != c.NodeHours || c.Source != "file" ||
		*c.USD != round(2.016+0.4*40/60, 2) || *c.USDPerHourNow != 2.02 || c.ProjectedUSD == nil || *c.ProjectedUSD <= *c.USD {
		b, _ := json.Marshal(c)
		t.Fatalf("%s", b)
	}
	if d.Progress.ETA == nil || *c.ProjectedUSD != round(2.016+0.4*40/60+2.016*d.Progress.ETA.Sub(t0.Add(60*time.Minute)).Hours(), 2) {
		t.Fatalf("projected %v with ETA %v", *c.ProjectedUSD, d.Progress.ETA)
	}
	// A clone shares no node with its tracker.
	tr := f.tracker()
	cl := tr.Clone()
	cl.Nodes["n0"].InUse = false
	if !tr.Nodes["n0"].InUse {
		t.Fatal("the clone shares its nodes")
	}
	// A run that ended: nothing in use, projected is what it cost.
	ended := f.node(70*time.Minute, "n0", "Standard_E32s_v3", false, "released", 0, 70*time.Minute).tracker().
		Diagnose(Run{Status: "completed", Now: t0.Add(2 * time.Hour), Prices: prices})
	if c := ended.Cost; c.NodeHours != round(110.0/60, 4) || *c.USDPerHourNow != 0 || *c.ProjectedUSD != *c.USD {
		b, _ := json.Marshal(c)
		t.Fatalf("ended: %s", b)
	}
	// No price for spot: node-hours only, and which key has none.
	if c := f.tracker().Diagnose(Run{Status: "running", Now: t0.Add(time.Hour), Prices: Prices{USD: map[string]float64{"Standard_E32s_v3": 2.016}}}).Cost; c.USD != nil ||
		strings.Join(c.Unpriced, ",") != "Standard_E32s_v3/spot" || c.NodeHours == 0 {
		t.Fatalf("unpriced: %+v", c)
	}
	// A node whose labels could not be read (no leave to read Nodes): unpriced, "unknown".
	if c := (&feed{}).node(time.Minute, "n9", "", false, "in_use", 0, 0).tracker().Diagnose(Run{Status: "running", Now: t0.Add(time.Hour), Prices: prices}).Cost; c.USD != nil ||
		strings.Join(c.Unpriced, ",") != "unknown" || c.ByType["unknown"] != 1 {
		t.Fatalf("a node without its type: %+v", c)
	}
	if (&feed{}).tracker().Diagnose(Run{Status: "running", Now: t0}).Cost != nil {
		t.Fatal("a cost without nodes")
	}
}

// A cluster_idle notice is the diagnosis's cluster_idle, the notice's own sentence,
// whatever the run's state; its sentence says the nodes, their price when known, and
// how long after the end, in blastlog's duration words.
func TestClusterIdle(t *testing.T) {
	rate := 8.06
	idle := event.System(run, "", event.NoticeClusterIdle, "the cluster of run r is still up 20 min after it ended: 4 nodes, ≈ $8.06/h — run `elastic-blast delete`",
		t0.Add(80*time.Minute))
	idle.Detail = &event.Detail{FirstTS: t0.Add(60 * time.Minute), Nodes: 4, USDPerHour: &rate}
	f := jobs(1).done(0, 30*time.Minute)
	if d := f.tracker().Diagnose(Run{Status: "completed", Now: t0.Add(2 * time.Hour)}); d.ClusterIdle != nil {
		t.Fatalf("cluster_idle without its notice: %+v", d.ClusterIdle)
	}
	for _, status := range []string{"completed", "failed"} {
		d := f.add(idle).tracker().Diagnose(Run{Status: status, Now: t0.Add(2 * time.Hour)})
		ci := d.ClusterIdle
		if ci == nil || ci.Nodes != 4 || *ci.USDPerHour != 8.06 || !ci.Ended.Equal(t0.Add(60*time.Minute)) || !ci.At.Equal(t0.Add(80*time.Minute)) ||
			ci.Text != idle.Line {
			t.Fatalf("%s: %+v", status, ci)
		}
	}
	for _, c := range []struct {
		idle ClusterIdle
		want string
	}{
		{ClusterIdle{Nodes: 4, USDPerHour: &rate, Ended: t0, At: t0.Add(20 * time.Minute)},
			"the cluster of run job-1 is still up 20 min after it ended: 4 nodes, ≈ $8.06/h — run `elastic-blast delete`"},
		{ClusterIdle{Nodes: 1, Ended: t0, At: t0.Add(90 * time.Minute)},
			"the cluster of run job-1 is still up 1 h 30 min after it ended: 1 node — run `elastic-blast delete`"},
		{ClusterIdle{Nodes: 2, Ended: t0, At: t0.Add(15 * time.Second)},
			"the cluster of run job-1 is still up 15 s after it ended: 2 nodes — run `elastic-blast delete`"},
	} {
		if got := c.idle.Sentence("job-1"); got != c.want {
			t.Errorf("got  %q\nwant %q", got, c.want)
		}
	}
}

func TestPriceKey(t *testing.T) {
	if PriceKey("Standard_E32s_v3", false) != "Standard_E32s_v3" || PriceKey("Standard_E32s_v3", true) != "Standard_E32s_v3/spot" {
		t.Fatal("price keys")
	}
}
