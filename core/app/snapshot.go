package app

import (
	"context"
	"fmt"

	"github.com/blastlog/blastlog/core/event"
	"github.com/blastlog/blastlog/core/job"
)

// Snapshot limits (docs/api.md §3).
const (
	SnapshotDefaultLimit = 500
	SnapshotMaxLimit     = 2000
)

// Snapshot is one page of a run's log: the polling fallback, the post-completion path
// and the context of a permalink.
type Snapshot struct {
	JobID      string        `json:"job_id"`
	Status     string        `json:"status"`
	Events     []event.Event `json:"events"`
	NextAfter  event.ID      `json:"next_after"`
	PrevBefore event.ID      `json:"prev_before,omitzero"`
	Completed  bool          `json:"completed"`
	Gap        *event.Gap    `json:"gap,omitempty"`
}

// SnapshotQuery says which page: After (the default), Before or Around, one of them.
type SnapshotQuery struct {
	After, Before, Around string
	Limit                 int
}

// Snapshot reads one page of an authorised run (Admit). Completed is true once the
// run is terminal and the page reached the end of the run.
func (r *Reads) Snapshot(ctx context.Context, rec job.Record, q SnapshotQuery) (Snapshot, error) {
	jobID := rec.JobID
	var err error
	limit := q.Limit
	if limit <= 0 {
		limit = SnapshotDefaultLimit
	}
	limit = min(limit, SnapshotMaxLimit)
	snap := Snapshot{JobID: jobID, Status: string(rec.Status), Events: []event.Event{}}
	switch {
	case q.Before != "" || q.Around != "":
		return r.context(ctx, snap, jobID, q, limit)
	}
	var after event.ID
	if q.After != "" {
		if after, err = event.ParseID(q.After); err != nil {
			return Snapshot{}, err
		}
	}
	snap.NextAfter = after
	p, err := r.History.Read(ctx, jobID, after, limit)
	if err != nil {
		return Snapshot{}, err
	}
	snap.Gap = p.Gap
	snap.Events = append(snap.Events, p.Events...)
	if len(p.Events) > 0 {
		snap.NextAfter = p.Events[len(p.Events)-1].ID
	} else if p.Gap != nil && !p.End {
		// Only a gap: the next page starts past it.
		snap.NextAfter, _ = p.Gap.FirstAvailable.Prev()
	}
	snap.Completed = rec.Status.Terminal() && p.End
	return snap, nil
}

// context serves before= (the limit events before it, oldest first) and around= (half
// before, the event, and what follows).
func (r *Reads) context(ctx context.Context, snap Snapshot, jobID string, q SnapshotQuery, limit int) (Snapshot, error) {
	if q.Before != "" && q.Around != "" || q.After != "" {
		return Snapshot{}, fmt.Errorf("%w: give one of after, before and around", ErrBadQuery)
	}
	at, err := event.ParseID(q.Before + q.Around)
	if err != nil {
		return Snapshot{}, err
	}
	n := limit
	if q.Around != "" {
		n = limit / 2
	}
	older, err := r.History.Before(ctx, jobID, at, n)
	if err != nil {
		return Snapshot{}, err
	}
	snap.Events = append(snap.Events, older...)
	if len(older) > 0 {
		snap.PrevBefore = older[0].ID
	}
	end := true
	if q.Around != "" {
		from, _ := at.Prev()
		p, err := r.History.Read(ctx, jobID, from, limit-len(older))
		if err != nil {
			return Snapshot{}, err
		}
		snap.Events = append(snap.Events, p.Events...)
		end = p.End
	}
	if len(snap.Events) > 0 {
		snap.NextAfter = snap.Events[len(snap.Events)-1].ID
	}
	snap.Completed = q.Around != "" && end && job.Status(snap.Status).Terminal()
	return snap, nil
}
