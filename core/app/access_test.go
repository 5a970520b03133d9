package app

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/blastlog/blastlog/core/chunk"
	"github.com/blastlog/blastlog/core/job"
	"github.com/blastlog/blastlog/ports"
	"github.com/blastlog/blastlog/ports/portstest"
)

func TestAccessOwnership(t *testing.T) {
	ctx := context.Background()
	jobs, arch := portstest.NewJobDirectory(), portstest.NewArchive()
	t0 := time.Now().UTC().Truncate(time.Second)
	for _, r := range []job.Record{{JobID: "live-old", OwnerOID: "alice"}, {JobID: "live-new", OwnerOID: "alice"},
		{JobID: "bobs", OwnerOID: "bob"}} {
		if err := jobs.Register(ctx, r); err != nil {
			t.Fatal(err)
		}
	}
	// A run Redis forgot: only the archive's index knows its owner. live-new is in
	// both (the archive's copy must not make it appear twice).
	for id, created := range map[string]time.Time{"forgotten": t0.Add(-time.Hour), "live-new": t0.Add(time.Minute)} {
		idx := chunk.NewIndex(id)
		idx.Record = chunk.Record{OwnerOID: "alice", Status: job.Completed, CreatedAt: created}
		if _, err := arch.PutIndex(ctx, idx, ""); err != nil {
			t.Fatal(err)
		}
	}
	a := &Access{Auth: portstest.Authenticator{"tok-alice": {OID: "alice"}}, Jobs: jobs, Archived: arch}
	alice := ports.Caller{OID: "alice"}

	for _, id := range []string{"live-old", "forgotten"} {
		if r, err := a.Owned(ctx, alice, id); err != nil || r.OwnerOID != "alice" {
			t.Fatalf("Owned(%s): %+v, %v", id, r, err)
		}
	}
	// Another owner's run and an unknown run answer alike.
	for _, id := range []string{"bobs", "nobody"} {
		if _, err := a.Owned(ctx, alice, id); !errors.Is(err, ports.ErrNotFound) {
			t.Fatalf("Owned(%s): %v, want ErrNotFound", id, err)
		}
	}
	if _, err := a.Owned(ctx, ports.Caller{}, "live-old"); !errors.Is(err, ports.ErrNotFound) {
		t.Fatalf("a caller without an OID owns %v", err)
	}
	if _, _, err := a.Authorize(ctx, ports.Credentials{Bearer: "wrong"}, "live-old"); !errors.Is(err, ports.ErrUnauthenticated) {
		t.Fatalf("Authorize with a wrong token: %v", err)
	}
	if c, r, err := a.Authorize(ctx, ports.Credentials{Bearer: "tok-alice"}, "forgotten"); err != nil || c.OID != "alice" || r.JobID != "forgotten" {
		t.Fatalf("Authorize: %+v %+v %v", c, r, err)
	}

	runs, err := a.OwnerRuns(ctx, alice, 10)
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, r := range runs {
		ids = append(ids, r.JobID)
	}
	// The directory stamps both live runs with the same second; the forgotten one is
	// an hour older.
	if len(ids) != 3 || ids[2] != "forgotten" || !(equal(ids[:2], []string{"live-new", "live-old"}) || equal(ids[:2], []string{"live-old", "live-new"})) {
		t.Fatalf("OwnerRuns: %v, want both live runs, then forgotten (newest first, each once, only alice's)", ids)
	}
	if runs, _ := a.OwnerRuns(ctx, alice, 2); len(runs) != 2 {
		t.Fatalf("OwnerRuns with limit 2: %d runs", len(runs))
	}
}

func equal(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}
