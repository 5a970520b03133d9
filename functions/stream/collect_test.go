package main

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/time/rate"
	"k8s.io/client-go/rest"

	"github.com/blastlog/blastlog/adapters/kube"
	"github.com/blastlog/blastlog/adapters/kube/kubesim"
	"github.com/blastlog/blastlog/adapters/redisstore"
	"github.com/blastlog/blastlog/core/app/collect"
	"github.com/blastlog/blastlog/core/event"
	"github.com/blastlog/blastlog/core/job"
	"github.com/blastlog/blastlog/core/target"
	"github.com/blastlog/blastlog/ports"
	"github.com/blastlog/blastlog/ports/portstest"
)

const (
	elbID  = "job-429825360482416da20736cf3ed51a95"
	suffix = "3ed51a95"
	otherR = "job-000000000000000000000000cafebabe"
)

// driver plays pods: kubesim alone, or kubesim mirrored into a real API server.
type driver interface {
	AddPod(kubesim.PodSpec)
	Start(ns, name, c string)
	Log(ns, name, c string, lines ...string)
	LogAt(ns, name, c string, ts time.Time, lines ...string)
	Terminate(ns, name, c string, code int32)
	Restart(ns, name, c string)
	Delete(ns, name string)
	LoseLogs(ns, name string)
	Rotate(ns, name, c string)
	CutStreams()
}

type kstack struct {
	*stack
	sim  driver
	rest *rest.Config
}

// backends runs f against kubesim and against the real control plane.
func backends(t *testing.T, f func(t *testing.T, k *kstack)) {
	t.Run("kubesim", func(t *testing.T) {
		sim := kubesim.New()
		t.Cleanup(sim.Close)
		f(t, newK(t, sim, &rest.Config{Host: sim.URL()}, "default"))
	})
	t.Run("apiserver", func(t *testing.T) {
		cp := realPlane(t)
		m := cp.NewMirror()
		f(t, newK(t, m, cp.Admin, m.Namespace))
	})
}

func newK(t *testing.T, d driver, cfg *rest.Config, ns string) *kstack {
	k := &kstack{stack: newStack(t), sim: d, rest: cfg}
	if err := k.tickets.Access.Jobs.Register(context.Background(), job.Record{JobID: "run-k", OwnerOID: owner, ELBJobID: elbID,
		Status: job.Running, Namespace: ns}); err != nil {
		t.Fatal(err)
	}
	return k
}

func (k *kstack) collector(t testing.TB, holder string, maxFollows int) *collect.Collector {
	cl, err := kube.New(k.rest)
	if err != nil {
		panic(err)
	}
	cfg := redisstore.Config{MaxLen: 10_000_000} // never trims: the wide tests and benchmarks write up to 1,000,000 lines
	coord := redisstore.NewCoordination(k.rdb, cfg)
	return &collect.Collector{Clusters: cl, Log: redisstore.NewEventLog(k.rdb, cfg), Jobs: k.tickets.Access.Jobs,
		Statuses: redisstore.NewJobDirectory(k.rdb, cfg), Leases: coord, Checkpoints: coord, Active: coord,
		Pacer: rate.NewLimiter(collect.DefaultQPS, collect.DefaultQPS),
		Config: collect.Config{Holder: holder, MaxFollows: maxFollows, Poll: 100 * time.Millisecond,
			LeaseTTL: 1500 * time.Millisecond, Watchdog: time.Second, Settle: time.Second}}
}

// collect runs c on run-k in the background; the returned func waits for it.
func collectRun(t *testing.T, c *collect.Collector) (wait func() error, cancel func()) {
	return collectWithin(t, c, 60*time.Second)
}

// collectWithin is collectRun with another budget (the 600,000-line run under -race
// takes about a minute on 2 cores).
func collectWithin(t *testing.T, c *collect.Collector, d time.Duration) (wait func() error, cancel func()) {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	done := make(chan error, 1)
	go func() { done <- c.Collect(ctx, "run-k") }()
	return func() error { defer cancel(); return <-done }, cancel
}

func (k *kstack) finish(t *testing.T) {
	if err := k.tickets.Access.Jobs.SetStatus(context.Background(), "run-k", job.Completed); err != nil {
		t.Fatal(err)
	}
}

