package app

import (
	"context"
	"time"

	"github.com/blastlog/blastlog/ports"
)

// DefaultActiveTTL is how long a run nobody touches stays in the active set
// (BLASTLOG_ACTIVE_TTL).
const DefaultActiveTTL = 24 * time.Hour

// pruneEvery is how often the active set is pruned.
const pruneEvery = 5 * time.Minute

// Viewing decides what opening a run starts besides its stream, and keeps the set of
// runs being collected tidy.
type Viewing struct {
	Statuses ports.StatusReader
	// Active is the set of runs whose pods are collected (publishers add theirs).
	Active ports.ActiveRuns
	// Collecting: this replica collects pods, so an opened run joins Active.
	Collecting bool
	// Archiver follows an opened run into the archive; nil without an archive.
	Archiver interface{ Watch(jobID string) }
	// ActiveTTL: runs idle this long leave the active set (0: DefaultActiveTTL).
	ActiveTTL time.Duration
}

// Opened is told that a viewer opened jobID's stream. A run that is not over is
// collected even if no publisher marked it active (an old terminal run is not
// collected again by being opened), and the archiver follows it.
func (v *Viewing) Opened(ctx context.Context, jobID string) {
	if v.Collecting {
		s, err := v.Statuses.Statuses(ctx, []string{jobID})
		if err == nil && !s[jobID].Terminal() {
			v.Active.Touch(ctx, jobID)
		}
	}
	if v.Archiver != nil {
		v.Archiver.Watch(jobID)
	}
}

// PruneIdle removes runs idle for ActiveTTL from the active set every few minutes
// until ctx ends, so that runs nobody finished (a crashed task worker) do not stay
// in it for ever.
func (v *Viewing) PruneIdle(ctx context.Context) {
	ttl := v.ActiveTTL
	if ttl <= 0 {
		ttl = DefaultActiveTTL
	}
	t := time.NewTicker(pruneEvery)
	defer t.Stop()
	for {
		v.Active.Prune(ctx, time.Now().Add(-ttl))
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}
