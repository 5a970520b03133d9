package publish

import (
	"context"
	"errors"
	"time"

	"github.com/blastlog/blastlog/core/event"
	"github.com/blastlog/blastlog/ports"
)

// appender appends one publisher's events to a run's log exactly once. An append that
// failed may still have stored a prefix of its batch (a reply lost, a pipeline cut, a
// hung server that wakes up), so after a failure it first reads what the log holds of
// the publisher since the last id it knows, and skips that.
type appender struct {
	log          ports.EventLog
	jobID, pubID string
	timeout      time.Duration

	after     event.ID // the id of this publisher's last event known stored (zero: none)
	uncertain bool     // the last append failed: the log may hold more than after says
	err       error    // the last failure, nil once an append works
}

// readPage is how many entries a dedupe reads at a time.
const readPage = 1000

// storeFrom appends *events, leaving in *events what is not stored, and returns how
// many of them the log now holds (appended, or found there by the dedupe).
func (a *appender) storeFrom(ctx context.Context, events *[]event.Event) (int, error) {
	found := 0
	if a.uncertain {
		seq, id, err := storedUpTo(ctx, a.log, a.jobID, a.pubID, a.after, a.timeout)
		if err != nil {
			a.err = err
			return 0, err
		}
		if !id.IsZero() {
			a.after = id
		}
		skip := 0
		for skip < len(*events) && (*events)[skip].Seq <= seq {
			skip++
		}
		*events = (*events)[skip:]
		found = skip
		a.uncertain = false
	}
	if len(*events) == 0 {
		return found, nil
	}
	actx, cancel := context.WithTimeout(ctx, a.timeout)
	defer cancel()
	ids, err := a.log.Append(actx, a.jobID, *events)
	if len(ids) > 0 {
		a.after = ids[len(ids)-1]
	}
	*events = (*events)[len(ids):]
	a.err = err
	if err != nil && !errors.Is(err, event.ErrInvalid) {
		a.uncertain = true
	}
	return found + len(ids), err
}

// store is storeFrom for a batch the caller does not keep.
func (a *appender) store(ctx context.Context, events []event.Event) (int, error) {
	return a.storeFrom(ctx, &events)
}

// storedUpTo returns the highest Seq of publisher pubID in jobID's log after the id
// after, and that event's id (zero when there is none).
func storedUpTo(ctx context.Context, log ports.EventLog, jobID, pubID string, after event.ID, timeout time.Duration) (int64, event.ID, error) {
	var seq int64
	var id event.ID
	for {
		rctx, cancel := context.WithTimeout(ctx, timeout)
		evs, err := log.Read(rctx, jobID, after, readPage)
		cancel()
		if err != nil {
			return 0, event.ID{}, err
		}
		for _, e := range evs {
			if e.PubID == pubID && e.Seq > seq {
				seq, id = e.Seq, e.ID
			}
		}
		if len(evs) < readPage {
			return seq, id, nil
		}
		after = evs[len(evs)-1].ID
	}
}
