package main

import (
	"bufio"
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"k8s.io/client-go/rest"

	"github.com/blastlog/blastlog/adapters/kube/kubesim"
	"github.com/blastlog/blastlog/adapters/redisstore"
	"github.com/blastlog/blastlog/core/event"
	"github.com/blastlog/blastlog/core/job"
	"github.com/blastlog/blastlog/core/target"
	"github.com/blastlog/blastlog/ports/portstest"
)

// viewers opens n SSE clients of jobID and calls onLog for every log frame.
func viewers(b *testing.B, s *stack, base, jobID string, n int, onLog func(v int, f frame)) (closeAll func()) {
	b.Helper()
	tr := &http.Transport{MaxConnsPerHost: 0, MaxIdleConnsPerHost: n}
	hc := &http.Client{Transport: tr}
	var bodies []func() error
	var wg sync.WaitGroup
	for v := 0; v < n; v++ {
		tk := s.ticket(nil, jobID)
		res, err := hc.Get(base + "/api/blast/logs/" + jobID + "/events?ticket=" + tk)
		if err != nil || res.StatusCode != 200 {
			b.Fatalf("viewer %d: %v %v", v, err, res)
		}
		bodies = append(bodies, res.Body.Close)
		wg.Add(1)
		go func() {
			defer wg.Done()
			c := &client{res: res, r: bufio.NewReaderSize(res.Body, 64<<10)}
			for {
				f, err := c.next()
				if err != nil {
					return
				}
				if f.event == "log" && onLog != nil {
					onLog(v, f)
				}
			}
		}()
	}
	return func() {
		for _, c := range bodies {
			c()
		}
		wg.Wait()
		tr.CloseIdleConnections()
	}
}

var sentAt = regexp.MustCompile(`"line":"t=(\d+)`)

// publishAt appends one event every 1/rate s for d, to the runs jobIDs in turn, each
// carrying its send time and its number (t=<unix ns> s=<n>).
func publishAt(ctx context.Context, rdb redis.UniversalClient, rate int, d time.Duration, jobIDs ...string) int {
	log := redisstore.NewEventLog(rdb, redisstore.Config{MaxLen: 1_000_000})
	// Paced by schedule, not by a ticker (which drops ticks when an append is slow).
	start, total := time.Now(), int(d.Seconds()*float64(rate))
	n := 0
	for i := 0; i < total; i++ {
		if wait := time.Until(start.Add(time.Duration(i) * time.Second / time.Duration(rate))); wait > 0 {
			time.Sleep(wait)
		}
		jobID := jobIDs[i%len(jobIDs)]
		e := portstest.Event(jobID, fmt.Sprintf("t=%d s=%d", time.Now().UnixNano(), i))
		if _, err := log.Append(ctx, jobID, []event.Event{e}); err == nil {
			n++
		}
	}
	return n
}

// loadTest raises the per-owner stream cap: a benchmark's viewers are one owner.
var loadTest = map[string]string{"BLASTLOG_OWNER_MAX_STREAMS": "100000"}

// BenchmarkLatency100Viewers: publish-to-receive latency at 1,000 events/s with 100
// viewers of one run, through a real HTTP server and a local redis-server (node) or a
// local 3-master Redis Cluster (cluster).
func BenchmarkLatency100Viewers(b *testing.B) {
	b.Run("node", func(b *testing.B) { latency100(b, newStack(b)) })
	b.Run("cluster", func(b *testing.B) { latency100(b, newClusterStack(b)) })
}

func latency100(b *testing.B, s *stack) { latencyOf(b, s, s.server(b, loadTest)) }

