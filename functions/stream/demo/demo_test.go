package demo

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	batchv1 "k8s.io/api/batch/v1"
	metricsv1beta1 "k8s.io/metrics/pkg/apis/metrics/v1beta1"

	"github.com/blastlog/blastlog/adapters/kube/kubesim"
	"github.com/blastlog/blastlog/core/diagnose"
	"github.com/blastlog/blastlog/core/event"
	"github.com/blastlog/blastlog/core/job"
	"github.com/blastlog/blastlog/core/sanitize"
	"github.com/blastlog/blastlog/ports/portstest"
)

func TestPlayPublishesSubmitMaskedAndPlaysTheBatchJobs(t *testing.T) {
	log, jobs := portstest.NewEventLog(0), portstest.NewJobDirectory()
	sim := kubesim.New()
	defer sim.Close()
	p := Player{Log: log, Jobs: jobs, Sim: sim, Owner: "oid"}
	if err := p.Play(context.Background(), "demo-1"); err != nil {
		t.Fatal(err)
	}
	o, _ := load("demo-1")
	o.tell(DefaultBatches)
	evs, _ := log.Read(context.Background(), "demo-1", event.ID{}, 1000)
	// The azcopy progress line carries a bare CR: it becomes two lines.
	if want := len(o.Stdout) + len(secretLines) + len(o.Stderr) + 1; len(evs) != want {
		t.Fatalf("%d events, want %d", len(evs), want)
	}
	var masked int
	var told bool
	for _, e := range evs {
		if strings.Contains(e.Line, "Submitting 24 sharded jobs (4 shards x 6 batches)") {
			told = true
		}
		if strings.Contains(e.Line, "10 shards") || strings.Contains(e.Line, "ERROR") {
			t.Fatalf("the submit output does not agree with its pods: %q", e.Line)
		}
		if strings.ContainsAny(e.Line, "\x1b\r") || strings.Contains(e.Line, "q5n0cUzH") || strings.Contains(e.Line, "Zm9vYmFy") {
			t.Fatalf("unsanitised: %q", e.Line)
		}
		if strings.Contains(e.Line, sanitize.Mask) {
			masked++
		}
	}
	if !told {
		t.Fatal("the submit output does not say 24 batches over 4 shards")
	}
	if masked != len(secretLines) {
		t.Fatalf("%d masked lines, want %d", masked, len(secretLines))
	}
	r, _ := jobs.Get(context.Background(), "demo-1")
	if r.Status != job.Failed || r.OwnerOID != "oid" || r.ELBJobID == "job-"+fixtureELBHex || !strings.HasPrefix(r.ELBJobID, "job-") {
		t.Fatalf("record %+v", r)
	}
	sfx := r.ELBJobID[len(r.ELBJobID)-8:]

	// The setup pod was deleted after it succeeded; 24 batch jobs, submit, finalizer.
	if _, ok := sim.Status("default", "init-ssd-"+sfx+"-0-x7k2p"); ok {
		t.Fatal("the setup pod is still there")
	}
	for _, n := range []string{"submit-jobs-" + sfx + "-q9w8e", "elb-finalizer-" + sfx + "-m3n4b"} {
		if _, ok := sim.Status("default", n); !ok {
			t.Fatalf("no pod %s", n)
		}
	}
	for b := 0; b < DefaultBatches; b++ {
		name := fmt.Sprintf("blastn-batch-s%02d-job-%03d-%s-h4j5k", b%4, b, sfx)
		pod, ok := sim.Status("default", name)
		if !ok {
			t.Fatalf("no batch pod %s", name)
		}
		var blast *struct {
			exit     int32
			reason   string
			restarts int32
		}
		for _, cs := range pod.Status.ContainerStatuses {
			if cs.Name == "blast" && cs.State.Terminated != nil {
				blast = &struct {
					exit     int32
					reason   string
					restarts int32
				}{cs.State.Terminated.ExitCode, cs.State.Terminated.Reason, cs.RestartCount}
			}
		}
		want := struct {
			exit     int32
			reason   string
			restarts int32
		}{0, "Completed", 0}
		switch b {
		case OOMBatch:
			want.exit, want.reason = 137, "OOMKilled"
		case RestartBatch:
			want.restarts = 1
		}
		if blast == nil || *blast != want {
			t.Fatalf("batch %d blast container %+v, want %+v", b, blast, want)
		}
	}
	// Every batch has its Job, ended; the OOMKilled batch's failed on its backoff limit.
	for _, j := range sim.Jobs("default") {
		b, ok := diagnose.BatchOf(j.Name)
		if !ok {
			continue
		}
		failed := len(j.Status.Conditions) > 0 && j.Status.Conditions[len(j.Status.Conditions)-1].Type == batchv1.JobFailed
		if len(j.Status.Conditions) == 0 || failed != (b == fmt.Sprintf("%03d", OOMBatch)) ||
			j.Spec.Template.Spec.Containers[0].Resources.Limits.Memory().String() != "62Gi" {
			t.Fatalf("Job %s: %+v", j.Name, j.Status)
		}
	}
	if n := len(sim.Jobs("default")); n != DefaultBatches {
		t.Fatalf("%d Jobs", n)
	}
	// The evicted batch's first pod, and the kubelet's event saying why.
	if pod, ok := sim.Status("default", fmt.Sprintf("blastn-batch-s%02d-job-%03d-%s-e7v1c", EvictBatch%4, EvictBatch, sfx)); !ok ||
		pod.Status.Phase != "Failed" {
		t.Fatalf("no evicted pod: %+v", pod.Status)
	}
	var evicted bool
	for _, e := range sim.Events("default") {
		evicted = evicted || e.Reason == "Evicted" && strings.Contains(e.Message, "ephemeral-storage")
	}
	if !evicted {
		t.Fatal("no Evicted event")
	}
}