// k8sLines returns "pod/container:line" of every k8s event in the run's log, and
// checks that no event is there twice.
func (k *kstack) k8sLines(t *testing.T) map[string][]string {
	t.Helper()
	evs := k.events(t)
	out := map[string][]string{}
	for _, e := range evs {
		if e.Source != event.SourceK8s {
			continue
		}
		key := e.Pod + "/" + e.Container
		out[key] = append(out[key], e.Line)
	}
	return out
}

func TestCollectsAFastSetupPodDeletedRightAfter(t *testing.T) {
	backends(t, func(t *testing.T, k *kstack) {
		wait, _ := collectRun(t, k.collector(t, "a", 64))
		pod := "init-ssd-" + suffix + "-0-x7k2p"
		k.sim.AddPod(kubesim.PodSpec{Name: pod, Job: "init-ssd-" + suffix + "-0", Init: []string{"get-blastdb"}, Main: []string{"import-query-batches"},
			Labels: map[string]string{target.LabelJobID: elbID, target.LabelApp: "setup"}})
		k.sim.Start("default", pod, "get-blastdb")
		k.sim.Log("default", pod, "get-blastdb", "BASH version 5.1.16(1)-release", "Waiting 30s for workspace initialization", "DB files downloaded: 12 .nsq files")
		time.Sleep(500 * time.Millisecond)
		k.sim.Log("default", pod, "get-blastdb", "2026-06-05 21:10:04 RUNTIME download-blastdbs 42.000000 seconds")
		k.sim.Terminate("default", pod, "get-blastdb", 0)
		k.sim.Start("default", pod, "import-query-batches")
		k.sim.Log("default", pod, "import-query-batches", "INFO: Scanning...", "Final Job Status: Completed")
		time.Sleep(500 * time.Millisecond)
		k.sim.Terminate("default", pod, "import-query-batches", 0)
		time.Sleep(time.Second)
		k.sim.Delete("default", pod) // ElasticBLAST deletes setup jobs seconds after they succeed
		k.finish(t)
		if err := wait(); err != nil {
			t.Fatal(err)
		}
		got := k.k8sLines(t)
		if len(got[pod+"/get-blastdb"]) != 4 || len(got[pod+"/import-query-batches"]) != 2 {
			t.Fatalf("%v", got)
		}
		// The run is no longer active once drained.
		if ids, _ := redisstore.NewCoordination(k.rdb, redisstore.Config{}).Active(context.Background()); len(ids) != 0 {
			t.Fatalf("still active: %v", ids)
		}
	})
}

func TestRestartAndCutsAreExact(t *testing.T) {
	backends(t, func(t *testing.T, k *kstack) {
		wait, _ := collectRun(t, k.collector(t, "a", 64))
		pod := "blastn-batch-nt-job-000-" + suffix + "-h4j5k"
		k.sim.AddPod(kubesim.PodSpec{Name: pod, Main: []string{"blast"}, Labels: map[string]string{target.LabelJobID: elbID, target.LabelApp: "blast"}})
		k.sim.Start("default", pod, "blast")
		base := time.Now().UTC().Truncate(time.Second)
		var want []string
		n := 0
		for round := 0; round < 6; round++ {
			// Several lines share a second around every cut, two of them identical.
			sec := base.Add(time.Duration(round) * time.Second)
			for i := 0; i < 5; i++ {
				l := fmt.Sprintf("line %03d", n)
				if i == 3 {
					l = "same"
				}
				k.sim.LogAt("default", pod, "blast", sec.Add(time.Duration(i%4)*100*time.Millisecond), l)
				want = append(want, l)
				n++
			}
			time.Sleep(150 * time.Millisecond)
			k.sim.CutStreams()
			if round == 3 {
				k.sim.Restart("default", pod, "blast") // a new instance: a new target
			}
		}
		time.Sleep(300 * time.Millisecond)
		k.sim.Terminate("default", pod, "blast", 0)
		k.finish(t)
		if err := wait(); err != nil {
			t.Fatal(err)
		}
		got := k.k8sLines(t)[pod+"/blast"]
		if fmt.Sprint(got) != fmt.Sprint(want) {
			t.Fatalf("got  %v\nwant %v", got, want)
		}
	})
}

