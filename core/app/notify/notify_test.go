package notify

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/blastlog/blastlog/core/diagnose"
	"github.com/blastlog/blastlog/core/event"
	"github.com/blastlog/blastlog/core/job"
	"github.com/blastlog/blastlog/ports"
	"github.com/blastlog/blastlog/ports/portstest"
)

// recorder is a ports.NotificationSender that keeps what it got; fail says how each attempt ends.
type recorder struct {
	mu    sync.Mutex
	got   []ports.Notification
	tries int
	fail  func(try int) error
}

func (r *recorder) Receivers() int { return 1 }

func (r *recorder) Send(_ context.Context, _ int, m ports.Notification) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.tries++
	if r.fail != nil {
		if err := r.fail(r.tries); err != nil {
			return err
		}
	}
	r.got = append(r.got, m)
	return nil
}

func (r *recorder) sent() []ports.Notification {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]ports.Notification(nil), r.got...)
}

func waitFor(t *testing.T, what string, f func() bool) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); !f(); time.Sleep(5 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("waited 10 s for %s", what)
		}
	}
}

// oomRun is a run whose batch 013 was OOMKilled.
func oomRun() *diagnose.Tracker {
	var tr diagnose.Tracker
	code := 137
	tr.Add(&event.Event{ID: event.ID{MS: 1}, Source: event.SourceSystem, Notice: event.NoticeContainerEnded, Phase: event.PhaseRunning,
		Pod: "blastn-batch-s00-job-013-abc12", Container: "blast", Line: "ended: OOMKilled",
		Ended: &event.Ended{ExitCode: code, Reason: "OOMKilled", Completeness: event.Complete}, TS: time.Now()})
	return &tr
}

func start(t *testing.T, n *Notifier) {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { n.Run(ctx); close(done) }()
	t.Cleanup(func() { cancel(); <-done })
}

// What a diagnosis is news of, sent once per run and kind, terminal news only once
// the run is over; only the kinds asked for.
func TestObserveSendsEachKindOnce(t *testing.T) {
	rec := &recorder{}
	n := &Notifier{On: []string{ports.NotifyFailed, ports.NotifyOOMKilled}, Sender: rec, Leases: portstest.NewCoordination(), Holder: "a",
		PublicURL: "https://blastlog.example.org/"}
	start(t, n)
	r := job.Record{JobID: "run 1", OwnerOID: "alice", ELBJobID: "elb-1", Status: job.Running}
	tr := oomRun()
	for range 3 {
		n.Observe(r, tr, false)
	}
	waitFor(t, "the oomkilled message", func() bool { return len(rec.sent()) == 1 })
	r.Status = job.Failed
	n.Observe(r, tr, false) // not final: the run's last lines may still come
	time.Sleep(50 * time.Millisecond)
	if len(rec.sent()) != 1 {
		t.Fatalf("failed before the run was over: %+v", rec.sent())
	}
	n.Observe(r, tr, true)
	n.Observe(r, tr, true)
	waitFor(t, "the failed message", func() bool { return len(rec.sent()) == 2 })
	time.Sleep(50 * time.Millisecond)
	got := rec.sent()
	if len(got) != 2 || got[0].Kind != ports.NotifyOOMKilled || got[1].Kind != ports.NotifyFailed {
		t.Fatalf("%+v", got)
	}
	m := got[1]
	if m.JobID != "run 1" || m.OwnerOID != "alice" || m.ELBJobID != "elb-1" || m.State != diagnose.StateFailed ||
		m.URL != "https://blastlog.example.org/?run=run+1" || m.Headline == "" || len(m.Causes) != 1 || m.Causes[0].Reason != "OOMKilled" || m.SentAt.IsZero() {
		t.Fatalf("%+v", m)
	}
}