// A pending run's first wave waits on FailedScheduling (its events counting up), then
// is scheduled and runs.
func TestPendingRunWaitsForNodesFirst(t *testing.T) {
	log, jobs := portstest.NewEventLog(0), portstest.NewJobDirectory()
	sim := kubesim.New()
	defer sim.Close()
	p := Player{Log: log, Jobs: jobs, Sim: sim, Owner: "oid", Batches: 2, Parallel: 2, Pending: 300 * time.Millisecond}
	done := make(chan error, 1)
	go func() { done <- p.Play(context.Background(), "demo-p") }()
	r, _ := load("demo-p")
	sfx := r.Run.ELBJobID[len(r.Run.ELBJobID)-8:]
	pod := fmt.Sprintf("blastn-batch-s00-job-000-%s-h4j5k", sfx)
	deadline := time.Now().Add(5 * time.Second)
	for {
		st, ok := sim.Status("default", pod)
		if ok && len(st.Status.Conditions) == 1 && st.Status.Conditions[0].Reason == "Unschedulable" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the batch pod never waited: %+v", st.Status)
		}
		time.Sleep(time.Millisecond)
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	st, _ := sim.Status("default", pod)
	if len(st.Status.Conditions) != 0 || st.Status.Phase != "Succeeded" {
		t.Fatalf("after its wait: %+v", st.Status)
	}
	var scheduling int
	for _, e := range sim.Events("default") {
		if e.Reason == "FailedScheduling" && e.InvolvedObject.Name == pod {
			scheduling++
		}
	}
	if scheduling != 1 {
		t.Fatalf("%d FailedScheduling events for the pod (one, counted up)", scheduling)
	}
}

func TestLoopStartsTheNextRunBeforeThePreviousEnds(t *testing.T) {
	log, jobs := portstest.NewEventLog(0), portstest.NewJobDirectory()
	sim := kubesim.New()
	defer sim.Close()
	// At this pace one run takes over half a second; a new one starts every 20 ms.
	p := Player{Log: log, Jobs: jobs, Sim: sim, Owner: "oid", Pace: 5 * time.Millisecond, Batches: 2}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go p.Loop(ctx, 20*time.Millisecond, func(n int) string { return fmt.Sprintf("run-%d", n) },
		func(id string, err error) { t.Errorf("%s: %v", id, err) })
	deadline := time.Now().Add(10 * time.Second)
	for {
		_, err := jobs.Get(ctx, "run-2")
		if err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("no second run")
		}
		time.Sleep(time.Millisecond)
	}
	if r, err := jobs.Get(ctx, "run-1"); err != nil || r.Status != job.Running {
		t.Fatalf("run-1 when run-2 started: %+v %v", r, err)
	}
	a, _ := load("run-1")
	b, _ := load("run-2")
	if a.Run.ELBJobID == b.Run.ELBJobID {
		t.Fatal("two runs share an ElasticBLAST job id (and so their pods)")
	}
}

