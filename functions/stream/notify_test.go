package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/blastlog/blastlog/adapters/kube/kubesim"
	"github.com/blastlog/blastlog/adapters/redisstore"
	"github.com/blastlog/blastlog/adapters/webhook"
	"github.com/blastlog/blastlog/core/app"
	"github.com/blastlog/blastlog/core/job"
	"github.com/blastlog/blastlog/core/target"
	"github.com/blastlog/blastlog/ports"
)

// hook is a webhook receiver on loopback that keeps what it got and when.
type hook struct {
	srv  *httptest.Server
	mu   sync.Mutex
	msgs []ports.Notification
	at   []time.Time
}

func newHook(t *testing.T) *hook {
	h := &hook{}
	h.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		if webhook.Verify([]byte("hook-secret"), r.Header.Get(webhook.HeaderTimestamp), r.Header.Get(webhook.HeaderSignature), b, time.Now()) != nil {
			http.Error(w, "bad signature", http.StatusUnauthorized)
			return
		}
		var m ports.Notification
		json.Unmarshal(b, &m)
		h.mu.Lock()
		h.msgs, h.at = append(h.msgs, m), append(h.at, time.Now())
		h.mu.Unlock()
	}))
	t.Cleanup(h.srv.Close)
	return h
}

func (h *hook) got() []ports.Notification {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]ports.Notification(nil), h.msgs...)
}

// A failed run tells the webhook once, signed, with a link to its page, however many
// replicas archive; a succeeded run is not news by default. Reported: the time from
// the terminal status to the receiver (median of the runs).
func TestFailedRunNotifiesOnce(t *testing.T) {
	s := newStack(t)
	h := newHook(t)
	dir := t.TempDir()
	env := map[string]string{"BLASTLOG_NOTIFY_URLS": h.srv.URL + "/hook", "BLASTLOG_NOTIFY_SECRET": "hook-secret",
		"BLASTLOG_PUBLIC_URL": "https://blastlog.example.org"}
	s.archived(t, dir, env)
	s.archived(t, dir, env) // a second replica
	const runs = 5
	var ended []time.Time
	for i := 0; i < runs; i++ {
		run := fmt.Sprintf("run-n%d", i)
		s.publish(t, "", "job", "register", "--job", run, "--owner", owner)
		s.publish(t, numbered(20, 0), "lines", "--job", run, "--phase", "running")
		status := "failed"
		if i == runs-1 {
			status = "completed"
		}
		ended = append(ended, time.Now())
		s.publish(t, "", "job", "status", "--job", run, "--status", status)
	}
	deadline := time.Now().Add(30 * time.Second)
	for len(h.got()) < runs-1 && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	time.Sleep(3 * time.Second) // a second message would come within a check or two
	got := h.got()
	if len(got) != runs-1 {
		t.Fatalf("%d messages for %d failed runs: %+v", len(got), runs-1, got)
	}
	var lat []time.Duration
	for _, m := range got {
		i := 0
		fmt.Sscanf(m.JobID, "run-n%d", &i)
		if m.Kind != ports.NotifyFailed || m.State != "failed" || m.URL != "https://blastlog.example.org/?run="+m.JobID ||
			m.OwnerOID != owner || !strings.Contains(m.Headline, "failed") || i >= runs-1 {
			t.Fatalf("%+v", m)
		}
		h.mu.Lock()
		for j, mm := range h.msgs {
			if mm.JobID == m.JobID {
				lat = append(lat, h.at[j].Sub(ended[i]))
			}
		}
		h.mu.Unlock()
	}
	sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
	t.Logf("terminal status to the receiver: median %v, max %v", lat[len(lat)/2], lat[len(lat)-1])
}

