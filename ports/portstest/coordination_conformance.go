package portstest

import (
	"context"
	"testing"
	"time"

	"github.com/blastlog/blastlog/ports"
)

// Coordinator is the four ports at once.
type Coordinator interface {
	ports.Leases
	ports.Checkpoints
	ports.ActiveRuns
	ports.EndedRuns
}

// TestCoordination is the conformance suite of ports.Leases, ports.Checkpoints,
// ports.ActiveRuns and ports.EndedRuns.
func TestCoordination(t *testing.T, newC func(t *testing.T) Coordinator) {
	ctx := context.Background()
	t.Run("one holder at a time", func(t *testing.T) {
		c := newC(t)
		if ok, err := c.Acquire(ctx, "run", "a", time.Minute); !ok || err != nil {
			t.Fatalf("a: %v %v", ok, err)
		}
		if ok, _ := c.Acquire(ctx, "run", "b", time.Minute); ok {
			t.Fatal("b took a held lease")
		}
		if ok, _ := c.Acquire(ctx, "run", "a", time.Minute); !ok {
			t.Fatal("the holder could not re-acquire")
		}
		if ok, _ := c.Renew(ctx, "run", "b", time.Minute); ok {
			t.Fatal("b renewed a's lease")
		}
		c.Release(ctx, "run", "b") // not b's to release
		if ok, _ := c.Acquire(ctx, "run", "b", time.Minute); ok {
			t.Fatal("a release by b freed a's lease")
		}
		c.Release(ctx, "run", "a")
		if ok, _ := c.Acquire(ctx, "run", "b", time.Minute); !ok {
			t.Fatal("free lease not taken")
		}
	})
	t.Run("expiry hands the lease over", func(t *testing.T) {
		c := newC(t)
		c.Acquire(ctx, "run2", "a", 100*time.Millisecond)
		time.Sleep(250 * time.Millisecond)
		if ok, _ := c.Renew(ctx, "run2", "a", time.Minute); ok {
			t.Fatal("an expired lease was renewed")
		}
		if ok, _ := c.Acquire(ctx, "run2", "b", time.Minute); !ok {
			t.Fatal("an expired lease was not taken over")
		}
	})
	t.Run("checkpoints", func(t *testing.T) {
		c := newC(t)
		c.Save(ctx, "run", "uid/c/1", []byte(`{"a":1}`))
		c.Save(ctx, "run", "uid/c/1", []byte(`{"a":2}`))
		c.Save(ctx, "run", "uid/d/1", []byte(`x`))
		got, err := c.Load(ctx, "run")
		if err != nil || len(got) != 2 || string(got["uid/c/1"]) != `{"a":2}` {
			t.Fatalf("%v %v", got, err)
		}
		if got, _ := c.Load(ctx, "other"); len(got) != 0 {
			t.Fatal(got)
		}
	})
	t.Run("active runs", func(t *testing.T) {
		c := newC(t)
		c.Touch(ctx, "r1")
		time.Sleep(5 * time.Millisecond)
		c.Touch(ctx, "r2")
		time.Sleep(5 * time.Millisecond)
		c.Touch(ctx, "r1")
		ids, err := c.Active(ctx)
		if err != nil || len(ids) != 2 || ids[0] != "r2" || ids[1] != "r1" {
			t.Fatalf("%v %v", ids, err)
		}
		if in, err := c.Contains(ctx, []string{"r1", "r2", "r3"}); err != nil || !in["r1"] || !in["r2"] || in["r3"] {
			t.Fatalf("contains %v %v", in, err)
		}
		c.Done(ctx, "r2")
		if ids, _ := c.Active(ctx); len(ids) != 1 || ids[0] != "r1" {
			t.Fatal(ids)
		}
		if in, _ := c.Contains(ctx, []string{"r2"}); in["r2"] {
			t.Fatal("a run done is still active")
		}
		c.Touch(ctx, "r3")
		time.Sleep(5 * time.Millisecond)
		cut := time.Now()
		time.Sleep(5 * time.Millisecond)
		c.Touch(ctx, "r4")
		if n, err := c.Prune(ctx, cut); err != nil || n != 2 {
			t.Fatalf("pruned %d %v (want r1 and r3)", n, err)
		}
		if ids, _ := c.Active(ctx); len(ids) != 1 || ids[0] != "r4" {
			t.Fatalf("after prune %v", ids)
		}
	})
	t.Run("ended runs", func(t *testing.T) {
		c := newC(t)
		due := time.Now().Add(15 * time.Minute).Truncate(time.Millisecond)
		if err := c.Watch(ctx, "r1", due); err != nil {
			t.Fatal(err)
		}
		c.Watch(ctx, "r2", due.Add(time.Minute))
		c.Watch(ctx, "r1", due.Add(time.Hour)) // a takeover's second Watch keeps the first time
		w, err := c.Watched(ctx)
		if err != nil || len(w) != 2 || !w["r1"].Equal(due) || !w["r2"].Equal(due.Add(time.Minute)) {
			t.Fatalf("watched %v %v", w, err)
		}
		if err := c.Unwatch(ctx, "r1"); err != nil {
			t.Fatal(err)
		}
		if w, _ := c.Watched(ctx); len(w) != 1 || w["r2"].IsZero() {
			t.Fatalf("after unwatch %v", w)
		}
		// Watched runs are not active runs.
		if ids, _ := c.Active(ctx); len(ids) != 0 {
			t.Fatalf("active %v", ids)
		}
	})
}
