package ports

import (
	"context"
	"time"

	"github.com/blastlog/blastlog/core/event"
	"github.com/blastlog/blastlog/core/job"
)

// LogTail waits for new events of several runs at once: the shared reader of a
// streaming container uses it, so Redis work grows with runs watched, not viewers.
type LogTail interface {
	// Tail returns, per run, up to count events after its cursor in after ("0-0": from
	// the start), waiting up to block for the first one. No new event is not an error.
	Tail(ctx context.Context, after map[string]string, count int, block time.Duration) (map[string][]event.Event, error)
}

// StatusReader reads the status of many runs in one round trip.
type StatusReader interface {
	// Statuses returns the status of each run that is registered; others are absent.
	Statuses(ctx context.Context, jobIDs []string) (map[string]job.Status, error)
}