func TestOnlyThisRunsPodsAndManyUnderTheFollowCap(t *testing.T) {
	backends(t, func(t *testing.T, k *kstack) {
		wait, _ := collectRun(t, k.collector(t, "a", 64))
		const pods, lines = 200, 20
		// Another run's pods in the same namespace, one with a look-alike name.
		k.sim.AddPod(kubesim.PodSpec{Name: "blastn-batch-nt-job-000-cafebabe-uvwxy", Main: []string{"blast"},
			Labels: map[string]string{target.LabelJobID: otherR, target.LabelApp: "blast"}})
		k.sim.AddPod(kubesim.PodSpec{Name: "elb-finalizer-" + suffix + "-evil", Main: []string{"finalizer"},
			Env: map[string]map[string]string{"finalizer": {target.EnvJobID: otherR}}})
		for _, p := range []string{"blastn-batch-nt-job-000-cafebabe-uvwxy", "elb-finalizer-" + suffix + "-evil"} {
			c := map[bool]string{true: "blast", false: "finalizer"}[strings.HasPrefix(p, "blastn")]
			k.sim.Start("default", p, c)
			k.sim.Log("default", p, c, "not ours")
		}
		var wg sync.WaitGroup
		for i := 0; i < pods; i++ {
			name := fmt.Sprintf("blastn-batch-nt-job-%03d-%s-p%d", i, suffix, i)
			k.sim.AddPod(kubesim.PodSpec{Name: name, Init: []string{"import-query-batches"}, Main: []string{"blast", "results-export"},
				Labels: map[string]string{target.LabelJobID: elbID, target.LabelApp: "blast"}})
			wg.Add(1)
			go func() {
				defer wg.Done()
				for _, c := range []string{"import-query-batches", "blast", "results-export"} {
					k.sim.Start("default", name, c)
					for l := 0; l < lines; l++ {
						k.sim.Log("default", name, c, fmt.Sprintf("%s %d", c, l))
					}
					k.sim.Terminate("default", name, c, 0)
				}
			}()
		}
		wg.Wait()
		k.finish(t)
		if err := wait(); err != nil {
			t.Fatal(err)
		}
		got := k.k8sLines(t)
		if len(got) != pods*3 {
			t.Fatalf("%d containers collected", len(got))
		}
		for key, ls := range got {
			if strings.Contains(key, "cafebabe") || strings.Contains(key, "evil") {
				t.Fatalf("another run's pod collected: %s", key)
			}
			if len(ls) != lines {
				t.Fatalf("%s: %d lines", key, len(ls))
			}
		}
	})
}

func TestTakeoverFromCheckpointsWithoutDuplicates(t *testing.T) {
	backends(t, func(t *testing.T, k *kstack) {
		a := k.collector(t, "replica-a", 64)
		b := k.collector(t, "replica-b", 64)
		waitA, cancelA := collectRun(t, a)
		pod := "submit-jobs-" + suffix + "-q9w8e"
		k.sim.AddPod(kubesim.PodSpec{Name: pod, Main: []string{"submit-jobs"}, Labels: map[string]string{target.LabelJobID: elbID, target.LabelApp: "submit"}})
		k.sim.Start("default", pod, "submit-jobs")
		var want []string
		for i := 0; i < 50; i++ {
			want = append(want, fmt.Sprintf("job.batch/blastn-batch-core-nt-job-%03d-%s created", i, suffix))
		}
		k.sim.Log("default", pod, "submit-jobs", want[:25]...)
		time.Sleep(400 * time.Millisecond)
		// b races for the run while a holds it.
		if err := b.Collect(context.Background(), "run-k"); err != collect.ErrLeaseHeld {
			t.Fatalf("b while a holds the lease: %v", err)
		}
		cancelA() // a dies
		waitA()
		waitB, _ := collectRun(t, b)
		k.sim.Log("default", pod, "submit-jobs", want[25:]...)
		time.Sleep(300 * time.Millisecond)
		k.sim.Terminate("default", pod, "submit-jobs", 0)
		k.finish(t)
		if err := waitB(); err != nil {
			t.Fatal(err)
		}
		got := k.k8sLines(t)[pod+"/submit-jobs"]
		if fmt.Sprint(got) != fmt.Sprint(want) {
			sort.Strings(got)
			t.Fatalf("%d lines after takeover (want %d)", len(got), len(want))
		}
	})
}

