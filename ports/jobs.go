package ports

import (
	"context"

	"github.com/blastlog/blastlog/core/job"
)

// JobDirectory knows each run's owner, cluster coordinates and status.
type JobDirectory interface {
	// Register creates the record or updates it; CreatedAt of an existing record is
	// kept, an empty Status keeps the old one (queued for a new record), an empty
	// Namespace means job.DefaultNamespace.
	Register(ctx context.Context, r job.Record) error
	// SetStatus changes the status; ErrNotFound if the run was never registered.
	// A terminal status starts the retention period of the run's record and log.
	SetStatus(ctx context.Context, jobID string, s job.Status) error
	// Get returns the record, or ErrNotFound.
	Get(ctx context.Context, jobID string) (job.Record, error)
	// Runs returns up to limit of the owner's runs, newest first (by CreatedAt).
	Runs(ctx context.Context, ownerOID string, limit int) ([]job.Record, error)
}

// StatusReader reads the status of many runs in one round trip.
type StatusReader interface {
	// Statuses returns the status of each run that is registered; others are absent.
	Statuses(ctx context.Context, jobIDs []string) (map[string]job.Status, error)
}
