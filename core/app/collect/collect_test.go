package collect

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/blastlog/blastlog/core/event"
	"github.com/blastlog/blastlog/core/job"
	"github.com/blastlog/blastlog/ports"
	"github.com/blastlog/blastlog/ports/portstest"
)

// A run whose cluster cannot be found is reported once per reason, not on every retry.
func TestUnreachableClusterIsNoticedOnce(t *testing.T) {
	log, jobs, coord := portstest.NewEventLog(0), portstest.NewJobDirectory(), portstest.NewCoordination()
	ctx := context.Background()
	jobs.Register(ctx, job.Record{JobID: "r", OwnerOID: "o"})
	reason := errors.New("run \"r\": its record names no AKS cluster")
	c := &Collector{Log: log, Jobs: jobs, Statuses: jobs, Leases: coord, Checkpoints: coord, Active: coord,
		Clusters: clusterFunc(func(context.Context, job.Record) (ports.Cluster, error) { return nil, reason }),
		Config:   Config{Holder: "h"}}
	for i := 0; i < 3; i++ {
		if err := c.Collect(ctx, "r"); !errors.Is(err, reason) {
			t.Fatalf("attempt %d: %v", i, err)
		}
	}
	evs, _ := log.Read(ctx, "r", event.ID{}, 10)
	if len(evs) != 1 || evs[0].Notice != "degraded" || evs[0].Source != event.SourceSystem {
		t.Fatalf("%+v", evs)
	}
	// The lease is not kept by a collector that could not start.
	if ok, _ := coord.Acquire(ctx, "r", "other", 0); !ok {
		t.Fatal("lease still held")
	}
}

type clusterFunc func(context.Context, job.Record) (ports.Cluster, error)

func (f clusterFunc) For(ctx context.Context, r job.Record) (ports.Cluster, error) { return f(ctx, r) }

// lines maps each k8s line of the run to how often it is stored, and checks that
// each container's lines are in the order written (numbered "<container> <n>").
func (r *rig) lines() map[string]int {
	seen := map[string]int{}
	last := map[string]int{}
	for _, e := range r.events() {
		if e.Source != event.SourceK8s {
			continue
		}
		seen[e.Line]++
		var n int
		if _, err := fmt.Sscanf(e.Line[strings.LastIndexByte(e.Line, ' ')+1:], "%d", &n); err == nil {
			key := e.Pod + "/" + e.Container
			if prev, ok := last[key]; ok && n <= prev {
				r.t.Errorf("%s: line %d after line %d", key, n, prev)
			}
			last[key] = n
		}
	}
	return seen
}

func (r *rig) write(pod, container string, from, to int) {
	for i := from; i < to; i++ {
		r.cluster.Log("default", pod, container, fmt.Sprintf("%s line %d", pod, i))
	}
}

func (r *rig) wantEachOnce(pods []string, n int) {
	r.t.Helper()
	seen := r.lines()
	for _, p := range pods {
		for i := 0; i < n; i++ {
			if l := fmt.Sprintf("%s line %d", p, i); seen[l] != 1 {
				r.t.Fatalf("%q stored %d times", l, seen[l])
			}
		}
	}
}

// Beyond the follow cap containers are polled: with one follow for four containers
// writing at once, every line is stored once, in order, and every container ends
// complete.
func TestBeyondTheFollowCapEveryContainerIsPolled(t *testing.T) {
	r := newRig(t)
	var pods []string
	for n := 1; n <= 4; n++ {
		p := batchPod(n, "a")
		r.cluster.AddPod(p)
		r.cluster.StartContainer("default", p.Name, "blast")
		pods = append(pods, p.Name)
	}
	stop := r.collect("a", func(c *Config) { c.MaxFollows = 1 })
	for round := 0; round < 5; round++ {
		for _, p := range pods {
			r.write(p, "blast", round*20, (round+1)*20)
		}
		time.Sleep(10 * time.Millisecond)
	}
	for _, p := range pods {
		r.cluster.EndContainer("default", p, "blast", 0, "Completed")
	}
	evs := r.waitFor("four containers ended", count(event.NoticeContainerEnded, 4))
	if err := stop(); err != nil {
		t.Fatal(err)
	}
	r.wantEachOnce(pods, 100)
	for _, e := range notices(evs, event.NoticeContainerEnded) {
		if e.Ended.Completeness != event.Complete {
			t.Errorf("%s", e.AppendJSON(nil))
		}
	}
	if n := len(notices(evs, "following")); n == 0 || n > 4 {
		t.Errorf("%d following notices: one per follow", n)
	}
}

