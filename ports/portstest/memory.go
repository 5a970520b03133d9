package portstest

import (
	"context"
	"fmt"
	"sync"
	"time"

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
	var from event.ID
	if after != "" {
		a, err := event.ParseID(after)
		if err != nil {
			return nil, err
		}
		from = a
	}
	l.mu.Lock()
	defer l.mu.Unlock()
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