// BenchmarkLatencyWithHungWebhook: the same publish-to-receive latency (one Redis
// node) from a streaming container that archives and notifies, beside one whose only
// webhook never answers while ten failed runs wait to be told.
func BenchmarkLatencyWithHungWebhook(b *testing.B) {
	for _, hung := range []bool{false, true} {
		b.Run(map[bool]string{false: "no-webhook", true: "hung-webhook"}[hung], func(b *testing.B) {
			s := newStack(b)
			env := map[string]string{"BLASTLOG_ARCHIVE": "dir", "BLASTLOG_ARCHIVE_DIR": b.TempDir(), "BLASTLOG_ARCHIVE_FLUSH": "200ms"}
			for k, v := range loadTest {
				env[k] = v
			}
			var held atomic.Int64 // requests the webhook holds
			if hung {
				stop := make(chan struct{})
				rcv := httptest.NewServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) { held.Add(1); <-stop }))
				b.Cleanup(func() { close(stop); rcv.Close() })
				env["BLASTLOG_NOTIFY_URLS"] = rcv.URL
			}
			for i := range 10 { // before the server: its first scan finds them
				run := fmt.Sprintf("failed-%d", i)
				s.register(nil, run, owner)
				publishAt(context.Background(), s.rdb, 100, 100*time.Millisecond, run)
				s.tickets.Access.Jobs.SetStatus(context.Background(), run, job.Failed)
			}
			srv := s.server(b, env)
			time.Sleep(5 * time.Second) // the failed runs archived whole: their news sent, and held
			latencyOf(b, s, srv)
			if hung && held.Load() == 0 {
				b.Fatal("the webhook was never called: nothing was held up")
			}
			b.ReportMetric(float64(held.Load()), "webhook-requests-held")
		})
	}
}

func latencyOf(b *testing.B, s *stack, srv *streamServer) {
	s.register(nil, "lat", owner)
	var mu sync.Mutex
	var lat []time.Duration
	closeAll := viewers(b, s, srv.base, "lat", 100, func(_ int, f frame) {
		if m := sentAt.FindStringSubmatch(f.data); m != nil {
			ns, _ := strconv.ParseInt(m[1], 10, 64)
			d := time.Since(time.Unix(0, ns))
			mu.Lock()
			lat = append(lat, d)
			mu.Unlock()
		}
	})
	defer closeAll()
	time.Sleep(300 * time.Millisecond)
	sent := 0
	for b.Loop() {
		sent += publishAt(context.Background(), s.rdb, 1000, 3*time.Second, "lat")
	}
	time.Sleep(200 * time.Millisecond)
	mu.Lock()
	defer mu.Unlock()
	slices.Sort(lat)
	if len(lat) == 0 {
		b.Fatal("nothing received")
	}
	b.ReportMetric(float64(lat[len(lat)/2].Microseconds())/1000, "p50-ms")
	b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds())/1000, "p99-ms")
	b.ReportMetric(float64(len(lat))/float64(sent*100), "delivered-fraction")
}

func redisCalls(rdb redis.UniversalClient) (total int64) {
	info := rdb.Info(context.Background(), "commandstats").Val()
	for _, m := range regexp.MustCompile(`cmdstat_(\w+):calls=(\d+)`).FindAllStringSubmatch(info, -1) {
		if m[1] == "xadd" || m[1] == "info" {
			continue // the publisher's writes and this measurement
		}
		n, _ := strconv.ParseInt(m[2], 10, 64)
		total += n
	}
	return total
}

// BenchmarkRedisCommandsPerViewerCount: Redis commands/s spent by the streaming
// container (the publisher's XADDs excluded) with 1 and with 1,000 viewers of one run
// receiving 1,000 events/s.
func BenchmarkRedisCommandsPerViewerCount(b *testing.B) {
	for _, n := range []int{1, 1000} {
		b.Run(fmt.Sprintf("viewers=%d", n), func(b *testing.B) {
			s := newStack(b)
			srv := s.server(b, loadTest)
			s.register(nil, "cmds", owner)
			var got atomic.Int64
			closeAll := viewers(b, s, srv.base, "cmds", n, func(int, frame) { got.Add(1) })
			defer closeAll()
			time.Sleep(500 * time.Millisecond)
			for b.Loop() {
				before := redisCalls(s.rdb)
				start := time.Now()
				sent := publishAt(context.Background(), s.rdb, 1000, 3*time.Second, "cmds")
				el := time.Since(start)
				time.Sleep(200 * time.Millisecond)
				b.ReportMetric(float64(redisCalls(s.rdb)-before)/el.Seconds(), "redis-cmds/s")
				b.ReportMetric(float64(got.Load())/float64(sent*n), "delivered-fraction")
			}
		})
	}
}

