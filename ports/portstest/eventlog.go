package portstest

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/blastlog/blastlog/core/event"
	"github.com/blastlog/blastlog/core/job"
	"github.com/blastlog/blastlog/ports"
)

// EventLog is an in-memory ports.EventLog that trims each run to MaxLen events.
type EventLog struct {
	MaxLen int // 0: no cap
	// Archiving: appends trim nothing, only TrimArchived does (to MaxLen), as writers
	// leave it to the archiver while one runs.
	Archiving bool

	mu    sync.Mutex
	runs  map[string][]event.Event
	added map[string]int64 // entries ever appended, per run
	last  event.ID
	now   func() time.Time
}

var _ ports.EventLog = (*EventLog)(nil)

// NewEventLog returns an empty log holding at most maxLen events per run.
func NewEventLog(maxLen int) *EventLog {
	return &EventLog{MaxLen: maxLen, runs: map[string][]event.Event{}, added: map[string]int64{}, now: time.Now}
}

// Append implements ports.EventLog.
func (l *EventLog) Append(_ context.Context, jobID string, events []event.Event) ([]event.ID, error) {
	for i := range events {
		if err := events[i].Validate(); err != nil {
			return nil, err
		}
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	ids := make([]event.ID, len(events))
	for i, e := range events {
		id := event.ID{MS: uint64(l.now().UnixMilli())}
		if id.Compare(l.last) <= 0 {
			id, _ = l.last.Next()
		}
		l.last = id
		e.ID = id
		ids[i] = id
		l.runs[jobID] = append(l.runs[jobID], e)
	}
	l.added[jobID] += int64(len(events))
	if r := l.runs[jobID]; l.MaxLen > 0 && !l.Archiving && len(r) > l.MaxLen {
		l.runs[jobID] = append([]event.Event(nil), r[len(r)-l.MaxLen:]...)
	}
	return ids, nil
}

// Read implements ports.EventLog.
func (l *EventLog) Read(_ context.Context, jobID string, after event.ID, count int) ([]event.Event, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.read(jobID, after, count), nil
}

func (l *EventLog) read(jobID string, after event.ID, count int) []event.Event {
	var out []event.Event
	for _, e := range l.runs[jobID] {
		if len(out) == count {
			break
		}
		if e.ID.Compare(after) > 0 {
			out = append(out, e)
		}
	}
	return out
}

// ReadHeld implements ports.EventLog.
func (l *EventLog) ReadHeld(ctx context.Context, jobID string, after event.ID, count int) ([]event.Event, event.ID, error) {
	l.mu.Lock() // one lock for both: atomic as the port asks
	defer l.mu.Unlock()
	var first event.ID
	if r := l.runs[jobID]; len(r) > 0 {
		first = r[0].ID
	}
	return l.read(jobID, after, count), first, nil
}

// ReadBefore implements ports.EventLog.
func (l *EventLog) ReadBefore(_ context.Context, jobID string, before event.ID, count int) ([]event.Event, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	r := l.runs[jobID]
	end := 0
	for end < len(r) {
		if r[end].ID.Compare(before) >= 0 {
			break
		}
		end++
	}
	return append([]event.Event(nil), r[max(0, end-count):end]...), nil
}

// Trim drops all but the newest keep events of a run (what a producer's MAXLEN does).
func (l *EventLog) Trim(jobID string, keep int) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if r := l.runs[jobID]; len(r) > keep {
		l.runs[jobID] = append([]event.Event(nil), r[len(r)-keep:]...)
	}
}

// Bounds implements ports.EventLog.
func (l *EventLog) Bounds(_ context.Context, jobID string) (first, last event.ID, err error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	r := l.runs[jobID]
	if len(r) == 0 {
		return first, last, nil
	}
	return r[0].ID, r[len(r)-1].ID, nil
}

var _ ports.LogKeeper = (*EventLog)(nil)

// LoggedRuns implements ports.LogKeeper.
func (l *EventLog) LoggedRuns(context.Context) ([]string, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	out := make([]string, 0, len(l.runs))
	for id, r := range l.runs {
		if len(r) > 0 {
			out = append(out, job.SafeID(id))
		}
	}
	return out, nil
}

// TrimArchived implements ports.LogKeeper.
func (l *EventLog) TrimArchived(_ context.Context, jobID string, upTo event.ID) (int64, error) {
	if upTo.IsZero() {
		return 0, nil
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	r := l.runs[jobID]
	n := 0
	for l.MaxLen > 0 && len(r)-n > l.MaxLen && n < len(r) {
		if r[n].ID.Compare(upTo) > 0 {
			break
		}
		n++
	}
	l.runs[jobID] = append([]event.Event(nil), r[n:]...)
	return int64(n), nil
}

// Tally implements ports.LogKeeper.
func (l *EventLog) Tally(_ context.Context, jobIDs []string) ([]ports.LogTally, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	out := make([]ports.LogTally, len(jobIDs))
	for i, jobID := range jobIDs {
		r := l.runs[jobID]
		out[i] = ports.LogTally{Held: int64(len(r)), Added: l.added[jobID], Known: true}
		if len(r) > 0 {
			out[i].First = r[0].ID
		}
	}
	return out, nil
}

// Event returns a valid terminal event of run jobID with the given line.
func Event(jobID, line string) event.Event {
	return event.Event{SchemaVersion: event.SchemaVersion, JobID: jobID, Source: event.SourceTerminal,
		Phase: event.PhaseSubmitting, Stream: event.Stdout, Line: line,
		TS: time.Now().UTC().Truncate(time.Millisecond)}
}

func lines(evs []event.Event) []string {
	out := make([]string, len(evs))
	for i, e := range evs {
		out[i] = e.Line
	}
	return out
}

func appendN(t *testing.T, l ports.EventLog, jobID string, n int) []event.ID {
	t.Helper()
	lines := make([]string, n)
	for i := range lines {
		lines[i] = fmt.Sprintf("line %d", i)
	}
	return Append(t, l, jobID, lines...)
}

// Append appends one event per line to jobID's log (see Event) and returns their ids.
func Append(t testing.TB, l ports.EventLog, jobID string, lines ...string) []event.ID {
	t.Helper()
	evs := make([]event.Event, len(lines))
	for i, line := range lines {
		evs[i] = Event(jobID, line)
	}
	ids, err := l.Append(context.Background(), jobID, evs)
	if err != nil {
		t.Fatalf("append: %v", err)
	}
	if len(ids) != len(evs) {
		t.Fatalf("append returned %d ids for %d events", len(ids), len(evs))
	}
	return ids
}

// Texts is ids as the HTTP API writes them, for tests that compare with its answers.
func Texts(ids []event.ID) []string {
	out := make([]string, len(ids))
	for i, id := range ids {
		out[i] = id.String()
	}
	return out
}
