package collect

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/blastlog/blastlog/core/event"
)

// The container_ended notice says how much of a container's output was stored:
// these are the ways it is not all, over the fakes (functions/stream runs the same
// through kubesim and the real API server).

// withHog starts a collector with one follow slot and waits until a container that
// runs until the test ends it holds the slot, so that the others are polled.
func (r *rig) withHog() (hog string, stop func() error) {
	p := batchPod(99, "hog")
	r.cluster.AddPod(p)
	r.cluster.StartContainer("default", p.Name, "blast")
	stop = r.collect("a", func(c *Config) { c.MaxFollows = 1 })
	r.waitFor("the hog followed", func(evs []event.Event) bool {
		for _, e := range notices(evs, "following") {
			if strings.Contains(e.Line, p.Name) {
				return true
			}
		}
		return false
	})
	return p.Name, stop
}

func endedOf(evs []event.Event, pod string) []event.Event {
	var out []event.Event
	for _, e := range notices(evs, event.NoticeContainerEnded) {
		if e.Pod == pod {
			out = append(out, e)
		}
	}
	return out
}

// A container that ran before collection began is read from its last TailLines, and
// its notice says the lines before were not read.
func TestContainerThatRanBeforeIsTailed(t *testing.T) {
	r := newRig(t)
	p := batchPod(1, "early")
	r.cluster.AddPod(p)
	r.cluster.StartContainer("default", p.Name, "blast")
	r.write(p.Name, "blast", 0, 30)
	time.Sleep(1100 * time.Millisecond) // it started a whole second before collection
	stop := r.collect("a", func(c *Config) { c.TailLines = 10 })
	r.waitFor("the tail", func([]event.Event) bool { return len(r.lines()) == 10 })
	r.write(p.Name, "blast", 30, 31)
	r.cluster.EndContainer("default", p.Name, "blast", 0, "Completed")
	evs := r.waitFor("its end", count(event.NoticeContainerEnded, 1))
	if err := stop(); err != nil {
		t.Fatal(err)
	}
	seen := r.lines()
	if len(seen) != 11 || seen[p.Name+" line 20"] != 1 || seen[p.Name+" line 30"] != 1 || seen[p.Name+" line 19"] != 0 {
		t.Fatalf("lines %v", seen)
	}
	if d := endedOf(evs, p.Name)[0].Ended; d.Completeness != event.Partial || d.Missing != event.MissingTail {
		t.Fatalf("%+v", d)
	}
}

// A pod deleted before any line of it could be read: its notice says it was missed.
func TestMissedContainer(t *testing.T) {
	r := newRig(t)
	hog, stop := r.withHog()
	gone := batchPod(2, "gone")
	r.cluster.AddPod(gone)
	r.cluster.LoseLogs("default", gone.Name)
	r.cluster.StartContainer("default", gone.Name, "blast")
	r.write(gone.Name, "blast", 0, 3)
	r.cluster.EndContainer("default", gone.Name, "blast", 137, "OOMKilled")
	time.Sleep(200 * time.Millisecond)
	r.cluster.DeletePod("default", gone.Name)
	evs := r.waitFor("its end", func(evs []event.Event) bool { return len(endedOf(evs, gone.Name)) == 1 })
	r.cluster.EndContainer("default", hog, "blast", 0, "Completed")
	evs = r.waitFor("the hog's end", func(evs []event.Event) bool { return len(endedOf(evs, hog)) == 1 })
	if err := stop(); err != nil {
		t.Fatal(err)
	}
	d := endedOf(evs, gone.Name)[0]
	if d.Ended.Completeness != event.Missed || d.Ended.ExitCode != 137 || !strings.Contains(d.Line, "missing") {
		t.Fatalf("%s", d.AppendJSON(nil))
	}
	if h := endedOf(evs, hog)[0].Ended; h.Completeness != event.Complete {
		t.Fatalf("the followed container: %+v", h)
	}
}

// A polled container whose log the kubelet rotated between two polls: the lines in
// between are lost, and its notice says so.
func TestRotatedLogIsPartial(t *testing.T) {
	r := newRig(t)
	hog, stop := r.withHog()
	p := batchPod(3, "rot")
	r.cluster.AddPod(p)
	r.cluster.StartContainer("default", p.Name, "blast")
	r.cluster.Log("default", p.Name, "blast", "before 1", "before 2")
	r.waitFor("the lines before", func(evs []event.Event) bool { return len(r.k8sLinesOf(p.Name)) == 2 })
	r.cluster.Log("default", p.Name, "blast", "lost 1", "lost 2")
	r.cluster.Rotate("default", p.Name, "blast")
	time.Sleep(1100 * time.Millisecond) // a later second
	r.cluster.Log("default", p.Name, "blast", "after")
	r.cluster.EndContainer("default", p.Name, "blast", 0, "Completed")
	evs := r.waitFor("its end", func(evs []event.Event) bool { return len(endedOf(evs, p.Name)) == 1 })
	r.cluster.EndContainer("default", hog, "blast", 0, "Completed")
	if err := stop(); err != nil {
		t.Fatal(err)
	}
	if got := fmt.Sprint(r.k8sLinesOf(p.Name)); got != "[before 1 before 2 after]" {
		t.Fatalf("lines %s", got)
	}
	if d := endedOf(evs, p.Name)[0].Ended; d.Completeness != event.Partial || d.Missing != event.MissingRotated {
		t.Fatalf("%+v", d)
	}
}

// k8sLinesOf are a pod's lines in the log, in order.
func (r *rig) k8sLinesOf(pod string) []string {
	var out []string
	for _, e := range r.events() {
		if e.Source == event.SourceK8s && e.Pod == pod {
			out = append(out, e.Line)
		}
	}
	return out
}