// A private key printed over several lines is masked whole, across a takeover
// between its lines: the sanitiser's state travels with the checkpoint.
func TestPrivateKeyBlockIsMaskedAcrossATakeover(t *testing.T) {
	backends(t, func(t *testing.T, k *kstack) {
		a, b := k.collector(t, "replica-a", 64), k.collector(t, "replica-b", 64)
		waitA, cancelA := collectRun(t, a)
		pod := "submit-jobs-" + suffix + "-pem"
		k.sim.AddPod(kubesim.PodSpec{Name: pod, Main: []string{"submit-jobs"}, Labels: map[string]string{target.LabelJobID: elbID, target.LabelApp: "submit"}})
		k.sim.Start("default", pod, "submit-jobs")
		k.sim.Log("default", pod, "submit-jobs", "-----BEGIN RSA PRIVATE KEY-----", "MIIEowIBAAKCAQEAu1SU1LfVLPHCozMxH2Mo4lgOEePzNm0tRgeLezV6ffAt0gun")
		time.Sleep(time.Second)
		cancelA()
		waitA()
		waitB, _ := collectRun(t, b)
		k.sim.Log("default", pod, "submit-jobs", "q2w3", "-----END RSA PRIVATE KEY-----", "key written")
		time.Sleep(300 * time.Millisecond)
		k.sim.Terminate("default", pod, "submit-jobs", 0)
		k.finish(t)
		if err := waitB(); err != nil {
			t.Fatal(err)
		}
		got := fmt.Sprint(k.k8sLines(t)[pod+"/submit-jobs"])
		if want := "[-----BEGIN RSA PRIVATE KEY----- *** *** -----END RSA PRIVATE KEY----- key written]"; got != want {
			t.Fatalf("got  %s\nwant %s", got, want)
		}
	})
}

// events reads the whole run-k stream, a page at a time (one reply of 600,000 events
// can outlast the client's read timeout on a loaded machine).
func (k *kstack) events(t *testing.T) []event.Event {
	t.Helper()
	log := redisstore.NewEventLog(k.rdb, redisstore.Config{})
	var all []event.Event
	var after event.ID
	for {
		evs, err := log.Read(context.Background(), "run-k", after, 20_000)
		if err != nil {
			t.Fatal(err)
		}
		if len(evs) == 0 {
			return all
		}
		all = append(all, evs...)
		after = evs[len(evs)-1].ID
	}
}

// ended returns the run's container_ended notices by pod/container: the notice names
// its container instance, as its sentence does.
func (k *kstack) ended(t *testing.T) map[string][]event.Event {
	t.Helper()
	evs := k.events(t)
	out := map[string][]event.Event{}
	for _, e := range evs {
		if e.Notice == event.NoticeContainerEnded {
			var pod, c string
			fmt.Sscanf(strings.Replace(e.Line, "/", " ", 1), "%s %s", &pod, &c)
			if e.Pod != pod || e.Container != c || e.ContainerID == "" && e.Ended.Completeness != event.Missed {
				t.Errorf("container_ended notice names %s/%s/%s; its sentence: %q", e.Pod, e.Container, e.ContainerID, e.Line)
			}
			out[pod+"/"+c] = append(out[pod+"/"+c], e)
		}
	}
	return out
}

