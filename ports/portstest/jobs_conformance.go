package portstest

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/blastlog/blastlog/core/event"
	"github.com/blastlog/blastlog/core/job"
	"github.com/blastlog/blastlog/ports"
)

// TestJobDirectory is the conformance suite of ports.JobDirectory.
func TestJobDirectory(t *testing.T, newDir func(t *testing.T) ports.JobDirectory) {
	ctx := context.Background()
	rec := job.Record{JobID: "run-1", OwnerOID: "oid-1", ELBJobID: "job-429825360482416da20736cf3ed51a95",
		SubscriptionID: "sub", ResourceGroup: "rg", ClusterName: "elb-cluster-01"}

	t.Run("unknown is ErrNotFound", func(t *testing.T) {
		d := newDir(t)
		if _, err := d.Get(ctx, "nope"); !errors.Is(err, ports.ErrNotFound) {
			t.Fatalf("get: %v", err)
		}
		if err := d.SetStatus(ctx, "nope", job.Running); !errors.Is(err, ports.ErrNotFound) {
			t.Fatalf("set status: %v", err)
		}
	})

	t.Run("register, get, defaults", func(t *testing.T) {
		d := newDir(t)
		before := time.Now().Add(-time.Second)
		if err := d.Register(ctx, rec); err != nil {
			t.Fatal(err)
		}
		got, err := d.Get(ctx, "run-1")
		if err != nil {
			t.Fatal(err)
		}
		if got.Status != job.Queued || got.Namespace != job.DefaultNamespace {
			t.Fatalf("defaults: %+v", got)
		}
		if got.CreatedAt.Before(before) || got.UpdatedAt.Before(before) {
			t.Fatalf("times: %+v", got)
		}
		want := rec
		want.Status, want.Namespace, want.CreatedAt, want.UpdatedAt = job.Queued, job.DefaultNamespace, got.CreatedAt, got.UpdatedAt
		if got != want {
			t.Fatalf("got %+v\nwant %+v", got, want)
		}
	})

	t.Run("re-register keeps created_at and status", func(t *testing.T) {
		d := newDir(t)
		if err := d.Register(ctx, rec); err != nil {
			t.Fatal(err)
		}
		if err := d.SetStatus(ctx, "run-1", job.Running); err != nil {
			t.Fatal(err)
		}
		first, _ := d.Get(ctx, "run-1")
		again := rec
		again.Namespace = "blast"
		if err := d.Register(ctx, again); err != nil {
			t.Fatal(err)
		}
		got, _ := d.Get(ctx, "run-1")
		if !got.CreatedAt.Equal(first.CreatedAt) || got.Status != job.Running || got.Namespace != "blast" {
			t.Fatalf("got %+v", got)
		}
	})

	t.Run("set status", func(t *testing.T) {
		d := newDir(t)
		if err := d.Register(ctx, rec); err != nil {
			t.Fatal(err)
		}
		for _, s := range []job.Status{job.Running, job.Completed} {
			if err := d.SetStatus(ctx, "run-1", s); err != nil {
				t.Fatal(err)
			}
			if got, _ := d.Get(ctx, "run-1"); got.Status != s {
				t.Fatalf("status %q want %q", got.Status, s)
			}
		}
		if err := d.SetStatus(ctx, "run-1", "done"); !errors.Is(err, event.ErrInvalid) {
			t.Fatalf("bad status: %v", err)
		}
	})

	t.Run("an owner's runs, newest first", func(t *testing.T) {
		d := newDir(t)
		for _, id := range []string{"first", "second", "third"} {
			if err := d.Register(ctx, job.Record{JobID: id, OwnerOID: "oid-r"}); err != nil {
				t.Fatal(err)
			}
			time.Sleep(1100 * time.Millisecond) // created_at has whole seconds
		}
		d.Register(ctx, job.Record{JobID: "theirs", OwnerOID: "oid-other"})
		d.Register(ctx, job.Record{JobID: "first", OwnerOID: "oid-r"}) // again: keeps its place
		runs, err := d.Runs(ctx, "oid-r", 2)
		if err != nil {
			t.Fatal(err)
		}
		if len(runs) != 2 || runs[0].JobID != "third" || runs[1].JobID != "second" || runs[0].Status != job.Queued {
			t.Fatalf("runs %+v", runs)
		}
		if all, _ := d.Runs(ctx, "oid-r", 50); len(all) != 3 || all[2].JobID != "first" {
			t.Fatalf("all runs %+v", all)
		}
	})

	t.Run("invalid records are refused", func(t *testing.T) {
		d := newDir(t)
		for _, r := range []job.Record{{JobID: "", OwnerOID: "o"}, {JobID: "j"}, {JobID: "j", OwnerOID: "o\n"},
			{JobID: "j", OwnerOID: "o", Status: "done"}} {
			if err := d.Register(ctx, r); !errors.Is(err, event.ErrInvalid) {
				t.Fatalf("%+v: %v", r, err)
			}
		}
	})
}

// TestStatusReader is the conformance suite of ports.StatusReader.
func TestStatusReader(t *testing.T, newDir func(t *testing.T) (ports.JobDirectory, ports.StatusReader)) {
	ctx := context.Background()
	d, s := newDir(t)
	d.Register(ctx, job.Record{JobID: "s1", OwnerOID: "o"})
	d.Register(ctx, job.Record{JobID: "s2", OwnerOID: "o"})
	d.SetStatus(ctx, "s2", job.Completed)
	got, err := s.Statuses(ctx, []string{"s1", "s2", "s3"})
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 || got["s1"] != job.Queued || got["s2"] != job.Completed {
		t.Fatalf("got %v", got)
	}
}
