package portstest

import (
	"context"
	"sort"
	"sync"
	"testing"
	"time"

	"github.com/blastlog/blastlog/ports"
)

// Coordination is an in-memory ports.Leases, ports.Checkpoints and ports.ActiveRuns.
type Coordination struct {
	mu     sync.Mutex
	leases map[string]lease
	ckpts  map[string]map[string][]byte
	active map[string]time.Time
	now    func() time.Time
}

type lease struct {
	holder string
	until  time.Time
}

// NewCoordination returns empty coordination state.
func NewCoordination() *Coordination {
	return &Coordination{leases: map[string]lease{}, ckpts: map[string]map[string][]byte{},
		active: map[string]time.Time{}, now: time.Now}
}

var (
	_ ports.Leases      = (*Coordination)(nil)
	_ ports.Checkpoints = (*Coordination)(nil)
	_ ports.ActiveRuns  = (*Coordination)(nil)
)

// Acquire implements ports.Leases.
func (c *Coordination) Acquire(_ context.Context, key, holder string, ttl time.Duration) (bool, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	l, ok := c.leases[key]
	if ok && c.now().Before(l.until) && l.holder != holder {
		return false, nil
	}
	c.leases[key] = lease{holder, c.now().Add(ttl)}
	return true, nil
}

// Renew implements ports.Leases.
func (c *Coordination) Renew(_ context.Context, key, holder string, ttl time.Duration) (bool, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	l, ok := c.leases[key]
	if !ok || !c.now().Before(l.until) || l.holder != holder {
		return false, nil
	}
	c.leases[key] = lease{holder, c.now().Add(ttl)}
	return true, nil
}

// Release implements ports.Leases.
func (c *Coordination) Release(_ context.Context, key, holder string) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if l, ok := c.leases[key]; ok && l.holder == holder {
		delete(c.leases, key)
	}
	return nil
}

// Load implements ports.Checkpoints.
func (c *Coordination) Load(_ context.Context, jobID string) (map[string][]byte, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := map[string][]byte{}
	for k, v := range c.ckpts[jobID] {
		out[k] = append([]byte(nil), v...)
	}
	return out, nil
}

// Save implements ports.Checkpoints.
func (c *Coordination) Save(_ context.Context, jobID, key string, state []byte) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.ckpts[jobID] == nil {
		c.ckpts[jobID] = map[string][]byte{}
	}
	c.ckpts[jobID][key] = append([]byte(nil), state...)
	return nil
}

// Touch implements ports.ActiveRuns.
func (c *Coordination) Touch(_ context.Context, jobID string) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.active[jobID] = c.now()
	return nil
}

// Active implements ports.ActiveRuns.
func (c *Coordination) Active(context.Context) ([]string, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	ids := make([]string, 0, len(c.active))
	for id := range c.active {
		ids = append(ids, id)
	}
	sort.Slice(ids, func(i, j int) bool { return c.active[ids[i]].Before(c.active[ids[j]]) })
	return ids, nil
}

// Done implements ports.ActiveRuns.
func (c *Coordination) Done(_ context.Context, jobID string) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	delete(c.active, jobID)
	return nil
}

// Contains implements ports.ActiveRuns.
func (c *Coordination) Contains(_ context.Context, ids []string) (map[string]bool, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := make(map[string]bool, len(ids))
	for _, id := range ids {
		_, out[id] = c.active[id]
	}
	return out, nil
}

// Prune implements ports.ActiveRuns.
func (c *Coordination) Prune(_ context.Context, before time.Time) (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	n := 0
	for id, at := range c.active {
		if at.Before(before) {
			delete(c.active, id)
			n++
		}
	}
	return n, nil
}

// Coordinator is all three ports at once.
type Coordinator interface {
	ports.Leases
	ports.Checkpoints
	ports.ActiveRuns
}

// TestCoordination is the conformance suite of ports.Leases, ports.Checkpoints and
// ports.ActiveRuns.
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
}
