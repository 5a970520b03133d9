package portstest

import (
	"context"
	"fmt"
	"sort"
	"sync"
	"time"

	"github.com/blastlog/blastlog/core/chunk"
	"github.com/blastlog/blastlog/core/event"
	"github.com/blastlog/blastlog/core/job"
	"github.com/blastlog/blastlog/ports"
)

// EventLog is an in-memory ports.EventLog that trims each run to MaxLen events.
type EventLog struct {
	MaxLen int // 0: no cap

	mu   sync.Mutex
	runs map[string][]event.Event
	last event.ID
	now  func() time.Time
}

var _ ports.EventLog = (*EventLog)(nil)

// NewEventLog returns an empty log holding at most maxLen events per run.
func NewEventLog(maxLen int) *EventLog {
	return &EventLog{MaxLen: maxLen, runs: map[string][]event.Event{}, now: time.Now}
}

// Append implements ports.EventLog.
func (l *EventLog) Append(_ context.Context, jobID string, events []event.Event) ([]string, error) {
	for i := range events {
		if err := events[i].Validate(); err != nil {
			return nil, err
		}
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	ids := make([]string, len(events))
	for i, e := range events {
		id := event.ID{MS: uint64(l.now().UnixMilli())}
		if id.Compare(l.last) <= 0 {
			id, _ = l.last.Next()
		}
		l.last = id
		e.ID = id.String()
		ids[i] = e.ID
		l.runs[jobID] = append(l.runs[jobID], e)
	}
	if r := l.runs[jobID]; l.MaxLen > 0 && len(r) > l.MaxLen {
		l.runs[jobID] = append([]event.Event(nil), r[len(r)-l.MaxLen:]...)
	}
	return ids, nil
}

// Read implements ports.EventLog.
func (l *EventLog) Read(_ context.Context, jobID, after string, count int) ([]event.Event, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.read(jobID, after, count)
}

func (l *EventLog) read(jobID, after string, count int) ([]event.Event, error) {
	var from event.ID
	if after != "" {
		a, err := event.ParseID(after)
		if err != nil {
			return nil, err
		}
		from = a
	}
	var out []event.Event
	for _, e := range l.runs[jobID] {
		if len(out) == count {
			break
		}
		id, _ := event.ParseID(e.ID)
		if after == "" || id.Compare(from) > 0 {
			out = append(out, e)
		}
	}
	return out, nil
}

// ReadHeld implements ports.EventLog.
func (l *EventLog) ReadHeld(ctx context.Context, jobID, after string, count int) ([]event.Event, string, error) {
	l.mu.Lock() // one lock for both: atomic as the port asks
	defer l.mu.Unlock()
	evs, err := l.read(jobID, after, count)
	first := ""
	if r := l.runs[jobID]; len(r) > 0 {
		first = r[0].ID
	}
	return evs, first, err
}

// ReadBefore implements ports.EventLog.
func (l *EventLog) ReadBefore(_ context.Context, jobID, before string, count int) ([]event.Event, error) {
	b, err := event.ParseID(before)
	if err != nil {
		return nil, err
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	r := l.runs[jobID]
	end := 0
	for end < len(r) {
		if id, _ := event.ParseID(r[end].ID); id.Compare(b) >= 0 {
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
func (l *EventLog) Bounds(_ context.Context, jobID string) (string, string, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	r := l.runs[jobID]
	if len(r) == 0 {
		return "", "", nil
	}
	return r[0].ID, r[len(r)-1].ID, nil
}

// JobDirectory is an in-memory ports.JobDirectory.
type JobDirectory struct {
	mu   sync.Mutex
	jobs map[string]job.Record
	now  func() time.Time
}

var _ ports.JobDirectory = (*JobDirectory)(nil)

// NewJobDirectory returns an empty directory.
func NewJobDirectory() *JobDirectory {
	return &JobDirectory{jobs: map[string]job.Record{}, now: time.Now}
}

// Register implements ports.JobDirectory.
func (d *JobDirectory) Register(_ context.Context, r job.Record) error {
	if err := r.Validate(); err != nil {
		return err
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	now := d.now().UTC().Truncate(time.Second)
	old, exists := d.jobs[r.JobID]
	r.CreatedAt, r.UpdatedAt = now, now
	if exists {
		r.CreatedAt = old.CreatedAt
		if r.Status == "" {
			r.Status = old.Status
		}
	}
	if r.Status == "" {
		r.Status = job.Queued
	}
	if r.Namespace == "" {
		r.Namespace = job.DefaultNamespace
	}
	d.jobs[r.JobID] = r
	return nil
}

// SetStatus implements ports.JobDirectory.
func (d *JobDirectory) SetStatus(_ context.Context, jobID string, s job.Status) error {
	if _, err := job.ParseStatus(string(s)); err != nil {
		return err
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	r, ok := d.jobs[jobID]
	if !ok {
		return fmt.Errorf("job %q: %w", jobID, ports.ErrNotFound)
	}
	r.Status, r.UpdatedAt = s, d.now().UTC().Truncate(time.Second)
	d.jobs[jobID] = r
	return nil
}

// Get implements ports.JobDirectory.
func (d *JobDirectory) Get(_ context.Context, jobID string) (job.Record, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	r, ok := d.jobs[jobID]
	if !ok {
		return job.Record{}, fmt.Errorf("job %q: %w", jobID, ports.ErrNotFound)
	}
	return r, nil
}

// Runs implements ports.JobDirectory.
func (d *JobDirectory) Runs(_ context.Context, ownerOID string, limit int) ([]job.Record, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	var out []job.Record
	for _, r := range d.jobs {
		if r.OwnerOID == ownerOID {
			out = append(out, r)
		}
	}
	sort.Slice(out, func(i, j int) bool {
		if !out[i].CreatedAt.Equal(out[j].CreatedAt) {
			return out[i].CreatedAt.After(out[j].CreatedAt)
		}
		return out[i].JobID > out[j].JobID
	})
	return out[:min(len(out), limit)], nil
}

// Tail implements ports.LogTail by polling the in-memory log.
func (l *EventLog) Tail(ctx context.Context, after map[string]string, count int, block time.Duration) (map[string][]event.Event, error) {
	deadline := time.Now().Add(block)
	for {
		out := map[string][]event.Event{}
		for jobID, cur := range after {
			evs, err := l.Read(ctx, jobID, cur, count)
			if err != nil {
				return nil, err
			}
			if len(evs) > 0 {
				out[jobID] = evs
			}
		}
		if len(out) > 0 || !time.Now().Before(deadline) {
			return out, nil
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(5 * time.Millisecond):
		}
	}
}

var _ ports.LogTail = (*EventLog)(nil)

// Statuses implements ports.StatusReader.
func (d *JobDirectory) Statuses(_ context.Context, jobIDs []string) (map[string]job.Status, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	out := map[string]job.Status{}
	for _, id := range jobIDs {
		if r, ok := d.jobs[id]; ok {
			out[id] = r.Status
		}
	}
	return out, nil
}

var _ ports.StatusReader = (*JobDirectory)(nil)

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
func (l *EventLog) TrimArchived(_ context.Context, jobID, upTo string, keep int64) (int64, error) {
	u, err := event.ParseID(upTo)
	if err != nil {
		return 0, nil
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	r := l.runs[jobID]
	n := 0
	for int64(len(r)-n) > keep && n < len(r) {
		if id, _ := event.ParseID(r[n].ID); id.Compare(u) > 0 {
			break
		}
		n++
	}
	l.runs[jobID] = append([]event.Event(nil), r[n:]...)
	return int64(n), nil
}

// Cursors is an in-memory ports.ArchiveCursors.
type Cursors struct {
	mu sync.Mutex
	m  map[string]chunk.Cursor
}

var _ ports.ArchiveCursors = (*Cursors)(nil)

// NewCursors returns an empty cursor store.
func NewCursors() *Cursors { return &Cursors{m: map[string]chunk.Cursor{}} }

// LoadCursor implements ports.ArchiveCursors.
func (c *Cursors) LoadCursor(_ context.Context, jobID string) (chunk.Cursor, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.m[jobID], nil
}

// SaveCursor implements ports.ArchiveCursors.
func (c *Cursors) SaveCursor(_ context.Context, jobID string, cur chunk.Cursor) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.m[jobID] = cur
	return nil
}
