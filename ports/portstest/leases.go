package portstest

import (
	"context"
	"errors"
	"sync/atomic"
	"time"

	"github.com/blastlog/blastlog/ports"
)

// DyingLeases wraps the lease store of a replica that will die: once Kill is called it
// neither renews nor releases, and its leases run out on their own, as a crashed
// process's do.
type DyingLeases struct {
	ports.Leases
	dead atomic.Bool
}

// Kill makes the replica dead from now on.
func (d *DyingLeases) Kill() { d.dead.Store(true) }

// Renew implements ports.Leases: refused once dead.
func (d *DyingLeases) Renew(ctx context.Context, key, holder string, ttl time.Duration) (bool, error) {
	if d.dead.Load() {
		return false, errors.New("the replica is dead")
	}
	return d.Leases.Renew(ctx, key, holder, ttl)
}

// Release implements ports.Leases: nothing once dead.
func (d *DyingLeases) Release(ctx context.Context, key, holder string) error {
	if d.dead.Load() {
		return nil
	}
	return d.Leases.Release(ctx, key, holder)
}
