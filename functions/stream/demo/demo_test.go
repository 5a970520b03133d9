package demo

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/blastlog/blastlog/adapters/kube/kubesim"
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
	evs, _ := log.Read(context.Background(), "demo-1", "", 1000)
	// The azcopy progress line carries a bare CR: it becomes two lines.
	if want := len(o.Stdout) + len(secretLines) + len(o.Stderr) + 1; len(evs) != want {
		t.Fatalf("%d events, want %d", len(evs), want)
	}
	var masked int
	for _, e := range evs {
		if strings.ContainsAny(e.Line, "\x1b\r") || strings.Contains(e.Line, "q5n0cUzH") || strings.Contains(e.Line, "Zm9vYmFy") {
			t.Fatalf("unsanitised: %q", e.Line)
		}
		if strings.Contains(e.Line, sanitize.Mask) {
			masked++
		}
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
