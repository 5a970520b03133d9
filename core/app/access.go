package app

import (
	"context"
	"errors"
	"fmt"
	"sort"

	"github.com/blastlog/blastlog/core/event"
	"github.com/blastlog/blastlog/core/job"
	"github.com/blastlog/blastlog/ports"
)

// Access says who a request's caller is and which runs are theirs: the one place
// ownership is decided, for tickets and reads alike.
type Access struct {
	Auth ports.Authenticator
	Jobs ports.JobDirectory
	// Archived, if set, holds the records of runs Redis no longer knows (the
	// archive's index): ownership is checked against them too.
	Archived ports.ArchiveIndex
}

// Identify authenticates a request's credentials: ports.ErrUnauthenticated or
// ports.ErrUnavailable.
func (a *Access) Identify(ctx context.Context, c ports.Credentials) (ports.Caller, error) {
	return a.Auth.Authenticate(ctx, c)
}

// Owned returns the run's record if caller owns it. An unknown run and another
// owner's run are the same ports.ErrNotFound: nobody learns which runs exist.
func (a *Access) Owned(ctx context.Context, caller ports.Caller, jobID string) (job.Record, error) {
	if err := event.ValidateJobID(jobID); err != nil {
		return job.Record{}, err
	}
	r, err := a.Jobs.Get(ctx, jobID)
	if errors.Is(err, ports.ErrNotFound) && a.Archived != nil {
		idx, _, aerr := a.Archived.Index(ctx, jobID)
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

// Authorize authenticates c and returns the caller's record of jobID: Identify, then
// Owned.
func (a *Access) Authorize(ctx context.Context, c ports.Credentials, jobID string) (ports.Caller, job.Record, error) {
	caller, err := a.Identify(ctx, c)
	if err != nil {
		return ports.Caller{}, job.Record{}, err
	}
	rec, err := a.Owned(ctx, caller, jobID)
	return caller, rec, err
}

// OwnerRuns lists up to limit of the caller's runs, newest first: the directory's,
// and the archive's for runs Redis forgot, each once.
func (a *Access) OwnerRuns(ctx context.Context, caller ports.Caller, limit int) ([]job.Record, error) {
	recs, err := a.Jobs.Runs(ctx, caller.OID, limit)
	if err != nil {
		return nil, err
	}
	if a.Archived != nil {
		old, err := a.Archived.OwnerRuns(ctx, caller.OID, limit)
		if err != nil {
			return nil, err
		}
		recs = append(recs, old...)
	}
	seen := map[string]bool{}
	out := recs[:0]
	for _, rec := range recs {
		if seen[rec.JobID] || rec.OwnerOID != caller.OID {
			continue
		}
		seen[rec.JobID] = true
		out = append(out, rec)
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].CreatedAt.After(out[j].CreatedAt) })
	return out[:min(len(out), limit)], nil
}