// A collector stopped mid-run is replaced by another that continues from the
// checkpoints: no line twice, none lost, even within the second where it stopped.
func TestTakeoverRepeatsAndLosesNothing(t *testing.T) {
	r := newRig(t)
	p := batchPod(3, "a")
	r.cluster.AddPod(p)
	r.cluster.StartContainer("default", p.Name, "blast")
	short := func(c *Config) { c.LeaseTTL = 300 * time.Millisecond }
	r.write(p.Name, "blast", 0, 30)
	stop := r.collect("a", short)
	r.waitFor("the first 30 lines", func([]event.Event) bool { return len(r.lines()) == 30 })
	if err := stop(); err != nil {
		t.Fatal(err)
	}
	r.write(p.Name, "blast", 30, 60) // while nobody collects
	stop = r.collect("b", short)
	r.write(p.Name, "blast", 60, 90)
	r.cluster.EndContainer("default", p.Name, "blast", 0, "Completed")
	r.waitFor("the container ended", count(event.NoticeContainerEnded, 1))
	if err := stop(); err != nil {
		t.Fatal(err)
	}
	r.wantEachOnce([]string{p.Name}, 90)
}

// A container still waiting to start is read from its first line once it runs.
func TestWaitingContainerIsReadOnceItStarts(t *testing.T) {
	r := newRig(t)
	p := batchPod(4, "a")
	p.Main[0].WaitingReason = "ContainerCreating"
	r.cluster.AddPod(p)
	stop := r.collect("a")
	time.Sleep(100 * time.Millisecond) // several polls while it waits
	r.cluster.StartContainer("default", p.Name, "blast")
	r.write(p.Name, "blast", 0, 40)
	r.cluster.EndContainer("default", p.Name, "blast", 137, "OOMKilled")
	evs := r.waitFor("the container ended", count(event.NoticeContainerEnded, 1))
	if err := stop(); err != nil {
		t.Fatal(err)
	}
	r.wantEachOnce([]string{p.Name}, 40)
	end := notices(evs, event.NoticeContainerEnded)[0]
	if end.Ended.ExitCode != 137 || end.Ended.Reason != "OOMKilled" || end.Ended.Completeness != event.Complete {
		t.Fatalf("%s", end.AppendJSON(nil))
	}
}

// A terminal run leaves collection once every container is drained: Collect returns,
// and the run is no longer active.
func TestTerminalRunLeavesCollectionOnceDrained(t *testing.T) {
	r := newRig(t)
	ctx := context.Background()
	r.coord.Touch(ctx, runID)
	p := batchPod(5, "a")
	r.cluster.AddPod(p)
	r.cluster.StartContainer("default", p.Name, "blast")
	r.write(p.Name, "blast", 0, 20)
	done := make(chan error, 1)
	go func() { done <- r.collector("a").Collect(ctx, runID) }()
	r.waitFor("20 lines", func([]event.Event) bool { return len(r.lines()) == 20 })
	r.write(p.Name, "blast", 20, 25)
	r.cluster.EndContainer("default", p.Name, "blast", 0, "Completed")
	if err := r.jobs.SetStatus(ctx, runID, job.Completed); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(10 * time.Second):
		t.Fatalf("Collect did not return; the log holds:\n%s", dump(r.events()))
	}
	r.wantEachOnce([]string{p.Name}, 25)
	if len(notices(r.events(), event.NoticeContainerEnded)) != 1 {
		t.Fatalf("no container_ended before leaving:\n%s", dump(r.events()))
	}
	if in, _ := r.coord.Contains(ctx, []string{runID}); in[runID] {
		t.Fatal("the run is still active")
	}
}
