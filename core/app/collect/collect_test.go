package collect

import (
	"context"
	"errors"
	"testing"

	"github.com/blastlog/blastlog/core/event"
	"github.com/blastlog/blastlog/core/job"
	"github.com/blastlog/blastlog/ports"
	"github.com/blastlog/blastlog/ports/portstest"
)

// A run whose cluster cannot be found is reported once per reason, not on every retry.
func TestUnreachableClusterIsNoticedOnce(t *testing.T) {
	log, jobs, coord := portstest.NewEventLog(0), portstest.NewJobDirectory(), portstest.NewCoordination()
	ctx := context.Background()
	jobs.Register(ctx, job.Record{JobID: "r", OwnerOID: "o"})
	reason := errors.New("run \"r\": its record names no AKS cluster")
	c := &Collector{Log: log, Jobs: jobs, Statuses: jobs, Leases: coord, Checkpoints: coord, Active: coord,
		Clusters: clusterFunc(func(context.Context, job.Record) (ports.Cluster, error) { return nil, reason }),
		Config:   Config{Holder: "h"}}
	for i := 0; i < 3; i++ {
		if err := c.Collect(ctx, "r"); !errors.Is(err, reason) {
			t.Fatalf("attempt %d: %v", i, err)
		}
	}
	evs, _ := log.Read(ctx, "r", "", 10)
	if len(evs) != 1 || evs[0].Notice != "degraded" || evs[0].Source != event.SourceSystem {
		t.Fatalf("%+v", evs)
	}
	// The lease is not kept by a collector that could not start.
	if ok, _ := coord.Acquire(ctx, "r", "other", 0); !ok {
		t.Fatal("lease still held")
	}
}

type clusterFunc func(context.Context, job.Record) (ports.Cluster, error)

func (f clusterFunc) For(ctx context.Context, r job.Record) (ports.Cluster, error) { return f(ctx, r) }