// 200 pods write 3,000 lines each, all at once, with 64 follows: the other 136 are
// polled, none is skipped, and every pod is deleted 10 s after it ends. The collector
// must store about 46,000 lines/s for it: a throughput test, run by the test task
// without the race detector (under it the collector keeps about a third of that pace
// on 2 cores and the test would measure the detector).
func TestEveryLineOfAWideRunBeyondTheFollowCap(t *testing.T) {
	if testing.Short() {
		t.Skip("writes 1.2 million lines (two backends); not in -short")
	}
	if raceEnabled {
		t.Skip("a throughput test: the test task runs it in its pass without -race")
	}
	backends(t, func(t *testing.T, k *kstack) {
		wait, _ := collectWithin(t, k.collector(t, "a", 64), 5*time.Minute)
		const pods, lines, chunks = 200, 3000, 30
		var wg sync.WaitGroup
		for i := 0; i < pods; i++ {
			name := fmt.Sprintf("blastn-batch-nt-job-%03d-%s-w%d", i, suffix, i)
			k.sim.AddPod(kubesim.PodSpec{Name: name, Main: []string{"blast"},
				Labels: map[string]string{target.LabelJobID: elbID, target.LabelApp: "blast"}})
			wg.Add(1)
			go func() {
				defer wg.Done()
				k.sim.Start("default", name, "blast")
				for c := 0; c < chunks; c++ {
					batch := make([]string, lines/chunks)
					for l := range batch {
						batch[l] = fmt.Sprintf("query %d hit %d", c*len(batch)+l, i)
					}
					k.sim.Log("default", name, "blast", batch...)
					time.Sleep(100 * time.Millisecond)
				}
				k.sim.Terminate("default", name, "blast", 0)
				time.Sleep(10 * time.Second)
				k.sim.Delete("default", name)
			}()
		}
		wg.Wait()
		k.finish(t)
		if err := wait(); err != nil {
			t.Fatal(err)
		}
		got, ended := k.k8sLines(t), k.ended(t)
		total := 0
		for key, ls := range got {
			total += len(ls)
			if len(ls) != lines {
				t.Errorf("%s: %d lines", key, len(ls))
			}
		}
		complete := 0
		for key, ns := range ended {
			if len(ns) != 1 {
				t.Errorf("%s: %d container_ended notices", key, len(ns))
			}
			if d := ns[0].Ended; d != nil && d.Completeness == event.Complete && d.Reason == "Completed" && !d.FinishedAt.IsZero() {
				complete++
			} else {
				t.Errorf("%s: %+v", key, d)
			}
		}
		if total != pods*lines || complete != pods {
			t.Fatalf("%d of %d lines, %d of %d containers complete", total, pods*lines, complete, pods)
		}
	})
}

// withHog starts a collector with one follow slot and a long-running pod that takes
// it, so that every later container is polled (every 2 s).
func withHog(t *testing.T, k *kstack) (wait func() error, hog string) {
	wait, _ = collectRun(t, k.collector(t, "a", 1))
	hog = "submit-jobs-" + suffix + "-hog"
	k.sim.AddPod(kubesim.PodSpec{Name: hog, Main: []string{"submit-jobs"}, Labels: map[string]string{target.LabelJobID: elbID, target.LabelApp: "submit"}})
	k.sim.Start("default", hog, "submit-jobs")
	k.sim.Log("default", hog, "submit-jobs", "submitting")
	time.Sleep(500 * time.Millisecond)
	return wait, hog
}

// A pod whose logs are gone before the collector could read any line is missed, and
// says so; a followed one that ended is complete.
func TestMissedContainerIsSaid(t *testing.T) {
	backends(t, func(t *testing.T, k *kstack) {
		wait, hog := withHog(t, k)
		gone := "blastn-batch-nt-job-001-" + suffix + "-gone"
		k.sim.AddPod(kubesim.PodSpec{Name: gone, Main: []string{"blast"}, Labels: map[string]string{target.LabelJobID: elbID, target.LabelApp: "blast"}})
		k.sim.Start("default", gone, "blast")
		k.sim.Log("default", gone, "blast", "never read")
		k.sim.LoseLogs("default", gone) // before its first poll
		k.sim.Terminate("default", gone, "blast", 137)
		time.Sleep(3 * time.Second)
		k.sim.Delete("default", gone)
		k.sim.Terminate("default", hog, "submit-jobs", 0)
		k.finish(t)
		if err := wait(); err != nil {
			t.Fatal(err)
		}
		ended := k.ended(t)
		if n := ended[gone+"/blast"]; len(n) != 1 || n[0].Ended.Completeness != event.Missed || !strings.Contains(n[0].Line, "missing") {
			t.Fatalf("the gone pod: %+v", n)
		}
		if n := ended[hog+"/submit-jobs"]; len(n) != 1 || n[0].Ended.Completeness != event.Complete {
			t.Fatalf("the followed pod: %+v", n)
		}
	})
}

