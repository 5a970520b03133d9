package portstest

import (
	"context"
	"time"

	"github.com/blastlog/blastlog/core/event"
	"github.com/blastlog/blastlog/ports"
)

var _ ports.LogTail = (*EventLog)(nil)

// Tail implements ports.LogTail by polling the in-memory log.
func (l *EventLog) Tail(ctx context.Context, after map[string]event.ID, count int, block time.Duration) (map[string][]event.Event, error) {
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
