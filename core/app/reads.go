package app

import (
	"context"
	"errors"
	"time"

	"github.com/blastlog/blastlog/core/app/history"
	"github.com/blastlog/blastlog/core/job"
	"github.com/blastlog/blastlog/ports"
)

// This file holds the read use cases' entry: who may read (Authorize, Admit) and
// the run list. Each read itself is in its own file: snapshot.go, download.go,
// search.go, summary.go.

// Runs limits (docs/api.md §3).
const (
	RunsDefaultLimit = 50
	RunsMaxLimit     = 500
)

// ErrBadQuery is wrapped by the errors of a read request that cannot be answered as
// asked (bad format, phase, limit, query text).
var ErrBadQuery = errors.New("bad request")

// Reads are the use cases that read a run for its owner: snapshots, downloads,
// search, summaries and the run list, all through the one read path.
type Reads struct {
	Access  *Access // identity and ownership
	History *history.Reader
	// Index is the archive's index (summaries of runs Redis forgot); nil without an
	// archive.
	Index ports.ArchiveIndex
	// Kept are the runs' summaries kept beside them in the hot tier (every run's, with
	// or without an archive): what a summary request reads first.
	Kept ports.IndexStore
	// Limit bounds each owner's reads in progress (Admit); nil: no limit.
	Limit *OwnerLimit
	// Heavy bounds the replica's searches and downloads in progress, whoever asks
	// (AdmitHeavy); nil: no limit.
	Heavy *ServerLimit
	// SearchTime is a search's time budget (0: SearchMaxTime).
	SearchTime time.Duration
	// StuckAfter is BLASTLOG_STUCK_AFTER (0: diagnose.DefaultStuckAfter).
	StuckAfter time.Duration
	// Prices turn a summary's node-hours into dollars (BLASTLOG_PRICES; nil: node-hours only).
	Prices ports.PriceBook
	// Now is the clock of the diagnosis (nil: time.Now).
	Now func() time.Time

	marks searchMarks // where the last searches stopped, and their line counts
}

func (r *Reads) now() time.Time {
	if r.Now != nil {
		return r.Now()
	}
	return time.Now()
}

// Authorize authenticates and returns the caller's run record: ports.ErrNotFound for
// an unknown run and another owner's alike.
func (r *Reads) Authorize(ctx context.Context, c ports.Credentials, jobID string) (job.Record, error) {
	_, rec, err := r.Access.Authorize(ctx, c, jobID)
	return rec, err
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

// AdmitHeavy is Admit for a read that may scan the whole run (a search, a download):
// it also takes one of the replica's places for them, waiting its turn for a while.
func (r *Reads) AdmitHeavy(ctx context.Context, c ports.Credentials, jobID string) (rec job.Record, release func(), err error) {
	rec, owner, err := r.Admit(ctx, c, jobID)
	if err != nil {
		return job.Record{}, nil, err
	}
	server, err := r.Heavy.Acquire(ctx)
	if err != nil {
		owner()
		return job.Record{}, nil, err
	}
	return rec, func() { server(); owner() }, nil
}

// RunInfo is one entry of the run list.
type RunInfo struct {
	JobID     string    `json:"job_id"`
	Status    string    `json:"status"`
	CreatedAt time.Time `json:"created_at"`
	UpdatedAt time.Time `json:"updated_at"`
}

// Runs lists the caller's runs, newest first: the directory's, and the archive's for
// runs Redis forgot.
func (r *Reads) Runs(ctx context.Context, c ports.Credentials, limit int) ([]RunInfo, error) {
	caller, err := r.Access.Identify(ctx, c)
	if err != nil {
		return nil, err
	}
	if limit <= 0 {
		limit = RunsDefaultLimit
	}
	recs, err := r.Access.OwnerRuns(ctx, caller, min(limit, RunsMaxLimit))
	if err != nil {
		return nil, err
	}
	out := make([]RunInfo, len(recs))
	for i, rec := range recs {
		out[i] = RunInfo{JobID: rec.JobID, Status: string(rec.Status), CreatedAt: rec.CreatedAt, UpdatedAt: rec.UpdatedAt}
	}
	return out, nil
}
