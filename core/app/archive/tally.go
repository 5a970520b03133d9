package archive

import (
	"cmp"
	"context"
	"errors"
	"sync"
	"time"

	"github.com/blastlog/blastlog/ports"
)

// A writer asks for its log's tally whenever a batch may follow a gap (noticeLoss),
// which is nearly every batch of a run whose lines come more than a millisecond
// apart: on a replica with hundreds of runs being watched, hundreds of round trips a
// second. tallies gathers them into rounds. While other runs have asked recently
// (within two windows), the first writer to ask leads a round: it waits tallyWindow
// for others to join (no viewer waits on a writer) and asks the keeper for all of
// them at once; a round holds at most maxTally runs. A writer alone asks at once, so
// that one busy run is not slowed to a round per window.
const (
	tallyWindow = 5 * time.Millisecond
	maxTally    = 256
)

// errShortTally: the keeper answered a round with fewer tallies than it was asked.
var errShortTally = errors.New("the log's tally left runs out")

// tallies is the writers' open round; its zero value is ready.
type tallies struct {
	window time.Duration // tallyWindow when zero
	max    int           // maxTally when zero

	mu     sync.Mutex
	open   *tallyRound
	recent map[string]struct{} // runs that asked since recentAt
	// recentAt starts the current span of recent asks (two windows long).
	recentAt time.Time
}

type tallyRound struct {
	ids  []string
	full chan struct{} // closed when the round holds maxTally runs
	done chan struct{} // closed when out and err are set
	out  []ports.LogTally
	err  error
}

// of is jobID's tally, asked in a round with the other writers'.
func (t *tallies) of(ctx context.Context, keeper ports.LogKeeper, jobID string) (ports.LogTally, error) {
	window := cmp.Or(t.window, tallyWindow)
	t.mu.Lock()
	if now := time.Now(); now.Sub(t.recentAt) > 2*window || t.recent == nil {
		if t.recent == nil {
			t.recent = map[string]struct{}{} // at most the runs held
		}
		clear(t.recent)
		t.recentAt = now
	}
	t.recent[jobID] = struct{}{}
	company := len(t.recent) > 1
	r := t.open
	lead := r == nil
	if lead {
		r = &tallyRound{full: make(chan struct{}), done: make(chan struct{})}
		t.open = r
	}
	i := len(r.ids)
	r.ids = append(r.ids, jobID)
	if len(r.ids) == cmp.Or(t.max, maxTally) {
		t.open = nil // the next writer to ask leads a new round
		close(r.full)
	}
	t.mu.Unlock()
	if lead {
		if company {
			wait := time.NewTimer(window)
			select {
			case <-wait.C:
			case <-r.full:
			case <-ctx.Done():
			}
			wait.Stop()
		}
		t.mu.Lock()
		if t.open == r {
			t.open = nil
		}
		t.mu.Unlock()
		// Closed to newcomers: r.ids is the round's for good.
		r.out, r.err = keeper.Tally(ctx, r.ids)
		close(r.done)
	}
	select {
	case <-r.done:
	case <-ctx.Done():
		return ports.LogTally{}, ctx.Err()
	}
	if r.err != nil {
		return ports.LogTally{}, r.err
	}
	if len(r.out) != len(r.ids) {
		return ports.LogTally{}, errShortTally
	}
	return r.out[i], nil
}
