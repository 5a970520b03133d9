package collect

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/blastlog/blastlog/core/event"
	"github.com/blastlog/blastlog/core/job"
	"github.com/blastlog/blastlog/core/target"
	"github.com/blastlog/blastlog/ports/portstest"
)

// The collector's rules checked over the portstest fakes: no Redis, no API server.

const (
	elbID = "job-429825360482416da20736cf3ed51a95" // suffix 3ed51a95
	runID = "run-7"
)

type rig struct {
	t       *testing.T
	cluster *portstest.Cluster
	log     *portstest.EventLog
	jobs    *portstest.JobDirectory
	coord   *portstest.Coordination
}

func newRig(t *testing.T) *rig {
	r := &rig{t: t, cluster: portstest.NewCluster(), log: portstest.NewEventLog(0), jobs: portstest.NewJobDirectory(),
		coord: portstest.NewCoordination()}
	if err := r.jobs.Register(context.Background(), job.Record{JobID: runID, OwnerOID: "o", ELBJobID: elbID, Status: job.Running}); err != nil {
		t.Fatal(err)
	}
	return r
}

// collector is a collector on the rig with short intervals, tuned by tune.
func (r *rig) collector(holder string, tune ...func(*Config)) *Collector {
	c := &Collector{Clusters: r.cluster, Log: r.log, Jobs: r.jobs, Statuses: r.jobs, Leases: r.coord, Checkpoints: r.coord,
		Active: r.coord, Config: Config{Holder: holder, Poll: 20 * time.Millisecond, PollEvery: 20 * time.Millisecond,
			Settle: 50 * time.Millisecond, WaitingAfter: 50 * time.Millisecond}}
	for _, f := range tune {
		f(&c.Config)
	}
	return c
}

// collect runs a collector until the returned stop is called (or the run ends).
func (r *rig) collect(holder string, tune ...func(*Config)) (stop func() error) {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- r.collector(holder, tune...).Collect(ctx, runID) }()
	return func() error {
		cancel()
		select {
		case err := <-done:
			if errors.Is(err, context.Canceled) {
				return nil
			}
			return err
		case <-time.After(10 * time.Second):
			r.t.Fatal("the collector did not stop")
			return nil
		}
	}
}

func (r *rig) events() []event.Event {
	evs, err := r.log.Read(context.Background(), runID, event.ID{}, 100_000)
	if err != nil {
		r.t.Fatal(err)
	}
	return evs
}

// waitFor waits until cond holds of the run's events.
func (r *rig) waitFor(what string, cond func([]event.Event) bool) []event.Event {
	r.t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		evs := r.events()
		if cond(evs) {
			return evs
		}
		if time.Now().After(deadline) {
			r.t.Fatalf("timed out waiting for %s; the log holds:\n%s", what, dump(evs))
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func dump(evs []event.Event) string {
	var b strings.Builder
	for _, e := range evs {
		fmt.Fprintf(&b, "  %s %q %s\n", e.Notice, e.Line, e.AppendJSON(nil))
	}
	return b.String()
}

func notices(evs []event.Event, kind string) []event.Event {
	var out []event.Event
	for _, e := range evs {
		if e.Notice == kind {
			out = append(out, e)
		}
	}
	return out
}

func count(kind string, n int) func([]event.Event) bool {
	return func(evs []event.Event) bool { return len(notices(evs, kind)) >= n }
}

func batchPod(n int, attempt string) target.Pod {
	return target.Pod{Name: fmt.Sprintf("blastn-batch-s00-job-%03d-3ed51a95-%s", n, attempt),
		Job: fmt.Sprintf("blastn-batch-s00-job-%03d-3ed51a95", n), Labels: map[string]string{target.LabelApp: "blast"},
		Main: []target.Container{{Name: "blast", MemoryLimit: "62Gi"}}}
}
