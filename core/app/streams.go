package app

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/blastlog/blastlog/core/app/fanout"
	"github.com/blastlog/blastlog/core/event"
)

// A viewer's stream, as the SSE adapter writes it: the hub's types, named here so that
// an adapter needs the use cases only, never the engine (internal/arch).
type (
	Stream    = fanout.Stream
	Frame     = fanout.Frame
	FrameKind = fanout.FrameKind
)

// The frames of a stream, and how it ends.
const (
	FrameLog       = fanout.FrameLog
	FrameStatus    = fanout.FrameStatus
	FrameGap       = fanout.FrameGap
	FrameCompleted = fanout.FrameCompleted
)

var (
	ErrCompleted = fanout.ErrCompleted // the run completed and every frame was read
	ErrIdle      = fanout.ErrIdle      // nothing to send within the stream's Idle
)

// StreamRetryAfter is what an owner over their limit of open streams is told to wait:
// a place frees when a viewer leaves, which takes a tab's closing.
const StreamRetryAfter = 10 * time.Second

// NewStreamLimit is the limit of max open streams per owner (BLASTLOG_OWNER_MAX_STREAMS).
func NewStreamLimit(max int) *OwnerLimit {
	return &OwnerLimit{Max: max, What: "streams", RetryAfter: StreamRetryAfter}
}

// ErrNotOpened wraps what failed opening a stream after its ticket was redeemed (the
// ticket is spent).
var ErrNotOpened = errors.New("the stream could not be opened")

// ErrBadResume: the resume point (Last-Event-ID) is no stream id. It is refused before
// the ticket is redeemed, so the ticket stays usable.
var ErrBadResume = errors.New("the resume point is not a stream id (<ms>-<seq>)")

// Streams is the live log use case: one viewer's stream of a run, opened with a
// ticket.
type Streams struct {
	Tickets *Tickets
	// Limit bounds each owner's open streams, checked before the ticket is spent;
	// nil: no limit.
	Limit *OwnerLimit
	Hub   *fanout.Hub
	// Viewing is told of every stream opened (to collect the run); nil: nobody.
	Viewing *Viewing
}

// ParseResume reads a resume point (Last-Event-ID): the zero id for none, ErrBadResume
// for text that is no stream id. The edge parses it before a ticket is spent.
func ParseResume(s string) (event.ID, error) {
	if s == "" {
		return event.ID{}, nil
	}
	id, err := event.ParseID(s)
	if err != nil {
		return event.ID{}, ErrBadResume
	}
	return id, nil
}

// Open redeems the ticket within its owner's limit, tells Viewing and opens the run's
// stream after resume (the zero id: from the start). release gives the owner's place
// back once the stream ends. Errors: *LimitedError, ticket.ErrRejected, ErrNotOpened
// (the ticket spent), or the stores' own.
func (s *Streams) Open(ctx context.Context, tk, jobID string, resume event.ID) (st *Stream, release func(), err error) {
	if _, release, err = s.Tickets.RedeemWithin(ctx, s.Limit, tk, jobID); err != nil {
		return nil, nil, err
	}
	if s.Viewing != nil {
		s.Viewing.Opened(ctx, jobID)
	}
	if st, err = s.Hub.Open(ctx, jobID, resume); err != nil {
		release()
		return nil, nil, fmt.Errorf("%w: %w", ErrNotOpened, err)
	}
	return st, release, nil
}