// Two runs end on kubesim under two replicas with the real notifier: run-idle's four
// E32s_v3 nodes are still up BLASTLOG_IDLE_AFTER later, run-gone's node was removed
// first. run-idle gets one cluster_idle notice and the receiver one idle message (its
// nodes and their price by the hour); run-gone gets neither. Both runs' viewers get
// their end at once: the look after the end does not hold them.
func TestClusterLeftRunningNotifiesOnce(t *testing.T) {
	s := newStack(t)
	h := newHook(t)
	sim := kubesim.New()
	t.Cleanup(sim.Close)
	e32 := map[string]string{target.LabelInstanceType: "Standard_E32s_v3", target.LabelRegion: "eastus"}
	prices := filepath.Join(t.TempDir(), "prices.json")
	os.WriteFile(prices, []byte(`{"Standard_E32s_v3": 2.016}`), 0o600)
	env := map[string]string{"BLASTLOG_NOTIFY_URLS": h.srv.URL + "/hook", "BLASTLOG_NOTIFY_SECRET": "hook-secret",
		"BLASTLOG_PUBLIC_URL": "https://blastlog.example.org", "BLASTLOG_K8S": "kubeconfig", "KUBECONFIG": kubeconfig(t, sim.URL()),
		"BLASTLOG_K8S_METRICS_EVERY": "off", "BLASTLOG_IDLE_AFTER": "10s", "BLASTLOG_PRICES": prices, "BLASTLOG_STREAM_TICKETS": "on"}
	srv := s.server(t, env)
	s.server(t, env) // a second replica
	coord := redisstore.NewCoordination(s.rdb, redisstore.Config{})
	runs := map[string]struct {
		elb   string
		nodes []string
	}{
		"run-idle": {"job-0000000000000000000000000000idle", []string{"aks-e32-0", "aks-e32-1", "aks-e32-2", "aks-e32-3"}},
		"run-gone": {"job-0000000000000000000000000000gone", []string{"aks-e32-9"}},
	}
	ctx := context.Background()
	for run, r := range runs {
		if err := s.tickets.Access.Jobs.Register(ctx, job.Record{JobID: run, OwnerOID: owner, ELBJobID: r.elb, Status: job.Running, Namespace: "default"}); err != nil {
			t.Fatal(err)
		}
		coord.Touch(ctx, run)
		for i, node := range r.nodes {
			sim.AddNode(node, e32)
			pod := fmt.Sprintf("blastn-batch-s00-job-%03d-%s-x%d", i+1, r.elb[len(r.elb)-8:], i)
			sim.AddPod(kubesim.PodSpec{Namespace: "default", Name: pod, Job: pod[:len(pod)-3], Main: []string{"blast"}, Node: node,
				Labels: map[string]string{target.LabelJobID: r.elb, target.LabelApp: "blast"}})
			sim.Start("default", pod, "blast")
			sim.Log("default", pod, "blast", "searching")
		}
	}
	waitSummary := func(run, what string, ok func(app.RunSummary) bool) app.RunSummary {
		t.Helper()
		for deadline := time.Now().Add(60 * time.Second); ; time.Sleep(100 * time.Millisecond) {
			if sum := summaryOf(t, srv.base, run); ok(sum) {
				return sum
			} else if time.Now().After(deadline) {
				t.Fatalf("%s: %s; the summary: %+v", run, what, sum.Diagnosis)
			}
		}
	}
	for run, r := range runs {
		waitSummary(run, "its nodes in use", func(s app.RunSummary) bool { return s.Diagnosis.Cost != nil && len(s.Diagnosis.Cost.ByType) == 1 })
		for i := range r.nodes {
			sim.Terminate("default", fmt.Sprintf("blastn-batch-s00-job-%03d-%s-x%d", i+1, r.elb[len(r.elb)-8:], i), "blast", 0)
		}
	}
	// The viewers' end comes when collection ends, not when the look after it does.
	viewer, code := dial(t, srv.base, "run-idle", s.ticket(t, "run-idle"), "", true, nil)
	if code != 200 {
		t.Fatalf("events: %d", code)
	}
	completed := make(chan time.Time, 1)
	go func() {
		for {
			f, err := viewer.next()
			if err != nil {
				return
			}
			if f.event == "completed" {
				completed <- time.Now()
				return
			}
		}
	}()
	ended := time.Now()
	for run := range runs {
		s.publish(t, "", "job", "status", "--job", run, "--status", "completed")
	}
	select {
	case at := <-completed:
		if d := at.Sub(ended); d > 9*time.Second {
			t.Fatalf("the run's viewers got its end after %v", d)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("the run's viewers got no end")
	}
	sim.RemoveNode("aks-e32-9") // run-gone's cluster is deleted in time
	for deadline := time.Now().Add(60 * time.Second); len(h.got()) < 1 && time.Now().Before(deadline); {
		time.Sleep(50 * time.Millisecond)
	}
	time.Sleep(5 * time.Second) // a second message, or one for run-gone, would come by now
	got := h.got()
	if len(got) != 1 {
		t.Fatalf("%d messages: %+v", len(got), got)
	}
	m := got[0]
	if m.Kind != ports.NotifyIdle || m.JobID != "run-idle" || m.ClusterIdle == nil || m.ClusterIdle.Nodes != 4 ||
		m.ClusterIdle.USDPerHour == nil || *m.ClusterIdle.USDPerHour != 8.06 || m.URL != "https://blastlog.example.org/?run=run-idle" ||
		!strings.HasPrefix(m.Headline, "the cluster of run job-0000000000000000000000000000idle is still up ") ||
		!strings.HasSuffix(m.Headline, " after it ended: 4 nodes, ≈ $8.06/h — run `elastic-blast delete`") {
		t.Fatalf("%+v", m)
	}
	h.mu.Lock()
	since := h.at[0].Sub(ended)
	h.mu.Unlock()
	if since < 10*time.Second {
		t.Fatalf("told %v after the end, before BLASTLOG_IDLE_AFTER", since)
	}
	idle := waitSummary("run-idle", "cluster_idle", func(s app.RunSummary) bool { return s.Diagnosis.ClusterIdle != nil })
	if ci := idle.Diagnosis.ClusterIdle; ci.Nodes != 4 || *ci.USDPerHour != 8.06 || ci.Text != m.Headline {
		t.Fatalf("the summary's cluster_idle %+v", ci)
	}
	if sum := summaryOf(t, srv.base, "run-gone"); sum.Diagnosis.ClusterIdle != nil {
		t.Fatalf("run-gone: %+v", sum.Diagnosis.ClusterIdle)
	}
	for run := range runs {
		if w, _ := coord.Watched(ctx); !w[run].IsZero() {
			t.Fatalf("%s is still watched", run)
		}
	}
}
