package portstest

import (
	"context"
	"fmt"
	"sort"
	"sync"
	"time"

	"github.com/blastlog/blastlog/core/job"
	"github.com/blastlog/blastlog/ports"
)

// JobDirectory is an in-memory ports.JobDirectory.
type JobDirectory struct {
	mu   sync.Mutex
	jobs map[string]job.Record
	now  func() time.Time
}

var _ ports.JobDirectory = (*JobDirectory)(nil)

// NewJobDirectory returns an empty directory.
func NewJobDirectory() *JobDirectory {
	return &JobDirectory{jobs: map[string]job.Record{}, now: time.Now}
}

// Register implements ports.JobDirectory.
func (d *JobDirectory) Register(_ context.Context, r job.Record) error {
	if err := r.Validate(); err != nil {
		return err
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	now := d.now().UTC().Truncate(time.Second)
	old, exists := d.jobs[r.JobID]
	r.CreatedAt, r.UpdatedAt = now, now
	if exists {
		r.CreatedAt = old.CreatedAt
		if r.Status == "" {
			r.Status = old.Status
		}
	}
	if r.Status == "" {
		r.Status = job.Queued
	}
	if r.Namespace == "" {
		r.Namespace = job.DefaultNamespace
	}
	d.jobs[r.JobID] = r
	return nil
}

// SetStatus implements ports.JobDirectory.
func (d *JobDirectory) SetStatus(_ context.Context, jobID string, s job.Status) error {
	if _, err := job.ParseStatus(string(s)); err != nil {
		return err
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	r, ok := d.jobs[jobID]
	if !ok {
		return fmt.Errorf("job %q: %w", jobID, ports.ErrNotFound)
	}
	r.Status, r.UpdatedAt = s, d.now().UTC().Truncate(time.Second)
	d.jobs[jobID] = r
	return nil
}

// Get implements ports.JobDirectory.
func (d *JobDirectory) Get(_ context.Context, jobID string) (job.Record, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	r, ok := d.jobs[jobID]
	if !ok {
		return job.Record{}, fmt.Errorf("job %q: %w", jobID, ports.ErrNotFound)
	}
	return r, nil
}

// Runs implements ports.JobDirectory.
func (d *JobDirectory) Runs(_ context.Context, ownerOID string, limit int) ([]job.Record, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	var out []job.Record
	for _, r := range d.jobs {
		if r.OwnerOID == ownerOID {
			out = append(out, r)
		}
	}
	sort.Slice(out, func(i, j int) bool {
		if !out[i].CreatedAt.Equal(out[j].CreatedAt) {
			return out[i].CreatedAt.After(out[j].CreatedAt)
		}
		return out[i].JobID > out[j].JobID
	})
	return out[:min(len(out), limit)], nil
}

var _ ports.StatusReader = (*JobDirectory)(nil)

// Statuses implements ports.StatusReader.
func (d *JobDirectory) Statuses(_ context.Context, jobIDs []string) (map[string]job.Status, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	out := map[string]job.Status{}
	for _, id := range jobIDs {
		if r, ok := d.jobs[id]; ok {
			out[id] = r.Status
		}
	}
	return out, nil
}