// A container that was running before collection began is read from its tail, and
// its container_ended notice says lines may be missing.
func TestContainerThatRanBeforeCollectionIsTailed(t *testing.T) {
	backends(t, func(t *testing.T, k *kstack) {
		pod := "submit-jobs-" + suffix + "-early"
		k.sim.AddPod(kubesim.PodSpec{Name: pod, Main: []string{"submit-jobs"}, Labels: map[string]string{target.LabelJobID: elbID, target.LabelApp: "submit"}})
		k.sim.Start("default", pod, "submit-jobs")
		early := make([]string, 2500)
		for i := range early {
			early[i] = fmt.Sprintf("early %d", i)
		}
		k.sim.Log("default", pod, "submit-jobs", early...)
		time.Sleep(1100 * time.Millisecond) // its start is a whole second before collection's
		wait, _ := collectRun(t, k.collector(t, "a", 64))
		time.Sleep(500 * time.Millisecond)
		k.sim.Log("default", pod, "submit-jobs", "late")
		k.sim.Terminate("default", pod, "submit-jobs", 0)
		k.finish(t)
		if err := wait(); err != nil {
			t.Fatal(err)
		}
		got := k.k8sLines(t)[pod+"/submit-jobs"]
		if len(got) != collect.DefaultTailLines+1 || got[0] != "early 500" || got[len(got)-1] != "late" {
			t.Fatalf("%d lines, first %q", len(got), got[0])
		}
		n := k.ended(t)[pod+"/submit-jobs"]
		if len(n) != 1 || n[0].Ended.Completeness != event.Partial || n[0].Ended.Missing != event.MissingTail {
			t.Fatalf("notice %+v", n)
		}
	})
}

// A replica that dies mid-run is replaced, with the default lease and poll, within
// 5 s, and the new holder neither skips nor repeats a line.
func TestCrashedHolderIsReplacedWithin5s(t *testing.T) {
	backends(t, func(t *testing.T, k *kstack) {
		a, b := k.collector(t, "replica-a", 64), k.collector(t, "replica-b", 64)
		for _, c := range []*collect.Collector{a, b} {
			c.Config.LeaseTTL, c.Config.Poll = 0, 0 // the defaults
		}
		lease := &portstest.DyingLeases{Leases: a.Leases}
		a.Leases = lease
		k.tickets.Access.Jobs.SetStatus(context.Background(), "run-k", job.Running)
		b.Active.Touch(context.Background(), "run-k")
		waitA, crashA := collectRun(t, a)
		pod := "submit-jobs-" + suffix + "-crash"
		k.sim.AddPod(kubesim.PodSpec{Name: pod, Main: []string{"submit-jobs"}, Labels: map[string]string{target.LabelJobID: elbID, target.LabelApp: "submit"}})
		k.sim.Start("default", pod, "submit-jobs")
		var want []string
		for i := 0; i < 60; i++ {
			want = append(want, fmt.Sprintf("job.batch/blastn-batch-core-nt-job-%03d-%s created", i, suffix))
		}
		k.sim.Log("default", pod, "submit-jobs", want[:20]...)
		time.Sleep(500 * time.Millisecond)
		ctx, stopB := context.WithCancel(context.Background())
		defer stopB()
		go b.Run(ctx) // the other replica, waiting for the lease
		time.Sleep(500 * time.Millisecond)
		lease.Kill()
		crashA()
		waitA()
		crashed := time.Now()
		k.sim.Log("default", pod, "submit-jobs", want[20:40]...)
		var took time.Duration
		for took == 0 && time.Since(crashed) < 20*time.Second {
			evs, _ := redisstore.NewEventLog(k.rdb, redisstore.Config{}).Read(context.Background(), "run-k", event.ID{}, 100000)
			starts := 0
			for _, e := range evs {
				if e.Notice == "collector_started" {
					starts++
				}
			}
			if starts == 2 {
				took = time.Since(crashed)
			}
			time.Sleep(50 * time.Millisecond)
		}
		t.Logf("replaced after %v", took)
		if took == 0 || took > 5*time.Second {
			t.Fatalf("the crashed holder was replaced after %v (want within 5s)", took)
		}
		k.sim.Log("default", pod, "submit-jobs", want[40:]...)
		time.Sleep(300 * time.Millisecond)
		k.sim.Terminate("default", pod, "submit-jobs", 0)
		k.finish(t)
		for i := 0; i < 200; i++ {
			if in, _ := b.Active.Contains(context.Background(), []string{"run-k"}); !in["run-k"] {
				break
			}
			time.Sleep(100 * time.Millisecond)
		}
		got := k.k8sLines(t)[pod+"/submit-jobs"]
		if fmt.Sprint(got) != fmt.Sprint(want) {
			t.Fatalf("%d lines after the takeover, want %d once each, in order", len(got), len(want))
		}
	})
}

