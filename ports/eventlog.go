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
	Append(ctx context.Context, jobID string, events []event.Event) (ids []string, err error)
	// Read returns up to count events strictly after the id after ("" = from the
	// first held), in order, with ID set. An unknown run has no events; a malformed
	// after is event.ErrBadID.
	Read(ctx context.Context, jobID, after string, count int) ([]event.Event, error)
	// Bounds returns the first and last ids held, or "", "" when none is.
	Bounds(ctx context.Context, jobID string) (first, last string, err error)
	// ReadHeld is Read that also returns the first id the log held at the moment of
	// the read, atomically with it ("" when it held none): everything before first was
	// trimmed, so a reader knows exactly which events must come from the archive.
	ReadHeld(ctx context.Context, jobID, after string, count int) (events []event.Event, first string, err error)
	// ReadBefore returns up to count of the newest events strictly before the id
	// before, oldest first. A malformed before is event.ErrBadID.
	ReadBefore(ctx context.Context, jobID, before string, count int) ([]event.Event, error)
}
