package ports

import (
	"errors"

	"github.com/blastlog/blastlog/core/event"
)

// ErrSpoolFull: the spool is at its cap; nothing was written.
var ErrSpoolFull = errors.New("spool full")

// SpoolBatch is a publisher's batch kept in a spool: its run, the last log id the
// publisher knew stored before it (zero when it knew none), and its events, PubID and
// Seq set, Seq increasing.
type SpoolBatch struct {
	JobID  string
	After  event.ID
	Events []event.Event
}

// Spool is one publisher's durable overflow: batches it could not store at once, kept
// on local disk in the order of their events' Seq until they are. A Spool is safe for
// concurrent use.
type Spool interface {
	// Put appends b durably (on disk and synced when it returns). A batch whose first
	// Seq is below those put before is kept ahead of them: a publisher puts its unsent
	// head last, at exit. ErrSpoolFull when the machine's spool is at its cap.
	Put(b SpoolBatch) error
	// Oldest returns the batch of lowest Seq not yet acknowledged; ok is false when
	// none is. A record torn by a crash ends its file's batches.
	Oldest() (b SpoolBatch, ok bool, err error)
	// Ack drops the batch Oldest returned last.
	Ack() error
	// Close releases the spool. Unacknowledged batches stay for Spools.Leftovers; an
	// empty spool leaves nothing behind.
	Close() error
}

// Spools is a machine's spool directory, shared by every publisher on it.
type Spools interface {
	// Create opens a new, empty spool for publisher pubID, held until Close.
	Create(pubID string) (Spool, error)
	// Leftovers returns the spools of publishers that ended with batches in them,
	// oldest first, each now held by the caller; spools still held elsewhere are
	// skipped.
	Leftovers() ([]Spool, error)
}
