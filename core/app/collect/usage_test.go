package collect

import (
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/blastlog/blastlog/core/event"
	"github.com/blastlog/blastlog/core/target"
)

// A batch's memory climbs to its limit and it is OOMKilled: its container_ended notice
// carries the peak sampled, the CPU figures and how many samples there were; the
// namespace is listed once a round whatever the number of pods.
func TestUsageEndsWithItsInstance(t *testing.T) {
	r := newRig(t)
	pods := []string{batchPod(13, "a").Name, batchPod(14, "a").Name, batchPod(15, "a").Name}
	for i := range pods {
		r.cluster.AddPod(batchPod(13+i, "a"))
		r.cluster.StartContainer("default", pods[i], "blast")
		r.cluster.SetUsage("default", pods[i], "blast", 1<<30, 1)
	}
	start := time.Now()
	stop := r.collect("a", func(c *Config) { c.MetricsEvery = 10 * time.Millisecond })
	const gi = int64(1) << 30
	for _, step := range []struct {
		mem int64
		cpu float64
	}{{10 * gi, 14.5}, {30 * gi, 15.9}, {618 * gi / 10, 12}} {
		r.cluster.SetUsage("default", pods[0], "blast", step.mem, step.cpu)
		time.Sleep(40 * time.Millisecond) // a few rounds
	}
	r.cluster.EndContainer("default", pods[0], "blast", 137, "OOMKilled")
	evs := r.waitFor("the OOMKilled container ended", count(event.NoticeContainerEnded, 1))
	lists, elapsed := r.cluster.MetricsLists(), time.Since(start)
	if err := stop(); err != nil {
		t.Fatal(err)
	}
	u := notices(evs, event.NoticeContainerEnded)[0].Ended.Usage
	if u == nil || u.PeakMemory != 618*gi/10 || u.CPUPeak != 15.9 || u.Samples < 4 || u.CPUMean <= 1 || u.CPUMean >= 15.9 ||
		!u.Last.After(u.First) {
		t.Fatalf("usage %+v", u)
	}
	if max := int(elapsed/(10*time.Millisecond)) + 2; lists > max {
		t.Fatalf("%d lists of PodMetrics in %v for 3 pods: more than one a round", lists, elapsed)
	}
	// It survives the event's JSON.
	back, err := event.Decode(notices(evs, event.NoticeContainerEnded)[0].AppendJSON(nil))
	if err != nil || back.Ended.Usage == nil || back.Ended.Usage.PeakMemory != u.PeakMemory || back.Ended.Usage.Samples != u.Samples {
		t.Fatalf("decoded %+v %v", back.Ended, err)
	}
}

// A cluster without a metrics API for blastlog (none served, or RBAC) is said once
// as degraded, and sampling stops; collection goes on.
func TestNoMetricsIsSaidOnce(t *testing.T) {
	for name, refuse := range map[string]func(r *rig){
		"not served": func(r *rig) { r.cluster.NoMetrics() },
		"forbidden":  func(r *rig) { r.cluster.Forbid("metrics") },
	} {
		t.Run(name, func(t *testing.T) {
			r := newRig(t)
			refuse(r)
			p := batchPod(4, "a")
			r.cluster.AddPod(p)
			r.cluster.StartContainer("default", p.Name, "blast")
			stop := r.collect("a", func(c *Config) { c.MetricsEvery = 5 * time.Millisecond })
			r.write(p.Name, "blast", 0, 10)
			r.cluster.EndContainer("default", p.Name, "blast", 0, "Completed")
			evs := r.waitFor("the container ended", count(event.NoticeContainerEnded, 1))
			time.Sleep(50 * time.Millisecond) // ten more rounds, were it still sampling
			evs = r.events()
			if err := stop(); err != nil {
				t.Fatal(err)
			}
			var said int
			for _, e := range notices(evs, "degraded") {
				if strings.Contains(e.Line, "metrics.k8s.io") {
					said++
				}
			}
			if said != 1 || r.cluster.MetricsLists() != 1 {
				t.Fatalf("said %d times, %d lists:\n%s", said, r.cluster.MetricsLists(), dump(evs))
			}
			if u := notices(evs, event.NoticeContainerEnded)[0].Ended.Usage; u != nil {
				t.Fatalf("usage without a sample: %+v", u)
			}
		})
	}
}

// A running batch that uses no CPU and writes no line for StallAfter gets one stalled
// notice; one that uses CPU again and then stops again gets another; a busy one none.
func TestStalledNoticeOncePerStall(t *testing.T) {
	r := newRig(t)
	idle, busy := batchPod(7, "a"), batchPod(8, "a")
	for _, p := range []target.Pod{idle, busy} {
		r.cluster.AddPod(p)
		r.cluster.StartContainer("default", p.Name, "blast")
	}
	r.cluster.SetUsage("default", idle.Name, "blast", 20<<30, 0.01)
	r.cluster.SetUsage("default", busy.Name, "blast", 20<<30, 14.5)
	stop := r.collect("a", func(c *Config) { c.MetricsEvery, c.StallAfter = 10*time.Millisecond, 150*time.Millisecond })
	r.write(idle.Name, "blast", 0, 3)
	evs := r.waitFor("the stall", count(event.NoticeStalled, 1))
	time.Sleep(200 * time.Millisecond) // more rounds: said once
	if n := len(notices(r.events(), event.NoticeStalled)); n != 1 {
		t.Fatalf("%d stalled notices for one stall", n)
	}
	s := notices(evs, event.NoticeStalled)[0]
	if s.Pod != idle.Name || s.Container != "blast" || s.Detail == nil || s.Detail.Reason != "Stalled" ||
		s.TS.Sub(s.Detail.FirstTS) < 150*time.Millisecond || !strings.Contains(s.Line, "has used no CPU") {
		t.Fatalf("%s", s.AppendJSON(nil))
	}
	r.cluster.SetUsage("default", idle.Name, "blast", 20<<30, 3)
	time.Sleep(50 * time.Millisecond)
	r.cluster.SetUsage("default", idle.Name, "blast", 20<<30, 0)
	r.waitFor("the second stall", count(event.NoticeStalled, 2))
	if err := stop(); err != nil {
		t.Fatal(err)
	}
	for _, e := range notices(r.events(), event.NoticeStalled) {
		if e.Pod != idle.Name {
			t.Fatalf("a busy batch stalled: %s", e.AppendJSON(nil))
		}
	}
}

// BenchmarkUsageMemory: what the samples of one container instance cost to keep,
// whatever their number: 10,000 instances, 100 samples each. Reported: heap bytes per
// instance.
func BenchmarkUsageMemory(b *testing.B) {
	t0 := time.Date(2026, 12, 7, 0, 0, 0, 0, time.UTC)
	var perInstance float64
	for b.Loop() {
		runtime.GC()
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		kept := make([]*usage, 10_000)
		for i := range kept {
			u := &usage{}
			for s := range 100 {
				u.add(target.Usage{At: t0.Add(time.Duration(s) * 15 * time.Second), Memory: int64(s) << 30, CPU: float64(s % 16)})
			}
			kept[i] = u
		}
		runtime.GC()
		runtime.ReadMemStats(&after)
		perInstance = float64(after.HeapAlloc-before.HeapAlloc) / float64(len(kept))
		runtime.KeepAlive(kept)
	}
	b.ReportMetric(perInstance, "B/instance")
}
