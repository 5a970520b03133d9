package redisstore

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/blastlog/blastlog/core/job"
	"github.com/blastlog/blastlog/ports"
)

// Hash fields of a run record (docs/api.md §2).
const (
	fOwner        = "owner_oid"
	fELBJobID     = "elb_job_id"
	fStatus       = "status"
	fSubscription = "subscription_id"
	fGroup        = "resource_group"
	fCluster      = "cluster_name"
	fNamespace    = "namespace"
	fCreated      = "created_at"
	fUpdated      = "updated_at"
)

// JobDirectory is ports.JobDirectory over one Redis hash per run.
type JobDirectory struct {
	rdb redis.UniversalClient
	cfg Config
	now func() time.Time
}

var _ ports.JobDirectory = (*JobDirectory)(nil)

// NewJobDirectory returns the run records stored through rdb.
func NewJobDirectory(rdb redis.UniversalClient, cfg Config) *JobDirectory {
	return &JobDirectory{rdb: rdb, cfg: cfg, now: time.Now}
}

func (d *JobDirectory) stamp() string { return d.now().UTC().Format(time.RFC3339) }

// Register implements ports.JobDirectory.
func (d *JobDirectory) Register(ctx context.Context, r job.Record) error {
	if err := r.Validate(); err != nil {
		return err
	}
	if r.Namespace == "" {
		r.Namespace = job.DefaultNamespace
	}
	key, now := d.cfg.JobKey(r.JobID), d.stamp()
	_, err := d.rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
		p.HSet(ctx, key, fOwner, r.OwnerOID, fELBJobID, r.ELBJobID, fSubscription, r.SubscriptionID,
			fGroup, r.ResourceGroup, fCluster, r.ClusterName, fNamespace, r.Namespace, fUpdated, now)
		p.HSetNX(ctx, key, fCreated, now)
		// The owner's run list (GET /api/blast/runs): a run keeps its first score.
		p.ZAddNX(ctx, d.cfg.OwnerKey(r.OwnerOID), redis.Z{Score: float64(d.now().Unix()), Member: r.JobID})
		if r.Status != "" {
			p.HSet(ctx, key, fStatus, string(r.Status))
		} else {
			p.HSetNX(ctx, key, fStatus, string(job.Queued))
		}
		return nil
	})
	if err != nil {
		return unavailable("register "+key, err)
	}
	if r.Status != "" {
		return d.retain(ctx, r.JobID, r.Status)
	}
	return nil
}

// SetStatus implements ports.JobDirectory. The record and the stream are separate keys
// (separate hash slots on a cluster), so the retention is applied with a pipeline
// rather than one script.
func (d *JobDirectory) SetStatus(ctx context.Context, jobID string, s job.Status) error {
	if _, err := job.ParseStatus(string(s)); err != nil {
		return err
	}
	key := d.cfg.JobKey(jobID)
	n, err := d.rdb.Exists(ctx, key).Result()
	if err != nil {
		return unavailable("status of "+key, err)
	}
	if n == 0 {
		return fmt.Errorf("job %q: %w", jobID, ports.ErrNotFound)
	}
	if err := d.rdb.HSet(ctx, key, fStatus, string(s), fUpdated, d.stamp()).Err(); err != nil {
		return unavailable("status of "+key, err)
	}
	return d.retain(ctx, jobID, s)
}

// retain starts the retention period of a terminal run, or cancels it when a run is
// reopened.
func (d *JobDirectory) retain(ctx context.Context, jobID string, s job.Status) error {
	keys := []string{d.cfg.JobKey(jobID), d.cfg.StreamKey(jobID)}
	_, err := d.rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
		for _, k := range keys {
			if s.Terminal() {
				p.Expire(ctx, k, d.cfg.retention())
			} else {
				p.Persist(ctx, k)
			}
		}
		return nil
	})
	if err != nil {
		return unavailable("retention of "+keys[0], err)
	}
	return nil
}

// Get implements ports.JobDirectory.
func (d *JobDirectory) Get(ctx context.Context, jobID string) (job.Record, error) {
	key := d.cfg.JobKey(jobID)
	h, err := d.rdb.HGetAll(ctx, key).Result()
	if err != nil {
		return job.Record{}, unavailable("get "+key, err)
	}
	if len(h) == 0 {
		return job.Record{}, fmt.Errorf("job %q: %w", jobID, ports.ErrNotFound)
	}
	return recordOf(jobID, h), nil
}

// Runs implements ports.JobDirectory: the owner's sorted set, newest first, then one
// pipelined HGETALL per run. Runs whose record expired are left out.
func (d *JobDirectory) Runs(ctx context.Context, ownerOID string, limit int) ([]job.Record, error) {
	if limit <= 0 {
		return nil, nil
	}
	key := d.cfg.OwnerKey(ownerOID)
	ids, err := d.rdb.ZRevRange(ctx, key, 0, int64(limit-1)).Result()
	if err != nil {
		return nil, unavailable("runs of "+key, err)
	}
	cmds := make([]*redis.MapStringStringCmd, len(ids))
	if _, err := d.rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
		for i, id := range ids {
			cmds[i] = p.HGetAll(ctx, d.cfg.JobKey(id))
		}
		return nil
	}); err != nil {
		return nil, unavailable("runs of "+key, err)
	}
	out := make([]job.Record, 0, len(ids))
	for i, c := range cmds {
		if h := c.Val(); len(h) > 0 && h[fOwner] == ownerOID {
			out = append(out, recordOf(ids[i], h))
		}
	}
	return out, nil
}

func recordOf(jobID string, h map[string]string) job.Record {
	r := job.Record{JobID: jobID, OwnerOID: h[fOwner], ELBJobID: h[fELBJobID], Status: job.Status(h[fStatus]),
		SubscriptionID: h[fSubscription], ResourceGroup: h[fGroup], ClusterName: h[fCluster], Namespace: h[fNamespace]}
	if r.Namespace == "" {
		r.Namespace = job.DefaultNamespace
	}
	r.CreatedAt, _ = time.Parse(time.RFC3339, h[fCreated])
	r.UpdatedAt, _ = time.Parse(time.RFC3339, h[fUpdated])
	return r
}

// Statuses implements ports.StatusReader with one pipelined HGET per run.
func (d *JobDirectory) Statuses(ctx context.Context, jobIDs []string) (map[string]job.Status, error) {
	cmds := make([]*redis.StringCmd, len(jobIDs))
	_, err := d.rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
		for i, id := range jobIDs {
			cmds[i] = p.HGet(ctx, d.cfg.JobKey(id), fStatus)
		}
		return nil
	})
	if err != nil && !errors.Is(err, redis.Nil) {
		return nil, unavailable("statuses", err)
	}
	out := make(map[string]job.Status, len(jobIDs))
	for i, c := range cmds {
		if v, err := c.Result(); err == nil {
			out[jobIDs[i]] = job.Status(v)
		}
	}
	return out, nil
}