// Two replicas observing the same run send one message between them.
func TestOneMessageAcrossReplicas(t *testing.T) {
	rec := &recorder{}
	leases := portstest.NewCoordination()
	var ns []*Notifier
	for _, h := range []string{"a", "b"} {
		n := &Notifier{On: Kinds, Sender: rec, Leases: leases, Holder: h}
		start(t, n)
		ns = append(ns, n)
	}
	r := job.Record{JobID: "run-2", Status: job.Failed}
	var wg sync.WaitGroup
	for _, n := range ns {
		wg.Add(1)
		go func() { defer wg.Done(); n.Observe(r, oomRun(), true) }()
	}
	wg.Wait()
	waitFor(t, "two messages (failed, oomkilled)", func() bool { return len(rec.sent()) >= 2 })
	time.Sleep(100 * time.Millisecond)
	if got := rec.sent(); len(got) != 2 {
		t.Fatalf("%d messages: %+v", len(got), got)
	}
}

// A failure worth retrying is retried (after the receiver's Retry-After when it gives
// one) until it goes through; a final one is not.
func TestRetries(t *testing.T) {
	rec := &recorder{fail: func(try int) error {
		if try <= 2 {
			return &ports.RetryError{Err: errors.New("503"), After: 100 * time.Millisecond}
		}
		return nil
	}}
	n := &Notifier{On: Kinds, Sender: rec, Leases: portstest.NewCoordination(), Holder: "a", RetryMin: time.Millisecond}
	start(t, n)
	t0 := time.Now()
	n.Observe(job.Record{JobID: "run-3", Status: job.Failed}, &diagnose.Tracker{}, true)
	waitFor(t, "the message", func() bool { return len(rec.sent()) == 1 })
	if el := time.Since(t0); el < 200*time.Millisecond || rec.tries != 3 {
		t.Fatalf("%d tries in %v", rec.tries, el)
	}
	final := &recorder{fail: func(int) error { return errors.New("HTTP 400") }}
	var failures int
	var mu sync.Mutex
	n = &Notifier{On: Kinds, Sender: final, Leases: portstest.NewCoordination(), Holder: "a",
		Metrics: Metrics{Failures: func(string) { mu.Lock(); failures++; mu.Unlock() }}}
	start(t, n)
	n.Observe(job.Record{JobID: "run-4", Status: job.Failed}, &diagnose.Tracker{}, true)
	waitFor(t, "the attempt", func() bool { mu.Lock(); defer mu.Unlock(); return failures == 1 })
	time.Sleep(50 * time.Millisecond)
	if final.tries != 1 {
		t.Fatalf("a final error tried %d times", final.tries)
	}
}

// A full queue drops news without blocking the archiver, and the news comes again
// at the next observation.
func TestFullQueueDropsAndOffersAgain(t *testing.T) {
	rec := &recorder{}
	var dropped int
	n := &Notifier{On: Kinds, Sender: rec, Leases: portstest.NewCoordination(), Holder: "a", Metrics: Metrics{Dropped: func() { dropped++ }}}
	for i := 0; i < QueueSize+5; i++ { // no worker yet
		n.Observe(job.Record{JobID: fmt.Sprintf("run-%d", i), Status: job.Failed}, &diagnose.Tracker{}, true)
	}
	if dropped != 5 {
		t.Fatalf("dropped %d", dropped)
	}
	start(t, n)
	waitFor(t, "the queued ones", func() bool { return len(rec.sent()) == QueueSize })
	n.Observe(job.Record{JobID: fmt.Sprintf("run-%d", QueueSize+4), Status: job.Failed}, &diagnose.Tracker{}, true)
	waitFor(t, "the dropped one, offered again", func() bool { return len(rec.sent()) == QueueSize+1 })
}

func TestParseKinds(t *testing.T) {
	if k, err := ParseKinds(" failed, oomkilled ,failed,"); err != nil || fmt.Sprint(k) != "[failed oomkilled]" {
		t.Fatal(k, err)
	}
	if _, err := ParseKinds("failed,exploded"); err == nil {
		t.Fatal("exploded accepted")
	}
}
