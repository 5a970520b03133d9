package app

import (
	"context"

	"github.com/blastlog/blastlog/core/event"
	"github.com/blastlog/blastlog/ports"
)

// Snapshot limits (CONTRACT §3).
const (
	SnapshotDefaultLimit = 500
	SnapshotMaxLimit     = 2000
)

// Gap says that events after After were trimmed before a reader got them.
type Gap struct {
	After          string `json:"after"`
	FirstAvailable string `json:"first_available"`
	Reason         string `json:"reason"`
}

// Snapshot is one page of a run's log: the polling fallback and post-completion path.
type Snapshot struct {
	JobID     string        `json:"job_id"`
	Status    string        `json:"status"`
	Events    []event.Event `json:"events"`
	NextAfter string        `json:"next_after"`
	Completed bool          `json:"completed"`
	Gap       *Gap          `json:"gap,omitempty"`
}

// Snapshots serves pages of a run's log to its owner.
type Snapshots struct {
	Tickets *Tickets // identity and ownership
	Log     ports.EventLog
}

// Get authenticates, checks ownership and reads up to limit events after after.
// completed is true once the run is terminal and the page reached the log's end.
func (s *Snapshots) Get(ctx context.Context, c ports.Credentials, jobID, after string, limit int) (Snapshot, error) {
	caller, err := s.Tickets.Identify(ctx, c)
	if err != nil {
		return Snapshot{}, err
	}
	rec, err := s.Tickets.Owned(ctx, caller, jobID)
	if err != nil {
		return Snapshot{}, err
	}
	if limit <= 0 {
		limit = SnapshotDefaultLimit
	}
	limit = min(limit, SnapshotMaxLimit)
	snap := Snapshot{JobID: jobID, Status: string(rec.Status), NextAfter: after, Events: []event.Event{}}
	if after != "" {
		a, err := event.ParseID(after)
		if err != nil {
			return Snapshot{}, err
		}
		first, _, err := s.Log.Bounds(ctx, jobID)
		if err != nil {
			return Snapshot{}, err
		}
		if f, err := event.ParseID(first); err == nil && f.Compare(a) > 0 && !isPredecessor(a, f) {
			snap.Gap = &Gap{After: after, FirstAvailable: first, Reason: "trimmed"}
		}
	}
	evs, err := s.Log.Read(ctx, jobID, after, limit)
	if err != nil {
		return Snapshot{}, err
	}
	snap.Events = append(snap.Events, evs...)
	if len(evs) > 0 {
		snap.NextAfter = evs[len(evs)-1].ID
	}
	snap.Completed = rec.Status.Terminal() && len(evs) < limit
	return snap, nil
}
