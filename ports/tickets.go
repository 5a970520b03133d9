package ports

import (
	"context"
	"time"

	"github.com/blastlog/blastlog/core/ticket"
)

// TicketStore keeps ticket records under the ticket's hash, for a short time, so that
// the process that redeems a ticket need not be the one that issued it.
type TicketStore interface {
	// Put stores r under hash for ttl. A hash already present is an error (never
	// overwritten).
	Put(ctx context.Context, hash string, r ticket.Record, ttl time.Duration) error
	// Take returns the record and deletes it, atomically: of concurrent takers exactly
	// one gets it. ErrNotFound when there is none (never stored, taken, or expired).
	Take(ctx context.Context, hash string) (ticket.Record, error)
	// Peek returns the record without taking it (whose ticket is it, before a limit
	// refuses it and leaves it usable). ErrNotFound as for Take.
	Peek(ctx context.Context, hash string) (ticket.Record, error)
}