// serverProcess builds and starts the streaming container in its own process on s's
// Redis (dev-bypass, the load test's stream cap, env added) and waits until it answers.
func serverProcess(b *testing.B, s *stack, env map[string]string) (*exec.Cmd, string) {
	b.Helper()
	bin := filepath.Join(b.TempDir(), "blastlog-stream")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		b.Fatalf("%v %s", err, out)
	}
	port := freePort(b)
	cmd := exec.Command(bin)
	cmd.Env = append(os.Environ(), "BLASTLOG_REDIS_URL="+s.url, "BLASTLOG_AUTH_MODE=dev-bypass",
		"BLASTLOG_ADDR=127.0.0.1:"+port, "BLASTLOG_OWNER_MAX_STREAMS="+loadTest["BLASTLOG_OWNER_MAX_STREAMS"])
	for k, v := range env {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	base := "http://127.0.0.1:" + port
	for i := 0; ; i++ {
		if res, err := http.Get(base + "/healthz"); err == nil {
			res.Body.Close()
			return cmd, base
		}
		if i > 100 {
			b.Fatal("server did not start")
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// rssKiB is a process's resident memory.
func rssKiB(pid int) int64 {
	st, _ := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	m := regexp.MustCompile(`VmRSS:\s+(\d+) kB`).FindSubmatch(st)
	if m == nil {
		return 0
	}
	v, _ := strconv.ParseInt(string(m[1]), 10, 64)
	return v
}

// BenchmarkIdleConnectionMemory: resident memory per idle SSE connection, with the
// streaming container in its own process and 5,000 connections open.
func BenchmarkIdleConnectionMemory(b *testing.B) { idleMemory(b, 5000) }

// idleMemory: n idle viewers of one run; the server's resident memory (and heap,
// stacks, goroutines) per connection over a warmed-up baseline.
func idleMemory(b *testing.B, n int) {
	s := newStack(b)
	cmd, base := serverProcess(b, s, nil)
	s.register(nil, "idle", owner)
	rss := func() int64 { return rssKiB(cmd.Process.Pid) }
	// Warm up with a few connections so that the baseline includes the hub and pools.
	warm := viewers(b, s, base, "idle", 10, nil)
	time.Sleep(500 * time.Millisecond)
	before := rss()
	for b.Loop() {
		closeAll := viewers(b, s, base, "idle", n, nil)
		time.Sleep(2 * time.Second)
		after := rss()
		b.ReportMetric(float64(after-before)/float64(n), "KiB/conn")
		if res, err := http.Get(base + "/metrics"); err == nil {
			sc := bufio.NewScanner(res.Body)
			for sc.Scan() {
				for _, m := range []string{"go_memstats_stack_inuse_bytes ", "go_memstats_heap_inuse_bytes ", "go_goroutines "} {
					if v, ok := strings.CutPrefix(sc.Text(), m); ok {
						f, _ := strconv.ParseFloat(v, 64)
						b.ReportMetric(f/float64(n), strings.TrimSpace(m)+"/conn")
					}
				}
			}
			res.Body.Close()
		}
		b.ReportMetric(float64(after)/1024, "server-RSS-MiB")
		closeAll()
	}
	warm()
}

// BenchmarkMaxLosslessRate: the highest event rate (of those tried) that 1,000 viewers
// of one run all receive completely.
func BenchmarkMaxLosslessRate(b *testing.B) {
	s := newStack(b)
	srv := s.server(b, loadTest)
	for b.Loop() {
		best := 0
		for _, rate := range []int{500, 1000, 2000, 4000, 8000} {
			jobID := fmt.Sprintf("rate-%d", rate)
			s.register(nil, jobID, owner)
			const n = 1000
			var got atomic.Int64
			closeAll := viewers(b, s, srv.base, jobID, n, func(int, frame) { got.Add(1) })
			time.Sleep(300 * time.Millisecond)
			sent := publishAt(context.Background(), s.rdb, rate, 2*time.Second, jobID)
			deadline := time.Now().Add(10 * time.Second)
			for got.Load() < int64(sent*n) && time.Now().Before(deadline) {
				time.Sleep(50 * time.Millisecond)
			}
			closeAll()
			b.Logf("rate %d/s: %d of %d deliveries", rate, got.Load(), sent*n)
			if got.Load() != int64(sent*n) {
				break
			}
			best = rate
		}
		b.ReportMetric(float64(best), "events/s-lossless")
	}
}

// BenchmarkCollect1000x1000: 1,000 finished containers of 1,000 lines each, collected
// from kubesim through client-go into a local redis-server with the default follow
// cap: lines/s, peak goroutines (bounded by the cap, not the pod count), peak heap.
func BenchmarkCollect1000x1000(b *testing.B) {
	for b.Loop() {
		b.StopTimer()
		s := newStack(b)
		sim := kubesim.New()
		const pods, lines = 1000, 1000
		s.tickets.Access.Jobs.Register(context.Background(), job.Record{JobID: "run-k", OwnerOID: owner, ELBJobID: elbID})
		finishedPods(sim, pods, lines)
		s.tickets.Access.Jobs.SetStatus(context.Background(), "run-k", job.Completed)
		k := &kstack{stack: s, sim: sim}
		c := k.collector(nil, "bench", 64)
		c.Config.Settle = 200 * time.Millisecond
		var peakG int
		var peakHeap uint64
		stop := make(chan struct{})
		go func() {
			var ms runtime.MemStats
			for {
				select {
				case <-stop:
					return
				case <-time.After(50 * time.Millisecond):
				}
				peakG = max(peakG, runtime.NumGoroutine())
				runtime.ReadMemStats(&ms)
				peakHeap = max(peakHeap, ms.HeapInuse)
			}
		}()
		b.StartTimer()
		start := time.Now()
		if err := c.Collect(context.Background(), "run-k"); err != nil {
			b.Fatal(err)
		}
		el := time.Since(start)
		b.StopTimer()
		close(stop)
		n := s.rdb.XLen(context.Background(), "joblogs:run-k").Val()
		b.ReportMetric(float64(pods*lines)/el.Seconds(), "lines/s")
		b.ReportMetric(float64(n), "stored")
		b.ReportMetric(float64(peakG), "peak-goroutines")
		b.ReportMetric(float64(peakHeap)/(1<<20), "peak-heap-MiB(incl-sim)")
		sim.Close()
		b.StartTimer()
	}
}

// BenchmarkCollect200ThroughAPIServer: 200 finished containers of 1,000 lines, collected
// through the real kube-apiserver (log proxying to the stub kubelet) into redis-server.
func BenchmarkCollect200ThroughAPIServer(b *testing.B) {
	cp := realPlane(b)
	for b.Loop() {
		b.StopTimer()
		s := newStack(b)
		m := cp.NewMirror()
		s.tickets.Access.Jobs.Register(context.Background(), job.Record{JobID: "run-k", OwnerOID: owner, ELBJobID: elbID, Namespace: m.Namespace})
		const pods, lines = 200, 1000
		finishedPods(m, pods, lines)
		s.tickets.Access.Jobs.SetStatus(context.Background(), "run-k", job.Completed)
		k := &kstack{stack: s, sim: m, rest: cp.Admin}
		c := k.collector(nil, "bench", 64)
		c.Config.Settle = 200 * time.Millisecond
		b.StartTimer()
		start := time.Now()
		if err := c.Collect(context.Background(), "run-k"); err != nil {
			b.Fatal(err)
		}
		el := time.Since(start)
		b.StopTimer()
		b.ReportMetric(float64(pods*lines)/el.Seconds(), "lines/s")
		b.ReportMetric(float64(s.rdb.XLen(context.Background(), "joblogs:run-k").Val()), "stored")
		b.StartTimer()
	}
}

// finishedPods adds pods of the benchmark run, each with one container that logged
// lines and ended.
func finishedPods(d driver, pods, lines int) {
	text := make([]string, lines)
	for i := range text {
		text[i] = fmt.Sprintf("INFO batch line %04d of a BLAST search against core_nt, all fine", i)
	}
	for p := 0; p < pods; p++ {
		name := fmt.Sprintf("blastn-batch-nt-job-%03d-%s-p%d", p, suffix, p)
		d.AddPod(kubesim.PodSpec{Name: name, Main: []string{"blast"}, Labels: map[string]string{target.LabelJobID: elbID}})
		d.Start("default", name, "blast")
		d.Log("default", name, "blast", text...)
		d.Terminate("default", name, "blast", 0)
	}
}

// BenchmarkCollectRunning: 1,000 and 5,000 containers running at once, each writing
// 200 lines over about 3 s and ending, collected from kubesim with the default follow
// cap (64) and request budget (100/s): everything beyond the cap is polled. Reports
// API requests/s, lines/s, stored lines, the poll interval reached, peak goroutines
// and the process's peak RSS.
func BenchmarkCollectRunning(b *testing.B) {
	for _, pods := range []int{1000, 5000} {
		b.Run(fmt.Sprint(pods), func(b *testing.B) {
			for b.Loop() {
				b.StopTimer()
				s := newStack(b)
				sim := kubesim.New()
				const lines, chunks = 200, 10
				s.tickets.Access.Jobs.Register(context.Background(), job.Record{JobID: "run-k", OwnerOID: owner, ELBJobID: elbID, Status: job.Running})
				k := &kstack{stack: s, sim: sim, rest: &rest.Config{Host: sim.URL(), QPS: 1000, Burst: 2000}}
				c := k.collector(nil, "bench", 64)
				c.Config.LeaseTTL, c.Config.Poll, c.Config.Settle = 0, 0, 0
				var peakG int
				stop := make(chan struct{})
				go func() {
					for {
						select {
						case <-stop:
							return
						case <-time.After(50 * time.Millisecond):
						}
						peakG = max(peakG, runtime.NumGoroutine())
					}
				}()
				done := make(chan error, 1)
				b.StartTimer()
				start := time.Now()
				go func() { done <- c.Collect(context.Background(), "run-k") }()
				var wg sync.WaitGroup
				for p := 0; p < pods; p++ {
					name := fmt.Sprintf("blastn-batch-nt-job-%04d-%s-r%d", p, suffix, p)
					sim.AddPod(kubesim.PodSpec{Name: name, Main: []string{"blast"}, Labels: map[string]string{target.LabelJobID: elbID}})
					sim.Start("default", name, "blast")
					wg.Add(1)
					go func() {
						defer wg.Done()
						for ch := 0; ch < chunks; ch++ {
							text := make([]string, lines/chunks)
							for i := range text {
								text[i] = fmt.Sprintf("INFO %s query %d of %d", name, ch*len(text)+i, lines)
							}
							sim.Log("default", name, "blast", text...)
							time.Sleep(300 * time.Millisecond)
						}
						sim.Terminate("default", name, "blast", 0)
					}()
				}
				wg.Wait()
				s.tickets.Access.Jobs.SetStatus(context.Background(), "run-k", job.Completed)
				if err := <-done; err != nil {
					b.Fatal(err)
				}
				el := time.Since(start)
				b.StopTimer()
				close(stop)
				b.ReportMetric(float64(sim.Requests())/el.Seconds(), "api-req/s")
				b.ReportMetric(float64(pods*lines)/el.Seconds(), "lines/s")
				b.ReportMetric(float64(s.rdb.XLen(context.Background(), "joblogs:run-k").Val()), "stored")
				b.ReportMetric(c.PollInterval().Seconds(), "poll-interval-s")
				b.ReportMetric(el.Seconds(), "run-s")
				b.ReportMetric(float64(peakG), "peak-goroutines")
				b.ReportMetric(float64(peakRSSKiB())/1024, "peak-RSS-MiB(incl-sim,redis-client)")
				sim.Close()
				b.StartTimer()
			}
		})
	}
}

// peakRSSKiB is this process's VmHWM.
func peakRSSKiB() int64 {
	b, _ := os.ReadFile("/proc/self/status")
	for _, l := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(l, "VmHWM:"); ok {
			var kib int64
			fmt.Sscan(strings.TrimSuffix(strings.TrimSpace(v), " kB"), &kib)
			return kib
		}
	}
	return 0
}
