package portstest

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/blastlog/blastlog/core/target"
	"github.com/blastlog/blastlog/ports"
)

// ClusterDriver makes a cluster change as the kubelet and the Job controller would,
// for TestCluster. Each implementation drives one ports.Cluster.
type ClusterDriver interface {
	// AddPod creates a pod whose containers all wait to start.
	AddPod(ns, name string, containers ...string)
	StartContainer(ns, pod, container string)
	Log(ns, pod, container string, lines ...string)
	EndContainer(ns, pod, container string, exit int)
	DeletePod(ns, pod string)
	// Warning records a Warning event about a pod.
	Warning(ns, pod, reason, message string)
	// AddJob creates an active Job; EndJob ends it, failed or succeeded.
	AddJob(ns, name string)
	EndJob(ns, name string, failed bool, reason string)
}

// clusterWait bounds every wait of TestCluster.
const clusterWait = 10 * time.Second

// TestCluster is the conformance suite of ports.Cluster. newCluster returns a fresh
// cluster and its driver.
func TestCluster(t *testing.T, newCluster func(t *testing.T) (ports.Cluster, ClusterDriver)) {
	const ns = "conformance"
	ctx := func(t *testing.T) context.Context {
		c, cancel := context.WithTimeout(context.Background(), clusterWait)
		t.Cleanup(cancel)
		return c
	}
	t.Run("pods are listed and read until deleted", func(t *testing.T) {
		c, d := newCluster(t)
		d.AddPod(ns, "p1", "blast")
		pods, err := c.ListPods(ctx(t), ns)
		if err != nil || len(pods) != 1 || pods[0].Name != "p1" || len(pods[0].Main) != 1 || pods[0].Main[0].State != target.Waiting {
			t.Fatalf("ListPods: %+v, %v", pods, err)
		}
		if _, err := c.Pod(ctx(t), ns, "nobody"); !errors.Is(err, ports.ErrNotFound) {
			t.Fatalf("Pod of an unknown pod: %v", err)
		}
		d.StartContainer(ns, "p1", "blast")
		if p, err := c.Pod(ctx(t), ns, "p1"); err != nil || p.Main[0].State != target.Running {
			t.Fatalf("Pod after start: %+v, %v", p, err)
		}
		d.DeletePod(ns, "p1")
		waitFor(t, "the deleted pod to be gone", func() bool {
			_, err := c.Pod(ctx(t), ns, "p1")
			return errors.Is(err, ports.ErrNotFound)
		})
	})
	t.Run("a watch sees the pods there, then each change", func(t *testing.T) {
		c, d := newCluster(t)
		d.AddPod(ns, "before", "blast")
		w := watchPods(t, c, ns)
		w.await(t, "the pod that was there", func(p ports.PodChange) bool { return p.Pod.Name == "before" && !p.Deleted })
		d.AddPod(ns, "after", "blast")
		w.await(t, "a new pod", func(p ports.PodChange) bool { return p.Pod.Name == "after" })
		d.StartContainer(ns, "after", "blast")
		w.await(t, "its container started", func(p ports.PodChange) bool {
			return p.Pod.Name == "after" && len(p.Pod.Main) == 1 && p.Pod.Main[0].State == target.Running
		})
		d.DeletePod(ns, "before")
		w.await(t, "the deletion", func(p ports.PodChange) bool { return p.Pod.Name == "before" && p.Deleted })
	})
	t.Run("a log is followed to the container's end", func(t *testing.T) {
		c, d := newCluster(t)
		d.AddPod(ns, "p", "blast")
		req := ports.LogRequest{Namespace: ns, Pod: "p", Container: "blast", Follow: true}
		if err := c.FollowLog(ctx(t), req, func([]byte, bool) error { return nil }); !errors.Is(err, ports.ErrWaiting) {
			t.Fatalf("the log of a waiting container: %v", err)
		}
		d.StartContainer(ns, "p", "blast")
		d.Log(ns, "p", "blast", "one", "two")
		var got []string
		var mu sync.Mutex
		done := make(chan error, 1)
		go func() {
			done <- c.FollowLog(ctx(t), req, func(line []byte, _ bool) error {
				mu.Lock()
				defer mu.Unlock()
				got = append(got, string(line))
				return nil
			})
		}()
		waitFor(t, "the first two lines", func() bool { mu.Lock(); defer mu.Unlock(); return len(got) >= 2 })
		d.Log(ns, "p", "blast", "three")
		d.EndContainer(ns, "p", "blast", 0)
		select {
		case err := <-done:
			if err != nil {
				t.Fatalf("the log of an ended container ended with %v", err)
			}
		case <-time.After(clusterWait):
			t.Fatal("FollowLog did not return after the container ended")
		}
		mu.Lock()
		defer mu.Unlock()
		if len(got) != 3 {
			t.Fatalf("lines %q, want one, two, three", got)
		}
		for i, want := range []string{"one", "two", "three"} {
			// The kubelet's timestamp comes first: "2006-01-02T15:04:05.999999999Z line".
			ts, line, ok := strings.Cut(got[i], " ")
			if _, err := time.Parse(time.RFC3339Nano, ts); !ok || err != nil || line != want {
				t.Fatalf("line %d is %q, want a timestamp and %q", i, got[i], want)
			}
		}
		// Without Follow, a read ends at what is held now.
		var n int
		if err := c.FollowLog(ctx(t), ports.LogRequest{Namespace: ns, Pod: "p", Container: "blast"},
			func([]byte, bool) error { n++; return nil }); err != nil || n != 3 {
			t.Fatalf("one read of the ended log: %d lines, %v", n, err)
		}
		d.DeletePod(ns, "p")
		waitFor(t, "the log of a deleted pod to be ErrNotFound", func() bool {
			err := c.FollowLog(ctx(t), req, func([]byte, bool) error { return nil })
			return errors.Is(err, ports.ErrNotFound)
		})
	})
	t.Run("an error from the line callback ends the follow with it", func(t *testing.T) {
		c, d := newCluster(t)
		d.AddPod(ns, "p", "blast")
		d.StartContainer(ns, "p", "blast")
		d.Log(ns, "p", "blast", "one", "two")
		stop := errors.New("enough")
		err := c.FollowLog(ctx(t), ports.LogRequest{Namespace: ns, Pod: "p", Container: "blast", Follow: true},
			func([]byte, bool) error { return stop })
		if !errors.Is(err, stop) {
			t.Fatalf("got %v, want the callback's error", err)
		}
	})
	t.Run("warning events are watched", func(t *testing.T) {
		c, d := newCluster(t)
		d.AddPod(ns, "p", "blast")
		got := make(chan target.Event, 16)
		watch(t, func(ctx context.Context) error {
			return c.WatchEvents(ctx, ns, func(e target.Event) { got <- e })
		})
		d.Warning(ns, "p", "FailedScheduling", "0/3 nodes are available")
		for {
			select {
			case e := <-got:
				if e.Kind == "Pod" && e.Name == "p" && e.Type == "Warning" && e.Reason == "FailedScheduling" &&
					strings.Contains(e.Text, "0/3 nodes") {
					return
				}
			case <-time.After(clusterWait):
				t.Fatal("the Warning event was not seen")
			}
		}
	})
	t.Run("jobs are watched to their end", func(t *testing.T) {
		c, d := newCluster(t)
		got := make(chan target.Job, 16)
		watch(t, func(ctx context.Context) error {
			return c.WatchJobs(ctx, ns, func(j target.Job) { got <- j })
		})
		d.AddJob(ns, "elb-batch-000")
		d.EndJob(ns, "elb-batch-000", true, "BackoffLimitExceeded")
		for {
			select {
			case j := <-got:
				if j.Name == "elb-batch-000" && j.Done == "failed" && j.Reason == "BackoffLimitExceeded" {
					return
				}
			case <-time.After(clusterWait):
				t.Fatal("the failed Job was not seen")
			}
		}
	})
}

