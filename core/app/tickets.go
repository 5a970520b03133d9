package app

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/blastlog/blastlog/core/ticket"
	"github.com/blastlog/blastlog/ports"
)

// Tickets issues and redeems stream tickets.
type Tickets struct {
	Access  *Access // who asks, and whether the run is theirs (Issue)
	Store   ports.TicketStore
	Limiter ports.RateLimiter

	TTL       time.Duration // default ticket.DefaultTTL
	PerMinute int           // tickets per owner per minute: default 30
	Now       func() time.Time
}

// Issued is a ticket handed to its caller (and never stored).
type Issued struct {
	Ticket    string
	JobID     string
	TTL       time.Duration
	ExpiresAt time.Time
}

func (t *Tickets) now() time.Time {
	if t.Now != nil {
		return t.Now()
	}
	return time.Now()
}

func (t *Tickets) ttl() time.Duration { return cmp.Or(t.TTL, ticket.DefaultTTL) }

// Issue runs identity -> job record -> owner check -> per-owner rate limit -> store.
// Errors: ports.ErrUnauthenticated, event.ErrInvalid (job id), ports.ErrNotFound,
// *LimitedError (What "tickets"), ports.ErrUnavailable.
func (t *Tickets) Issue(ctx context.Context, c ports.Credentials, jobID string) (Issued, error) {
	caller, _, err := t.Access.Authorize(ctx, c, jobID)
	if err != nil {
		return Issued{}, err
	}
	limit := t.PerMinute
	if limit <= 0 {
		limit = 30
	}
	ok, retry, err := t.Limiter.Allow(ctx, "tickets:"+caller.OID, limit, time.Minute)
	if err != nil {
		return Issued{}, err
	}
	if !ok {
		return Issued{}, &LimitedError{What: "tickets", RetryAfter: retry}
	}
	tk, hash, err := ticket.Mint()
	if err != nil {
		return Issued{}, fmt.Errorf("minting a ticket: %w: %w", ports.ErrUnavailable, err)
	}
	rec, err := ticket.New(jobID, caller.OID, caller.TenantID, t.now(), t.ttl())
	if err != nil {
		return Issued{}, err
	}
	if err := t.Store.Put(ctx, hash, rec, t.ttl()); err != nil {
		return Issued{}, err
	}
	return Issued{Ticket: tk, JobID: jobID, TTL: t.ttl(), ExpiresAt: rec.ExpiresAt}, nil
}

// Redeem consumes a ticket for jobID. Every ticket that does not open the stream
// (malformed, unknown, used, expired, for another job) is ticket.ErrRejected, and a
// stored one is consumed whatever the outcome. ports.ErrUnavailable passes through.
func (t *Tickets) Redeem(ctx context.Context, tk, jobID string) (ticket.Record, error) {
	return t.find(ctx, tk, jobID, t.Store.Take)
}

// Peek says whose ticket tk is, without consuming it; it fails as Redeem would but
// leaves the ticket usable (a limit can refuse the stream before it is redeemed).
func (t *Tickets) Peek(ctx context.Context, tk, jobID string) (ticket.Record, error) {
	return t.find(ctx, tk, jobID, t.Store.Peek)
}

func (t *Tickets) find(ctx context.Context, tk, jobID string, get func(context.Context, string) (ticket.Record, error)) (ticket.Record, error) {
	if !ticket.WellFormed(tk) {
		return ticket.Record{}, ticket.ErrRejected
	}
	rec, err := get(ctx, ticket.Hash(tk))
	if errors.Is(err, ports.ErrNotFound) {
		return ticket.Record{}, ticket.ErrRejected
	}
	if err != nil {
		return ticket.Record{}, err
	}
	if err := ticket.Check(rec, jobID, t.now()); err != nil {
		return ticket.Record{}, err
	}
	return rec, nil
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
