package ports

import (
	"context"
	"time"

	"github.com/blastlog/blastlog/core/event"
)

// LogTail waits for new events of several runs at once: the shared reader of a
// streaming container uses it, so Redis work grows with runs watched, not viewers.
type LogTail interface {
	// Tail returns, per run, up to count events after its cursor in after (the zero
	// id: from the start), waiting up to block for the first one. No new event is not
	// an error.
	Tail(ctx context.Context, after map[string]event.ID, count int, block time.Duration) (map[string][]event.Event, error)
}
