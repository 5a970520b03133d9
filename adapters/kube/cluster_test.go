package kube_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"k8s.io/client-go/rest"

	"github.com/blastlog/blastlog/adapters/kube"
	"github.com/blastlog/blastlog/adapters/kube/kubesim"
	"github.com/blastlog/blastlog/core/merge"
	"github.com/blastlog/blastlog/core/target"
	"github.com/blastlog/blastlog/ports"
)

func setup(t *testing.T) (*kubesim.Sim, *kube.Cluster) {
	sim := kubesim.New()
	t.Cleanup(sim.Close)
	c, err := kube.New(&rest.Config{Host: sim.URL()})
	if err != nil {
		t.Fatal(err)
	}
	return sim, c
}

type recorder struct {
	mu  sync.Mutex
	evs []string
}

func (r *recorder) add(ch ports.PodChange) {
	r.mu.Lock()
	defer r.mu.Unlock()
	state := "-"
	if len(ch.Pod.Main) > 0 {
		state = fmt.Sprint(ch.Pod.Main[0].State)
	}
	r.evs = append(r.evs, fmt.Sprintf("%s:%v:%s", ch.Pod.Name, ch.Deleted, state))
}

func (r *recorder) waitFor(t *testing.T, s string) {
	t.Helper()
	for i := 0; i < 200; i++ {
		r.mu.Lock()
		for _, e := range r.evs {
			if e == s {
				r.mu.Unlock()
				return
			}
		}
		r.mu.Unlock()
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("never saw %s in %v", s, r.evs)
}

func TestWatchPodsListsWatchesAndRelists(t *testing.T) {
	sim, c := setup(t)
	sim.AddPod(kubesim.PodSpec{Name: "before", Main: []string{"m"}})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	rec := &recorder{}
	go c.WatchPods(ctx, "default", rec.add)
	rec.waitFor(t, "before:false:0")
	sim.AddPod(kubesim.PodSpec{Name: "p1", Job: "init-ssd-3ed51a95-0", Main: []string{"m"},
		Labels: map[string]string{target.LabelJobID: "job-1"}, Env: map[string]map[string]string{"m": {target.EnvJobID: "job-1"}}})
	sim.Start("default", "p1", "m")
	rec.waitFor(t, fmt.Sprintf("p1:false:%d", target.Running))
	sim.ExpireWatches() // the watch is cut and its resourceVersion is too old: a fresh list
	sim.AddPod(kubesim.PodSpec{Name: "after-expiry", Main: []string{"m"}})
	rec.waitFor(t, "after-expiry:false:0")
	sim.Delete("default", "p1")
	rec.waitFor(t, fmt.Sprintf("p1:true:%d", target.Running))
}

func TestConvert(t *testing.T) {
	sim, c := setup(t)
	sim.AddPod(kubesim.PodSpec{Name: "b", Job: "blastn-batch-nt-job-000-3ed51a95", Init: []string{"load"}, Main: []string{"blast", "results-export"},
		Env: map[string]map[string]string{"blast": {target.EnvJobID: "job-x"}}})
	sim.Start("default", "b", "load")
	var got target.Pod
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go c.WatchPods(ctx, "default", func(ch ports.PodChange) {
		if len(ch.Pod.Init) > 0 && ch.Pod.Init[0].ID != "" {
			got = ch.Pod
			select {
			case <-done:
			default:
				close(done)
			}
		}
	})
	<-done
	cancel()
	if got.Job != "blastn-batch-nt-job-000-3ed51a95" || got.Init[0].State != target.Running || got.Main[1].Name != "results-export" ||
		got.Main[0].Env[target.EnvJobID] != "job-x" || got.UID == "" {
		t.Fatalf("%+v", got)
	}
}

func follow(t *testing.T, c *kube.Cluster, req ports.LogRequest) ([]string, error) {
	var lines []string
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	err := c.FollowLog(ctx, req, func(l []byte, _ bool) error {
		_, content, perr := merge.ParseLine(l)
		if perr != nil {
			return perr
		}
		lines = append(lines, string(content))
		return nil
	})
	return lines, err
}

func TestFollowLog(t *testing.T) {
	sim, c := setup(t)
	sim.AddPod(kubesim.PodSpec{Name: "p", Main: []string{"m"}})
	req := ports.LogRequest{Namespace: "default", Pod: "p", Container: "m", Follow: true}
	if _, err := follow(t, c, req); !errors.Is(err, ports.ErrWaiting) {
		t.Fatalf("waiting: %v", err)
	}
	sim.Start("default", "p", "m")
	sim.Log("default", "p", "m", "one", "two")
	poll := req
	poll.Follow = false // a poll: what the kubelet holds now, and no wait for more
	if lines, err := follow(t, c, poll); err != nil || strings.Join(lines, ",") != "one,two" {
		t.Fatalf("poll: %v %v", lines, err)
	}
	go func() {
		time.Sleep(100 * time.Millisecond)
		sim.Log("default", "p", "m", "three")
		sim.Terminate("default", "p", "m", 0)
	}()
	lines, err := follow(t, c, req)
	if err != nil || strings.Join(lines, ",") != "one,two,three" {
		t.Fatalf("%v %v", lines, err)
	}
	tail := req
	tail.TailLines = 1
	if lines, _ := follow(t, c, tail); strings.Join(lines, ",") != "three" {
		t.Fatalf("tail: %v", lines)
	}
	sim.Restart("default", "p", "m")
	sim.Log("default", "p", "m", "again")
	sim.Terminate("default", "p", "m", 0)
	if lines, _ := follow(t, c, req); strings.Join(lines, ",") != "again" {
		t.Fatalf("after restart: %v", lines)
	}
	prev := req
	prev.Previous = true
	if lines, _ := follow(t, c, prev); strings.Join(lines, ",") != "one,two,three" {
		t.Fatalf("previous: %v", lines)
	}
	sim.Delete("default", "p")
	if _, err := follow(t, c, req); !errors.Is(err, ports.ErrNotFound) {
		t.Fatalf("deleted: %v", err)
	}
}

func TestFollowLogSinceTimeAndLongLines(t *testing.T) {
	sim, c := setup(t)
	sim.AddPod(kubesim.PodSpec{Name: "p", Main: []string{"m"}})
	sim.Start("default", "p", "m")
	base := time.Date(2026, 6, 1, 2, 3, 4, 0, time.UTC)
	sim.LogAt("default", "p", "m", base.Add(100*time.Millisecond), "old")
	sim.LogAt("default", "p", "m", base.Add(1500*time.Millisecond), "new", strings.Repeat("x", 200<<10))
	sim.Terminate("default", "p", "m", 0)
	lines, err := follow(t, c, ports.LogRequest{Namespace: "default", Pod: "p", Container: "m", SinceTime: base.Add(time.Second), Follow: true})
	if err != nil || len(lines) != 2 || lines[0] != "new" {
		t.Fatalf("%d lines %v", len(lines), err)
	}
	if n := len(lines[1]); n > ports.MaxLogLine {
		t.Fatalf("line of %d bytes", n)
	}
}

// The two endings of a follow: a stream cut while the container runs is ErrCut, one
// that ends with the container is nil.
func TestFollowLogEndingsAreDistinct(t *testing.T) {
	sim, c := setup(t)
	sim.AddPod(kubesim.PodSpec{Name: "p", Main: []string{"m"}})
	sim.Start("default", "p", "m")
	sim.Log("default", "p", "m", "one")
	req := ports.LogRequest{Namespace: "default", Pod: "p", Container: "m", Follow: true}
	go func() {
		time.Sleep(150 * time.Millisecond)
		sim.CutStreams()
	}()
	if lines, err := follow(t, c, req); !errors.Is(err, ports.ErrCut) || strings.Join(lines, ",") != "one" {
		t.Fatalf("cut: %v %v", lines, err)
	}
	go func() {
		time.Sleep(150 * time.Millisecond)
		sim.Terminate("default", "p", "m", 0)
	}()
	if _, err := follow(t, c, req); err != nil {
		t.Fatalf("ended: %v", err)
	}
}

// PodMetrics reads metrics-server's answer (memory in Ki, CPU in milli- or
// nanocores) with resource.Quantity: one request for the namespace; a cluster without
// the metrics API is ErrNotFound, RBAC's refusal ErrForbidden.
func TestPodMetrics(t *testing.T) {
	sim, c := setup(t)
	ctx := context.Background()
	for _, name := range []string{"blastn-batch-s00-job-013-3ed51a95-h4j5k", "blastn-batch-s01-job-014-3ed51a95-h4j5k", "waiting-pod"} {
		sim.AddPod(kubesim.PodSpec{Name: name, Main: []string{"blast", "results-export"}})
	}
	sim.Start("default", "blastn-batch-s00-job-013-3ed51a95-h4j5k", "blast")
	sim.Use("default", "blastn-batch-s00-job-013-3ed51a95-h4j5k", "blast", 66_355_200_000, 14.5)
	sim.Start("default", "blastn-batch-s01-job-014-3ed51a95-h4j5k", "blast")
	sim.Use("default", "blastn-batch-s01-job-014-3ed51a95-h4j5k", "blast", 1<<30, 0.001234567)
	before := sim.RequestsFor("metrics")
	got, err := c.PodMetrics(ctx, "default")
	if err != nil {
		t.Fatal(err)
	}
	if sim.RequestsFor("metrics")-before != 1 {
		t.Fatalf("%d requests for one list", sim.RequestsFor("metrics")-before)
	}
	byPod := map[string]target.Usage{}
	for _, u := range got {
		byPod[u.Pod+"/"+u.Container] = u
	}
	a, b := byPod["blastn-batch-s00-job-013-3ed51a95-h4j5k/blast"], byPod["blastn-batch-s01-job-014-3ed51a95-h4j5k/blast"]
	if len(got) != 2 || a.Memory != 66_355_200_000/1024*1024 || a.CPU != 14.5 || b.Memory != 1<<30 || b.CPU < 0.0012345 || b.CPU > 0.0012346 || a.At.IsZero() {
		t.Fatalf("%+v", got)
	}
	sim.RefuseMetrics(404)
	if _, err := c.PodMetrics(ctx, "default"); !errors.Is(err, ports.ErrNotFound) {
		t.Fatalf("no metrics API: %v", err)
	}
	sim.RefuseMetrics(403)
	if _, err := c.PodMetrics(ctx, "default"); !errors.Is(err, ports.ErrForbidden) {
		t.Fatalf("forbidden: %v", err)
	}
}
