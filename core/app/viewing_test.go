package app

import (
	"context"
	"slices"
	"testing"

	"github.com/blastlog/blastlog/core/job"
	"github.com/blastlog/blastlog/ports/portstest"
)

type watched []string

func (w *watched) Watch(jobID string) { *w = append(*w, jobID) }

func TestViewingOpened(t *testing.T) {
	ctx := context.Background()
	jobs := portstest.NewJobDirectory()
	for id, s := range map[string]job.Status{"running": job.Running, "done": job.Completed} {
		if err := jobs.Register(ctx, job.Record{JobID: id, OwnerOID: "o", Status: s}); err != nil {
			t.Fatal(err)
		}
	}
	for _, collecting := range []bool{true, false} {
		active, arch := portstest.NewCoordination(), &watched{}
		v := &Viewing{Statuses: jobs, Active: active, Collecting: collecting, Archiver: arch}
		for _, id := range []string{"running", "done", "unknown"} {
			v.Opened(ctx, id)
		}
		got, _ := active.Active(ctx)
		// A run not known to be over is collected when opened; a finished one is not
		// collected again; nothing is, on a replica that does not collect.
		want := []string{"running", "unknown"}
		if !collecting {
			want = nil
		}
		slices.Sort(got)
		if !slices.Equal(got, want) {
			t.Errorf("collecting=%v: active %v, want %v", collecting, got, want)
		}
		if !slices.Equal(*arch, []string{"running", "done", "unknown"}) {
			t.Errorf("collecting=%v: the archiver was told of %v", collecting, *arch)
		}
	}
}