// failingSaves is a checkpoint store whose saves fail (Redis refusing writes).
type failingSaves struct{ ports.Checkpoints }

func (failingSaves) Save(context.Context, string, string, []byte) error {
	return errors.New("checkpoint store refused the write")
}

// A checkpoint that cannot be saved after its lines were appended does not make the
// collector append them again when the stream is resumed.
func TestFailedCheckpointSaveDoesNotRepeatLines(t *testing.T) {
	backends(t, func(t *testing.T, k *kstack) {
		c := k.collector(t, "a", 64)
		c.Checkpoints = failingSaves{c.Checkpoints}
		wait, _ := collectRun(t, c)
		pod := "submit-jobs-" + suffix + "-ckpt"
		k.sim.AddPod(kubesim.PodSpec{Name: pod, Main: []string{"submit-jobs"}, Labels: map[string]string{target.LabelJobID: elbID, target.LabelApp: "submit"}})
		k.sim.Start("default", pod, "submit-jobs")
		var want []string
		for round := 0; round < 3; round++ {
			for i := 0; i < 10; i++ {
				want = append(want, fmt.Sprintf("round %d line %d", round, i))
			}
			k.sim.Log("default", pod, "submit-jobs", want[len(want)-10:]...)
			time.Sleep(400 * time.Millisecond)
			k.sim.CutStreams() // resumed from the checkpoint in memory
		}
		k.sim.Terminate("default", pod, "submit-jobs", 0)
		k.finish(t)
		if err := wait(); err != nil {
			t.Fatal(err)
		}
		if got := k.k8sLines(t)[pod+"/submit-jobs"]; fmt.Sprint(got) != fmt.Sprint(want) {
			t.Fatalf("%d lines, want %d once each", len(got), len(want))
		}
	})
}

// A polled container whose log the kubelet rotated between two polls lost the lines
// in between: its container_ended notice says partial, rotated.
func TestRotatedLogIsPartial(t *testing.T) {
	backends(t, func(t *testing.T, k *kstack) {
		wait, hog := withHog(t, k)
		pod := "blastn-batch-nt-job-002-" + suffix + "-rot"
		k.sim.AddPod(kubesim.PodSpec{Name: pod, Main: []string{"blast"}, Labels: map[string]string{target.LabelJobID: elbID, target.LabelApp: "blast"}})
		k.sim.Start("default", pod, "blast")
		k.sim.Log("default", pod, "blast", "before 1", "before 2")
		time.Sleep(2500 * time.Millisecond) // polled once at least
		k.sim.Log("default", pod, "blast", "lost 1", "lost 2")
		k.sim.Rotate("default", pod, "blast")
		time.Sleep(1100 * time.Millisecond) // a later second
		k.sim.Log("default", pod, "blast", "after")
		k.sim.Terminate("default", pod, "blast", 0)
		time.Sleep(2500 * time.Millisecond)
		k.sim.Terminate("default", hog, "submit-jobs", 0)
		k.finish(t)
		if err := wait(); err != nil {
			t.Fatal(err)
		}
		if got := k.k8sLines(t)[pod+"/blast"]; fmt.Sprint(got) != "[before 1 before 2 after]" {
			t.Fatalf("lines %v", got)
		}
		n := k.ended(t)[pod+"/blast"]
		if len(n) != 1 || n[0].Ended.Completeness != event.Partial || n[0].Ended.Missing != event.MissingRotated {
			t.Fatalf("notice %+v", n)
		}
		if h := k.ended(t)[hog+"/submit-jobs"]; len(h) != 1 || h[0].Ended.Completeness != event.Complete {
			t.Fatalf("a follow without rotation: %+v", h)
		}
	})
}
