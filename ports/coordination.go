package ports

import (
	"context"
	"time"
)

// Leases elect one holder per key across processes (one collector per run).
type Leases interface {
	// Acquire takes the lease if it is free or already held by holder (extending it).
	Acquire(ctx context.Context, key, holder string, ttl time.Duration) (bool, error)
	// Renew extends a lease holder still holds; false if it was lost.
	Renew(ctx context.Context, key, holder string, ttl time.Duration) (bool, error)
	// Release frees a lease holder holds; a lease held by another is left alone.
	Release(ctx context.Context, key, holder string) error
}

// Checkpoints keep, per run, an opaque resume state for each followed target.
type Checkpoints interface {
	// Load returns every target's state of the run, by target key (empty when none
	// was saved); ErrUnavailable when the store does not answer.
	Load(ctx context.Context, jobID string) (map[string][]byte, error)
	// Save replaces one target's state. The collector saves only after the lines the
	// state covers are stored, so a crash between the two repeats lines (which the
	// state's dedupe skips) rather than losing them.
	Save(ctx context.Context, jobID, targetKey string, state []byte) error
}

// ActiveRuns is the set of runs whose pods should be collected.
type ActiveRuns interface {
	// Touch marks the run active now.
	Touch(ctx context.Context, jobID string) error
	// Active lists active runs, oldest activity first.
	Active(ctx context.Context) ([]string, error)
	// Done removes a run whose collection is complete.
	Done(ctx context.Context, jobID string) error
	// Contains tells which of ids are active, in one round trip.
	Contains(ctx context.Context, ids []string) (map[string]bool, error)
	// Prune removes runs not touched since before, and says how many.
	Prune(ctx context.Context, before time.Time) (int, error)
}

// EndedRuns are runs whose cluster is looked at again after they ended, each with
// when its last look is due (docs/api.md §13: a cluster left running).
type EndedRuns interface {
	// Watch adds the run, its look due at due; a run already watched keeps its time.
	Watch(ctx context.Context, jobID string, due time.Time) error
	// Watched lists every watched run with its due time.
	Watched(ctx context.Context) (map[string]time.Time, error)
	// Unwatch removes the run.
	Unwatch(ctx context.Context, jobID string) error
}
