package app

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/blastlog/blastlog/core/event"
	"github.com/blastlog/blastlog/core/job"
	"github.com/blastlog/blastlog/core/ticket"
	"github.com/blastlog/blastlog/ports"
)

// RateLimitedError says how long the caller must wait before asking again.
type RateLimitedError struct{ RetryAfter time.Duration }

func (e *RateLimitedError) Error() string {
	return fmt.Sprintf("too many tickets: retry after %v", e.RetryAfter)
}

// Tickets issues and redeems stream tickets.
type Tickets struct {
	Auth    ports.Authenticator
	Jobs    ports.JobDirectory
	Store   ports.TicketStore
	Limiter ports.RateLimiter
	// Archived, if set, holds the records of runs Redis no longer knows (the
	// archive's index): ownership is checked against them too.
	Archived ports.ArchiveIndex

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

func (t *Tickets) ttl() time.Duration {
	if t.TTL > 0 {
		return t.TTL
	}
	return ticket.DefaultTTL
}

// Identify authenticates a request's credentials.
func (t *Tickets) Identify(ctx context.Context, c ports.Credentials) (ports.Caller, error) {
	return t.Auth.Authenticate(ctx, c)
}

// Owned returns the run's record if caller owns it. An unknown run and another
// owner's run are the same ports.ErrNotFound: nobody learns which runs exist.
func (t *Tickets) Owned(ctx context.Context, caller ports.Caller, jobID string) (job.Record, error) {
	if err := event.ValidateJobID(jobID); err != nil {
		return job.Record{}, err
	}
	r, err := t.Jobs.Get(ctx, jobID)
	if errors.Is(err, ports.ErrNotFound) && t.Archived != nil {
		idx, _, aerr := t.Archived.Index(ctx, jobID)
		if aerr != nil && !errors.Is(aerr, ports.ErrNotFound) {
			return job.Record{}, aerr
		}
		if aerr == nil {
			r, err = idx.Record.Job(jobID), nil
		}
	}
	if err != nil {
		return job.Record{}, err
	}
	if caller.OID == "" || r.OwnerOID != caller.OID {
		return job.Record{}, fmt.Errorf("job %q: %w", jobID, ports.ErrNotFound)
	}
	return r, nil
}

// Issue runs identity -> job record -> owner check -> per-owner rate limit -> store.
// Errors: ports.ErrUnauthenticated, event.ErrInvalid (job id), ports.ErrNotFound,
// *RateLimitedError, ports.ErrUnavailable.
func (t *Tickets) Issue(ctx context.Context, c ports.Credentials, jobID string) (Issued, error) {
	caller, err := t.Identify(ctx, c)
	if err != nil {
		return Issued{}, err
	}
	if _, err := t.Owned(ctx, caller, jobID); err != nil {
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
		return Issued{}, &RateLimitedError{RetryAfter: retry}
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