// In a stalling run, batch StallBatch's blast container reports (almost) no CPU to the
// metrics API for Stall, then goes on; the OOMKilled batch's memory climbs to its
// limit.
func TestStallAndMemoryInTheMetrics(t *testing.T) {
	log, jobs := portstest.NewEventLog(0), portstest.NewJobDirectory()
	sim := kubesim.New()
	defer sim.Close()
	p := Player{Log: log, Jobs: jobs, Sim: sim, Owner: "oid", Pace: 20 * time.Millisecond, Stall: 2 * time.Second}
	done := make(chan error, 1)
	go func() { done <- p.Play(context.Background(), "run-s") }()
	stalled, oomPeak := false, int64(0)
	for ended := false; !ended; {
		res, err := http.Get(sim.URL() + "/apis/metrics.k8s.io/v1beta1/namespaces/default/pods")
		if err != nil {
			t.Fatal(err)
		}
		var list metricsv1beta1.PodMetricsList
		err = json.NewDecoder(res.Body).Decode(&list)
		res.Body.Close()
		if err != nil {
			t.Fatal(err)
		}
		for _, pm := range list.Items {
			for _, c := range pm.Containers {
				if strings.Contains(pm.Name, fmt.Sprintf("-job-%03d-", StallBatch)) && c.Name == "blast" && c.Usage.Cpu().MilliValue() < 50 {
					stalled = true
				}
				if strings.Contains(pm.Name, fmt.Sprintf("-job-%03d-", OOMBatch)) && c.Name == "blast" {
					oomPeak = max(oomPeak, c.Usage.Memory().Value())
				}
			}
		}
		select {
		case err := <-done: // sampled until the end
			if err != nil {
				t.Fatal(err)
			}
			ended = true
		default:
			time.Sleep(time.Millisecond)
		}
	}
	if !stalled || oomPeak < 60<<30 || oomPeak > 62<<30 {
		t.Fatalf("stalled %v; batch 013's memory peaked at %d", stalled, oomPeak)
	}
}

// A run plays on nodes of its own, which are deleted as it ends, or KeepCluster later.
func TestTheRunsClusterIsDeletedAfterIt(t *testing.T) {
	sim := kubesim.New()
	defer sim.Close()
	nodeUp := func(name string) bool {
		res, err := http.Get(sim.URL() + "/api/v1/nodes/" + name)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		return res.StatusCode == http.StatusOK
	}
	for _, keep := range []time.Duration{0, 2 * time.Second} {
		jobs := portstest.NewJobDirectory()
		p := Player{Log: portstest.NewEventLog(0), Jobs: jobs, Sim: sim, Owner: "oid", Healthy: true, KeepCluster: keep}
		id := fmt.Sprintf("demo-keep-%d", keep/time.Second)
		played := make(chan error, 1)
		go func() { played <- p.Play(context.Background(), id) }()
		for {
			if r, err := jobs.Get(context.Background(), id); err == nil && r.Status.Terminal() {
				break
			}
			time.Sleep(5 * time.Millisecond)
		}
		o, _ := load(id)
		if keep > 0 && !nodeUp(NodeName(o.Run.ELBJobID, 0)) {
			t.Fatal("the kept cluster's node is gone as the run ends")
		}
		if err := <-played; err != nil {
			t.Fatal(err)
		}
		for i := range Nodes {
			if nodeUp(NodeName(o.Run.ELBJobID, i)) {
				t.Fatalf("keep %v: node %d is still up after Play", keep, i)
			}
		}
	}
	if NodeName("job-a", 1) == NodeName("job-b", 1) {
		t.Fatal("two runs share a node")
	}
}
