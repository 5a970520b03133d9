package redisstore

import (
	"context"
	"errors"
	"strconv"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/blastlog/blastlog/core/job"
	"github.com/blastlog/blastlog/ports"
)

// Coordination is ports.Leases, ports.Checkpoints, ports.ActiveRuns and
// ports.EndedRuns over Redis: <prefix>lease:<id> (SET NX PX, compare-and-renew by
// script), <prefix>ckpt:<id> (hash: target -> state), <prefix>active (sorted set by
// last activity) and <prefix>ended (sorted set by due time).
type Coordination struct {
	*Leases
	rdb redis.UniversalClient
	cfg Config
	now func() time.Time
}

var (
	_ ports.Leases      = (*Coordination)(nil)
	_ ports.Checkpoints = (*Coordination)(nil)
	_ ports.ActiveRuns  = (*Coordination)(nil)
	_ ports.EndedRuns   = (*Coordination)(nil)
)

// NewCoordination returns the collector's shared state in rdb.
func NewCoordination(rdb redis.UniversalClient, cfg Config) *Coordination {
	return &Coordination{Leases: NewLeases(rdb, cfg, "lease"), rdb: rdb, cfg: cfg, now: time.Now}
}

func (c *Coordination) ckptKey(jobID string) string {
	return c.cfg.keyPrefix() + "ckpt:" + job.SafeID(jobID)
}

// Load implements ports.Checkpoints.
func (c *Coordination) Load(ctx context.Context, jobID string) (map[string][]byte, error) {
	h, err := c.rdb.HGetAll(ctx, c.ckptKey(jobID)).Result()
	if err != nil {
		return nil, unavailable("checkpoints", err)
	}
	out := make(map[string][]byte, len(h))
	for k, v := range h {
		out[k] = []byte(v)
	}
	return out, nil
}

// Save implements ports.Checkpoints. Checkpoints live as long as the run's log.
func (c *Coordination) Save(ctx context.Context, jobID, targetKey string, state []byte) error {
	_, err := c.rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
		p.HSet(ctx, c.ckptKey(jobID), targetKey, state)
		p.Expire(ctx, c.ckptKey(jobID), c.cfg.retention())
		return nil
	})
	if err != nil {
		return unavailable("checkpoints", err)
	}
	return nil
}

func (c *Coordination) activeKey() string { return c.cfg.keyPrefix() + "active" }

// Touch implements ports.ActiveRuns.
func (c *Coordination) Touch(ctx context.Context, jobID string) error {
	err := c.rdb.ZAdd(ctx, c.activeKey(), redis.Z{Score: float64(c.now().UnixMilli()), Member: jobID}).Err()
	if err != nil {
		return unavailable("active runs", err)
	}
	return nil
}

// Active implements ports.ActiveRuns.
func (c *Coordination) Active(ctx context.Context) ([]string, error) {
	ids, err := c.rdb.ZRange(ctx, c.activeKey(), 0, -1).Result()
	if err != nil {
		return nil, unavailable("active runs", err)
	}
	return ids, nil
}

// Done implements ports.ActiveRuns.
func (c *Coordination) Done(ctx context.Context, jobID string) error {
	if err := c.rdb.ZRem(ctx, c.activeKey(), jobID).Err(); err != nil {
		return unavailable("active runs", err)
	}
	return nil
}

// Contains implements ports.ActiveRuns: a pipeline of ZSCOREs (ZMSCORE needs 6.2).
func (c *Coordination) Contains(ctx context.Context, ids []string) (map[string]bool, error) {
	pipe := c.rdb.Pipeline()
	cmds := make([]*redis.FloatCmd, len(ids))
	for i, id := range ids {
		cmds[i] = pipe.ZScore(ctx, c.activeKey(), id)
	}
	if _, err := pipe.Exec(ctx); err != nil && !errors.Is(err, redis.Nil) {
		return nil, unavailable("active runs", err)
	}
	out := make(map[string]bool, len(ids))
	for i, id := range ids {
		out[id] = cmds[i].Err() == nil
	}
	return out, nil
}

// Prune implements ports.ActiveRuns.
func (c *Coordination) Prune(ctx context.Context, before time.Time) (int, error) {
	n, err := c.rdb.ZRemRangeByScore(ctx, c.activeKey(), "-inf", "("+strconv.FormatInt(before.UnixMilli(), 10)).Result()
	if err != nil {
		return 0, unavailable("active runs", err)
	}
	return int(n), nil
}

func (c *Coordination) endedKey() string { return c.cfg.keyPrefix() + "ended" }

// Watch implements ports.EndedRuns (ZADD NX: a run keeps its first due time).
func (c *Coordination) Watch(ctx context.Context, jobID string, due time.Time) error {
	err := c.rdb.ZAddNX(ctx, c.endedKey(), redis.Z{Score: float64(due.UnixMilli()), Member: jobID}).Err()
	if err != nil {
		return unavailable("ended runs", err)
	}
	return nil
}

// Watched implements ports.EndedRuns.
func (c *Coordination) Watched(ctx context.Context) (map[string]time.Time, error) {
	zs, err := c.rdb.ZRangeWithScores(ctx, c.endedKey(), 0, -1).Result()
	if err != nil {
		return nil, unavailable("ended runs", err)
	}
	out := make(map[string]time.Time, len(zs))
	for _, z := range zs {
		if id, ok := z.Member.(string); ok {
			out[id] = time.UnixMilli(int64(z.Score))
		}
	}
	return out, nil
}

// Unwatch implements ports.EndedRuns.
func (c *Coordination) Unwatch(ctx context.Context, jobID string) error {
	if err := c.rdb.ZRem(ctx, c.endedKey(), jobID).Err(); err != nil {
		return unavailable("ended runs", err)
	}
	return nil
}
