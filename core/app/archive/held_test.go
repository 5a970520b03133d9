package archive_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/blastlog/blastlog/core/diagnose"
	"github.com/blastlog/blastlog/core/event"
	"github.com/blastlog/blastlog/core/job"
)

// observed keeps what Observe was shown, per run.
type observed struct {
	mu     sync.Mutex
	finals map[string]int
	idle   map[string]bool // a final diagnosis had cluster_idle
	seen   map[string]int
}

func newObserved() *observed {
	return &observed{finals: map[string]int{}, idle: map[string]bool{}, seen: map[string]int{}}
}

func (o *observed) observe(rec job.Record, t *diagnose.Tracker, final bool) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.seen[rec.JobID]++
	if final {
		o.finals[rec.JobID]++
		o.idle[rec.JobID] = t.ClusterIdle != nil
	}
}

func (o *observed) final(jobID string) (int, bool) {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.finals[jobID], o.idle[jobID]
}

// A collected run is finished only once it left the active set; a run the collector
// still watches after its end (its nodes looked at for cluster_idle) is held too, so
// that the notice is in its archive and its final diagnosis.
func TestARunWatchedAfterItsEndIsHeld(t *testing.T) {
	s := newStack()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	s.jobs.Register(ctx, job.Record{JobID: "r", OwnerOID: "o"})
	s.coord.Touch(ctx, "r")
	o := newObserved()
	a := s.archiver("a")
	a.Ended, a.Config.Collecting, a.Observe = s.coord, true, o.observe
	go a.Run(ctx)
	s.write(t, "r", 0, 120, event.PhaseRunning)
	s.jobs.SetStatus(ctx, "r", job.Completed)
	// The collector's end: the run watched, then out of the active set.
	s.coord.Watch(ctx, "r", time.Now().Add(time.Minute))
	s.coord.Done(ctx, "r")
	time.Sleep(5 * time.Second) // two of the archiver's checks
	if idx, _, err := s.arch.Index(ctx, "r"); err == nil && idx.Complete {
		t.Fatal("the run was finished while it is watched")
	}
	if n, _ := o.final("r"); n != 0 {
		t.Fatal("a final diagnosis while the run is watched")
	}
	rate := 8.06
	idle := event.System("r", "", event.NoticeClusterIdle, "the cluster of run r is still up", time.Now())
	idle.Detail = &event.Detail{FirstTS: time.Now().Add(-time.Minute), Nodes: 4, USDPerHour: &rate}
	if _, err := s.log.Append(ctx, "r", []event.Event{idle}); err != nil {
		t.Fatal(err)
	}
	s.coord.Unwatch(ctx, "r")
	s.waitComplete(t, "r")
	idx, _, _ := s.arch.Index(ctx, "r")
	if idx.Count != 121 || idx.Summary.Diagnosis.ClusterIdle == nil || idx.Summary.Diagnosis.ClusterIdle.Nodes != 4 {
		t.Fatalf("count %d, cluster_idle %+v", idx.Count, idx.Summary.Diagnosis.ClusterIdle)
	}
	if n, hadIdle := o.final("r"); n != 1 || !hadIdle {
		t.Fatalf("%d final diagnoses, cluster_idle %v", n, hadIdle)
	}
}

// Observe is shown a run while it is held, and its final diagnosis once, after every
// event of it is counted: two archivers, one run.
func TestObserveIsFinalOnce(t *testing.T) {
	s := newStack()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	s.jobs.Register(ctx, job.Record{JobID: "r", OwnerOID: "o"})
	o := newObserved()
	for _, h := range []string{"a", "b"} {
		a := s.archiver(h)
		a.Observe = o.observe
		go a.Run(ctx)
	}
	s.write(t, "r", 0, 300, event.PhaseRunning)
	time.Sleep(2500 * time.Millisecond) // a check while it runs
	s.write(t, "r", 300, 300, event.PhaseRunning)
	s.jobs.SetStatus(ctx, "r", job.Failed)
	waitFor(t, "the final diagnosis", 15*time.Second, func() bool { n, _ := o.final("r"); return n > 0 })
	time.Sleep(3 * time.Second) // another would come within a check or two
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.finals["r"] != 1 || o.seen["r"] < 2 {
		t.Fatalf("%d final of %d observations", o.finals["r"], o.seen["r"])
	}
	idx, _, _ := s.arch.Index(ctx, "r")
	if idx.Count != 600 || !idx.Complete {
		t.Fatalf("count %d, complete %v", idx.Count, idx.Complete)
	}
}

// A run that is neither active nor found by the periodic scan yet (a run written by a
// producer the archiver has not seen) is taken at once when a viewer opens it: Watch,
// not the next full scan, brings it in.
func TestAViewersRunIsTakenAtOnce(t *testing.T) {
	s := newStack()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	s.jobs.Register(ctx, job.Record{JobID: "seen", OwnerOID: "o"})
	s.jobs.Register(ctx, job.Record{JobID: "before", OwnerOID: "o"})
	s.write(t, "before", 0, 10, event.PhaseRunning)
	a := s.archiver("a")
	a.Config.Scan = time.Hour // no full scan after the first
	go a.Run(ctx)
	waitFor(t, "the first scan's run", 5*time.Second, func() bool {
		idx, _, err := s.arch.Index(ctx, "before")
		return err == nil && idx.Count == 10
	})
	s.write(t, "seen", 0, 30, event.PhaseRunning)
	time.Sleep(300 * time.Millisecond)
	if _, _, err := s.arch.Index(ctx, "seen"); err == nil {
		t.Fatal("a run nobody asked for was taken without a scan")
	}
	a.Watch("seen")
	waitFor(t, "the viewer's run archived", 5*time.Second, func() bool {
		idx, _, err := s.arch.Index(ctx, "seen")
		return err == nil && idx.Count == 30
	})
}