// watch runs a watch until the test ends; it must not end before.
func watch(t *testing.T, run func(ctx context.Context) error) {
	ctx, cancel := context.WithCancel(context.Background())
	ended := make(chan error, 1)
	go func() { ended <- run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-ended; err != nil && !errors.Is(err, context.Canceled) {
			t.Errorf("the watch ended with %v", err)
		}
	})
}

type podWatch struct{ ch chan ports.PodChange }

func watchPods(t *testing.T, c ports.Cluster, ns string) podWatch {
	w := podWatch{ch: make(chan ports.PodChange, 256)}
	watch(t, func(ctx context.Context) error {
		return c.WatchPods(ctx, ns, func(p ports.PodChange) {
			select {
			case w.ch <- p:
			case <-ctx.Done():
			}
		})
	})
	return w
}

func (w podWatch) await(t *testing.T, what string, ok func(ports.PodChange) bool) {
	t.Helper()
	deadline := time.After(clusterWait)
	for {
		select {
		case p := <-w.ch:
			if ok(p) {
				return
			}
		case <-deadline:
			t.Fatalf("the pod watch did not see %s", what)
		}
	}
}

func waitFor(t *testing.T, what string, ok func() bool) {
	t.Helper()
	for deadline := time.Now().Add(clusterWait); !ok(); time.Sleep(20 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("waited %v for %s", clusterWait, what)
		}
	}
}
