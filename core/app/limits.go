package app

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/blastlog/blastlog/core/job"
	"github.com/blastlog/blastlog/core/ticket"
	"github.com/blastlog/blastlog/ports"
)

// OwnerLimit bounds what one owner holds at once on this replica — open streams, or
// reads in progress — so that one user's tabs or scripts cannot take a replica's
// memory and connections from everyone else. Its memory is one map entry per owner
// holding anything. A nil *OwnerLimit admits everything.
type OwnerLimit struct {
	Max        int           // places per owner
	What       string        // "streams" or "requests": the error's code is too_many_<What>
	RetryAfter time.Duration // what a refused caller is told to wait

	mu   sync.Mutex
	held map[string]int
}

// LimitedError refuses a caller who holds all of their places.
type LimitedError struct {
	What       string
	RetryAfter time.Duration
}

func (e *LimitedError) Error() string {
	return fmt.Sprintf("too many %s at once for this owner; retry in %v", e.What, e.RetryAfter)
}

// Acquire takes one of owner's places; release gives it back (calling it again does
// nothing). A *LimitedError when all are held.
func (l *OwnerLimit) Acquire(owner string) (release func(), err error) {
	if l == nil {
		return func() {}, nil
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.held[owner] >= l.Max {
		return nil, &LimitedError{What: l.What, RetryAfter: l.RetryAfter}
	}
	if l.held == nil {
		l.held = map[string]int{}
	}
	l.held[owner]++
	var once sync.Once
	return func() {
		once.Do(func() {
			l.mu.Lock()
			defer l.mu.Unlock()
			if l.held[owner]--; l.held[owner] <= 0 {
				delete(l.held, owner)
			}
		})
	}, nil
}

// Held is how many places owner holds.
func (l *OwnerLimit) Held(owner string) int {
	if l == nil {
		return 0
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.held[owner]
}

// RedeemWithin redeems a ticket for jobID under its owner's stream limit, which is
// checked first: a ticket refused by the limit is not consumed and stays usable until
// it expires. release gives the place back when the stream ends.
func (t *Tickets) RedeemWithin(ctx context.Context, l *OwnerLimit, tk, jobID string) (rec ticket.Record, release func(), err error) {
	release = func() {}
	if l != nil {
		peeked, err := t.Peek(ctx, tk, jobID)
		switch {
		case err == nil:
			if release, err = l.Acquire(peeked.OwnerOID); err != nil {
				return ticket.Record{}, nil, err
			}
		case errors.Is(err, ticket.ErrRejected):
			// Refused either way; Redeem consumes it, as a refused ticket must be.
		default:
			return ticket.Record{}, nil, err
		}
	}
	rec, err = t.Redeem(ctx, tk, jobID)
	if err != nil {
		release()
		return ticket.Record{}, nil, err
	}
	return rec, release, nil
}

// Admit authorises a read of jobID (Authorize) and takes one of the owner's request
// places (Reads.Limit); release gives it back once the response is written.
func (r *Reads) Admit(ctx context.Context, c ports.Credentials, jobID string) (rec job.Record, release func(), err error) {
	if rec, err = r.Authorize(ctx, c, jobID); err != nil {
		return job.Record{}, nil, err
	}
	if release, err = r.Limit.Acquire(rec.OwnerOID); err != nil {
		return job.Record{}, nil, err
	}
	return rec, release, nil
}
