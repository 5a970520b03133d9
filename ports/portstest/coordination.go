package portstest

import (
	"context"
	"sort"
	"sync"
	"time"

	"github.com/blastlog/blastlog/ports"
)

// Coordination is an in-memory ports.Leases, ports.Checkpoints, ports.ActiveRuns and
// ports.EndedRuns.
type Coordination struct {
	mu     sync.Mutex
	leases map[string]lease
	ckpts  map[string]map[string][]byte
	active map[string]time.Time
	ended  map[string]time.Time
	now    func() time.Time
}

type lease struct {
	holder string
	until  time.Time
}

// NewCoordination returns empty coordination state.
func NewCoordination() *Coordination {
	return &Coordination{leases: map[string]lease{}, ckpts: map[string]map[string][]byte{},
		active: map[string]time.Time{}, ended: map[string]time.Time{}, now: time.Now}
}

var (
	_ ports.Leases      = (*Coordination)(nil)
	_ ports.Checkpoints = (*Coordination)(nil)
	_ ports.ActiveRuns  = (*Coordination)(nil)
	_ ports.EndedRuns   = (*Coordination)(nil)
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

// Watch implements ports.EndedRuns.
func (c *Coordination) Watch(_ context.Context, jobID string, due time.Time) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if _, ok := c.ended[jobID]; !ok {
		c.ended[jobID] = due
	}
	return nil
}

// Watched implements ports.EndedRuns.
func (c *Coordination) Watched(context.Context) (map[string]time.Time, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := make(map[string]time.Time, len(c.ended))
	for id, due := range c.ended {
		out[id] = due
	}
	return out, nil
}

// Unwatch implements ports.EndedRuns.
func (c *Coordination) Unwatch(_ context.Context, jobID string) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	delete(c.ended, jobID)
	return nil
}
