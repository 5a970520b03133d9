package redisstore

import (
	"context"
	"errors"
	"fmt"

	"github.com/redis/go-redis/v9"

	"github.com/blastlog/blastlog/core/event"
	"github.com/blastlog/blastlog/ports"
)

// field is the one stream field of an entry, as the Python producers write it.
const field = "event"

// EventLog is ports.EventLog over Redis Streams: XADD MAXLEN ~, pipelined.
type EventLog struct {
	rdb redis.UniversalClient
	cfg Config
}

var _ ports.EventLog = (*EventLog)(nil)

// NewEventLog returns the run logs stored through rdb.
func NewEventLog(rdb redis.UniversalClient, cfg Config) *EventLog {
	return &EventLog{rdb: rdb, cfg: cfg.withDefaults()}
}

// Append implements ports.EventLog with one pipelined round trip.
func (l *EventLog) Append(ctx context.Context, jobID string, events []event.Event) ([]string, error) {
	if len(events) == 0 {
		return nil, nil
	}
	for i := range events {
		if err := events[i].Validate(); err != nil {
			return nil, err
		}
	}
	key := l.cfg.StreamKey(jobID)
	buf := make([]byte, 0, 256*len(events))
	cmds := make([]*redis.StringCmd, len(events))
	_, err := l.rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
		for i := range events {
			e := events[i]
			e.ID = ""
			start := len(buf)
			buf = e.AppendJSON(buf)
			cmds[i] = p.XAdd(ctx, &redis.XAddArgs{Stream: key, MaxLen: l.cfg.MaxLen, Approx: true,
				ID: "*", Values: []any{field, buf[start:len(buf):len(buf)]}})
		}
		return nil
	})
	ids := make([]string, 0, len(events))
	for _, c := range cmds {
		if c.Err() != nil {
			break
		}
		ids = append(ids, c.Val())
	}
	if err != nil {
		return ids, unavailable("append to "+key, err)
	}
	return ids, nil
}

// Read implements ports.EventLog. Redis 6.0 has no exclusive XRANGE start, so "after"
// is turned into the next possible id.
func (l *EventLog) Read(ctx context.Context, jobID, after string, count int) ([]event.Event, error) {
	start := "-"
	if after != "" {
		id, err := event.ParseID(after)
		if err != nil {
			return nil, err
		}
		next, ok := id.Next()
		if !ok {
			return nil, nil
		}
		start = next.String()
	}
	if count <= 0 {
		return nil, nil
	}
	msgs, err := l.rdb.XRangeN(ctx, l.cfg.StreamKey(jobID), start, "+", int64(count)).Result()
	if err != nil {
		return nil, unavailable("read "+l.cfg.StreamKey(jobID), err)
	}
	return decodeEntries(jobID, msgs), nil
}

// Bounds implements ports.EventLog.
func (l *EventLog) Bounds(ctx context.Context, jobID string) (string, string, error) {
	key := l.cfg.StreamKey(jobID)
	var first, last *redis.XMessageSliceCmd
	_, err := l.rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
		first = p.XRangeN(ctx, key, "-", "+", 1)
		last = p.XRevRangeN(ctx, key, "+", "-", 1)
		return nil
	})
	if err != nil {
		return "", "", unavailable("bounds of "+key, err)
	}
	if len(first.Val()) == 0 || len(last.Val()) == 0 {
		return "", "", nil
	}
	return first.Val()[0].ID, last.Val()[0].ID, nil
}

// decodeEntries turns stream entries into events. An entry that is not an event (no
// field, bad JSON) still yields a system event with its id, so readers move past it.
func decodeEntries(jobID string, msgs []redis.XMessage) []event.Event {
	out := make([]event.Event, len(msgs))
	for i, m := range msgs {
		raw, _ := m.Values[field].(string)
		e, err := event.Decode([]byte(raw))
		if err != nil || raw == "" {
			e = event.Event{SchemaVersion: event.SchemaVersion, JobID: jobID, Source: event.SourceSystem,
				Stream: event.Stderr, Line: "(an entry of this log could not be read)"}
		}
		e.ID = m.ID
		out[i] = e
	}
	return out
}

// unavailable wraps a Redis failure as ports.ErrUnavailable, keeping the cause.
func unavailable(what string, err error) error {
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return fmt.Errorf("%s: %w", what, err)
	}
	return fmt.Errorf("%s: %w: %w", what, ports.ErrUnavailable, err)
}
