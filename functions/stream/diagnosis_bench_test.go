package main

import (
	"bufio"
	"context"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/rest"

	"github.com/blastlog/blastlog/adapters/kube/kubesim"
	"github.com/blastlog/blastlog/core/job"
	"github.com/blastlog/blastlog/core/target"
)

// BenchmarkEventToViewer: from a FailedScheduling event created in the (simulated) API
// server to its k8s_event notice reaching an SSE viewer of the run, through the
// streaming container's collector and Redis; median and p90 of 20 events.
func BenchmarkEventToViewer(b *testing.B) {
	s := newStack(b)
	sim := kubesim.New()
	b.Cleanup(sim.Close)
	srv := s.server(b, map[string]string{"BLASTLOG_K8S": "kubeconfig", "KUBECONFIG": kubeconfig(b, sim.URL())})
	if err := s.tickets.Access.Jobs.Register(context.Background(), job.Record{JobID: "ev", OwnerOID: owner, ELBJobID: elbID, Status: job.Running}); err != nil {
		b.Fatal(err)
	}
	pod := "blastn-batch-s00-job-017-" + suffix + "-x7k2p"
	sim.AddPod(kubesim.PodSpec{Name: pod, Main: []string{"blast"}, Labels: map[string]string{target.LabelApp: "blast"},
		Unschedulable: "0/3 nodes are available: 3 Insufficient memory."})
	res, err := http.Get(srv.base + "/api/blast/logs/ev/events?ticket=" + s.ticket(nil, "ev"))
	if err != nil || res.StatusCode != 200 {
		b.Fatalf("%v %v", err, res)
	}
	defer res.Body.Close()
	arrived := make(chan string, 64)
	go func() {
		c := &client{res: res, r: bufio.NewReader(res.Body)}
		for {
			f, err := c.next()
			if err != nil {
				return
			}
			if f.event == "status" && strings.Contains(f.data, `"notice":"k8s_event"`) {
				arrived <- f.data
			}
		}
	}()
	time.Sleep(time.Second) // the collector has started and watches the events
	var lat []time.Duration
	for b.Loop() {
		lat = lat[:0]
		for i := 0; i < 20; i++ {
			name := fmt.Sprintf("%s.%d.%d", pod, b.N, i)
			t0 := time.Now()
			sim.Event(corev1.Event{ObjectMeta: metav1.ObjectMeta{Name: name}, Type: corev1.EventTypeWarning, Reason: "FailedScheduling",
				Message:        fmt.Sprintf("0/3 nodes are available: 3 Insufficient memory. (%s)", name),
				InvolvedObject: corev1.ObjectReference{Kind: "Pod", Name: pod}})
			for data := range arrived {
				if strings.Contains(data, name) {
					break
				}
			}
			lat = append(lat, time.Since(t0))
		}
	}
	slices.Sort(lat)
	b.ReportMetric(float64(lat[len(lat)/2].Microseconds())/1000, "median-ms")
	b.ReportMetric(float64(lat[len(lat)*9/10].Microseconds())/1000, "p90-ms")
}

// BenchmarkDiagnosisAPIRequests: what watching a 1,000-pod run's events, Jobs, metrics
// and nodes adds to its API requests: 1,000 running batch pods on 50 nodes and their
// 1,000 Jobs, a Warning event a second, followed for 30 s with PodMetrics listed every
// 15 s (the default). Reported per second: the events and jobs requests, and every
// request of the collector (its log follows and polls) beside them; per minute: the
// metrics lists and every request; and the node reads (one per node per run).
func BenchmarkDiagnosisAPIRequests(b *testing.B) {
	for b.Loop() {
		b.StopTimer()
		s := newStack(b)
		sim := kubesim.New()
		s.tickets.Access.Jobs.Register(context.Background(), job.Record{JobID: "run-k", OwnerOID: owner, ELBJobID: elbID, Status: job.Running})
		const pods = 1000
		for i := 0; i < pods; i++ {
			name := fmt.Sprintf("blastn-batch-s%02d-job-%03d-%s", i%4, i, suffix)
			sim.Job(batchJobNamed(name))
			node := fmt.Sprintf("aks-blast-12345678-vmss%06d", i%50)
			sim.AddNode(node, map[string]string{target.LabelInstanceType: "Standard_E32s_v3", target.LabelRegion: "eastus"})
			sim.AddPod(kubesim.PodSpec{Name: name + "-p", Job: name, Main: []string{"blast"}, Labels: map[string]string{target.LabelApp: "blast"},
				Node: node})
			sim.Start("default", name+"-p", "blast")
			sim.Log("default", name+"-p", "blast", "run start")
		}
		k := &kstack{stack: s, sim: sim, rest: &rest.Config{Host: sim.URL()}}
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error, 1)
		b.StartTimer()
		start := time.Now()
		before, evBefore, jobsBefore := sim.Requests(), sim.RequestsFor("events"), sim.RequestsFor("jobs")
		metricsBefore, nodesBefore := sim.RequestsFor("metrics"), sim.RequestsFor("nodes")
		go func() { done <- k.collector(b, "bench", 64).Collect(ctx, "run-k") }()
		for i := 0; i < 30; i++ {
			time.Sleep(time.Second)
			sim.Event(corev1.Event{ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("w%d", i)}, Type: corev1.EventTypeWarning,
				Reason: "BackOff", Message: "Back-off restarting failed container",
				InvolvedObject: corev1.ObjectReference{Kind: "Pod", Name: fmt.Sprintf("blastn-batch-s%02d-job-%03d-%s-p", i%4, i, suffix)}})
		}
		el := time.Since(start).Seconds()
		b.ReportMetric(float64(sim.RequestsFor("events")-evBefore+sim.RequestsFor("jobs")-jobsBefore)/el, "events+jobs-req/s")
		b.ReportMetric(float64(sim.Requests()-before)/el, "all-req/s")
		b.ReportMetric(float64(sim.RequestsFor("metrics")-metricsBefore)*60/el, "metrics-req/min")
		b.ReportMetric(float64(sim.RequestsFor("nodes")-nodesBefore), "node-reads") // once per node per run
		b.ReportMetric(float64(sim.Requests()-before)*60/el, "all-req/min")
		cancel()
		<-done
		sim.Close()
	}
}

// batchJobNamed is a batch Job with ElasticBLAST's labels and one container.
func batchJobNamed(name string) batchv1.Job {
	j := batchv1.Job{ObjectMeta: metav1.ObjectMeta{Name: name, Labels: map[string]string{target.LabelApp: "blast"}}}
	j.Spec.Template.Spec.Containers = []corev1.Container{{Name: "blast", Image: "ncbi/elb"}}
	return j
}
