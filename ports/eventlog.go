package ports

import (
	"context"

	"github.com/blastlog/blastlog/core/event"
)

// EventLog is the ordered, capped log of one run's events (a Redis Stream). Ids are
// the log's own, increasing within a run. Old entries may be trimmed: Bounds tells the
// first one still held so that a reader can notice it missed some.
type EventLog interface {
	// Append stores events in order and returns their ids. Events must be valid
	// (event.ErrInvalid otherwise, and nothing is stored). On any other error the
	// returned ids are those of a stored prefix.
	Append(ctx context.Context, jobID string, events []event.Event) (ids []event.ID, err error)
	// Read returns up to count events strictly after the id after (the zero id: from
	// the first held), in order, with ID set. An unknown run has no events.
	Read(ctx context.Context, jobID string, after event.ID, count int) ([]event.Event, error)
	// Bounds returns the first and last ids held, or zero ids when none is.
	Bounds(ctx context.Context, jobID string) (first, last event.ID, err error)
	// ReadHeld is Read that also returns the first id the log held at the moment of
	// the read, atomically with it (zero when it held none): everything before first
	// was trimmed, so a reader knows exactly which events must come from the archive.
	ReadHeld(ctx context.Context, jobID string, after event.ID, count int) (events []event.Event, first event.ID, err error)
	// ReadBefore returns up to count of the newest events strictly before the id
	// before, oldest first.
	ReadBefore(ctx context.Context, jobID string, before event.ID, count int) ([]event.Event, error)
}
