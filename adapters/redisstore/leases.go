package redisstore

import (
	"context"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/blastlog/blastlog/core/job"
	"github.com/blastlog/blastlog/ports"
)

// Leases is ports.Leases over <prefix><name>:<id> keys (SET NX PX, compare-and-renew
// by script).
type Leases struct {
	rdb    redis.UniversalClient
	prefix string
}

var _ ports.Leases = (*Leases)(nil)

// NewLeases returns leases under cfg.KeyPrefix + name + ":" (the collector's are
// "lease", the archiver's "archlease").
func NewLeases(rdb redis.UniversalClient, cfg Config, name string) *Leases {
	return &Leases{rdb: rdb, prefix: cfg.keyPrefix() + name + ":"}
}

func (c *Leases) leaseKey(k string) string { return c.prefix + job.SafeID(k) }

// Only the holder may extend or free a lease.
var (
	renewScript = redis.NewScript(`
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('PEXPIRE', KEYS[1], ARGV[2])
end
return 0`)
	releaseScript = redis.NewScript(`
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('DEL', KEYS[1])
end
return 0`)
)

// Acquire implements ports.Leases.
func (c *Leases) Acquire(ctx context.Context, key, holder string, ttl time.Duration) (bool, error) {
	ok, err := c.rdb.SetNX(ctx, c.leaseKey(key), holder, ttl).Result()
	if err != nil {
		return false, unavailable("lease", err)
	}
	if ok {
		return true, nil
	}
	return c.Renew(ctx, key, holder, ttl)
}

// Renew implements ports.Leases.
func (c *Leases) Renew(ctx context.Context, key, holder string, ttl time.Duration) (bool, error) {
	n, err := renewScript.Run(ctx, c.rdb, []string{c.leaseKey(key)}, holder, ttl.Milliseconds()).Int()
	if err != nil {
		return false, unavailable("lease", err)
	}
	return n == 1, nil
}

// Release implements ports.Leases.
func (c *Leases) Release(ctx context.Context, key, holder string) error {
	if err := releaseScript.Run(ctx, c.rdb, []string{c.leaseKey(key)}, holder).Err(); err != nil {
		return unavailable("lease", err)
	}
	return nil
}
