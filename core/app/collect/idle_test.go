package collect

import (
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/blastlog/blastlog/core/diagnose"
	"github.com/blastlog/blastlog/core/event"
	"github.com/blastlog/blastlog/core/job"
	"github.com/blastlog/blastlog/core/target"
)

// priceList is a fixed ports.PriceBook.
type priceList map[string]float64

func (p priceList) Prices(context.Context, []target.Node) (diagnose.Prices, error) {
	return diagnose.Prices{USD: p, Source: "file"}, nil
}

// endedRun runs a run on two E32s_v3 nodes to its end under collectors holding as
// holders (each Run: collection and the looks after the end), which stop with t.
func (r *rig) endedRun(idleAfter time.Duration, holders ...string) {
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	r.t.Cleanup(func() { cancel(); wg.Wait() })
	r.coord.Touch(ctx, runID)
	for i, name := range []string{"n0", "n1"} {
		r.cluster.AddNode(target.Node{Name: name, InstanceType: "Standard_E32s_v3", Region: "eastus"})
		p := batchPod(i+1, "a")
		p.Node = name
		r.cluster.AddPod(p)
		r.cluster.StartContainer("default", p.Name, "blast")
	}
	for _, h := range holders {
		c := r.collector(h, func(c *Config) { c.IdleAfter = idleAfter })
		c.Ended, c.Prices, c.Active = r.coord, priceList{"Standard_E32s_v3": 2.016}, r.coord
		wg.Add(1)
		go func() { defer wg.Done(); c.Run(ctx) }()
	}
	r.waitFor("both nodes in use", count(event.NoticeNode, 2))
	for i := range 2 {
		r.cluster.EndContainer("default", batchPod(i+1, "a").Name, "blast", 0, "Completed")
	}
	if err := r.jobs.SetStatus(ctx, runID, job.Completed); err != nil {
		r.t.Fatal(err)
	}
	r.waitForWatched(true)
}

// waitForWatched waits until the run is (or is no longer) watched after its end.
func (r *rig) waitForWatched(want bool) {
	r.t.Helper()
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(5 * time.Millisecond) {
		w, _ := r.coord.Watched(context.Background())
		if _, ok := w[runID]; ok == want {
			return
		}
		if time.Now().After(deadline) {
			r.t.Fatalf("watched %v, want %v; the log holds:\n%s", w, want, dump(r.events()))
		}
	}
}

// Nodes still up IdleAfter after the run ended: one cluster_idle notice, however many
// replicas look, with the nodes and what they cost by the hour.
func TestClusterLeftRunning(t *testing.T) {
	r := newRig(t)
	r.endedRun(300*time.Millisecond, "a", "b")
	if in, _ := r.coord.Contains(context.Background(), []string{runID}); in[runID] {
		t.Fatal("a watched run is still active: its viewers would wait for its end")
	}
	evs := r.waitFor("cluster_idle", count(event.NoticeClusterIdle, 1))
	r.waitForWatched(false)
	time.Sleep(100 * time.Millisecond) // both replicas' loops go round again
	evs = r.events()
	idle := notices(evs, event.NoticeClusterIdle)
	if len(idle) != 1 {
		t.Fatalf("%d cluster_idle notices:\n%s", len(idle), dump(evs))
	}
	d := idle[0].Detail
	if d.Nodes != 2 || d.USDPerHour == nil || *d.USDPerHour != 4.03 || d.FirstTS.IsZero() || idle[0].TS.Sub(d.FirstTS) < 300*time.Millisecond {
		t.Fatalf("%s", idle[0].AppendJSON(nil))
	}
	if l := idle[0].Line; !strings.HasPrefix(l, "the cluster of run "+elbID+" is still up ") ||
		!strings.HasSuffix(l, " s after it ended: 2 nodes, ≈ $4.03/h — run `elastic-blast delete`") {
		t.Fatalf("line %q", l)
	}
	// The diagnosis carries it.
	var tr diagnose.Tracker
	for i := range evs {
		tr.Add(&evs[i])
	}
	if ci := tr.Diagnose(diagnose.Run{Status: "completed", Now: time.Now()}).ClusterIdle; ci == nil || ci.Nodes != 2 || *ci.USDPerHour != 4.03 {
		t.Fatalf("diagnosis %+v", ci)
	}
}

// Nodes gone before IdleAfter: no notice, and the run is let go.
func TestClusterDeletedInTime(t *testing.T) {
	r := newRig(t)
	r.endedRun(2*time.Second, "a")
	r.cluster.RemoveNode("n0")
	r.cluster.RemoveNode("n1")
	r.waitForWatched(false)
	if n := len(notices(r.events(), event.NoticeClusterIdle)); n != 0 {
		t.Fatalf("%d cluster_idle notices for a deleted cluster", n)
	}
}

// A run is not watched after its end when no look could answer: its pods ran on no
// node we know of, or blastlog may not read Nodes.
func TestNotWatchedWithoutNodesToLookAt(t *testing.T) {
	for name, setup := range map[string]func(r *rig, p *target.Pod){
		"no node":          func(r *rig, p *target.Pod) {},
		"nodes unreadable": func(r *rig, p *target.Pod) { r.cluster.Forbid("nodes"); p.Node = "n0" },
	} {
		t.Run(name, func(t *testing.T) {
			r := newRig(t)
			ctx := context.Background()
			r.coord.Touch(ctx, runID)
			p := batchPod(1, "a")
			setup(r, &p)
			r.cluster.AddPod(p)
			r.cluster.StartContainer("default", p.Name, "blast")
			c := r.collector("a", func(c *Config) { c.IdleAfter = time.Second })
			c.Ended = r.coord
			done := make(chan error, 1)
			go func() { done <- c.Collect(ctx, runID) }()
			r.waitFor("the container followed", count("following", 1))
			r.cluster.EndContainer("default", p.Name, "blast", 0, "Completed")
			r.jobs.SetStatus(ctx, runID, job.Completed)
			select {
			case err := <-done:
				if err != nil {
					t.Fatal(err)
				}
			case <-time.After(10 * time.Second):
				t.Fatal("Collect did not return")
			}
			if w, _ := r.coord.Watched(ctx); len(w) != 0 {
				t.Fatalf("watched %v", w)
			}
		})
	}
}
