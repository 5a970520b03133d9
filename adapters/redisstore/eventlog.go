package redisstore

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"sync"
	"time"
	"unsafe"

	"github.com/redis/go-redis/v9"

	"github.com/blastlog/blastlog/core/event"
	"github.com/blastlog/blastlog/ports"
)

// field is the one stream field of an entry, as the Python producers write it.
const field = "event"

// EventLog is ports.EventLog over Redis Streams: XADD MAXLEN ~, pipelined. While an
// archiver runs (its mark, MarkArchiving) every append caps streams at the archive's
// hard cap instead, so no writer trims what the archive has not copied.
type EventLog struct {
	rdb redis.UniversalClient
	cfg Config

	mu        sync.Mutex
	capAt     time.Time // when the archive mark was last read
	capMaxLen int64
	room      map[string]int64 // stream key -> appends it takes before the cap's margin
}

// markEvery is how often a writer reads the archive mark again.
const markEvery = 30 * time.Second

// maxLen is the MAXLEN of appends: the archive's hard cap while it is marked
// (archiving true), else the writers' own cap.
func (l *EventLog) maxLen(ctx context.Context) (n int64, archiving bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if time.Since(l.capAt) >= markEvery {
		// Read again at most every markEvery, also after a failure (the append that
		// follows would fail too; the old answer stands meanwhile).
		l.capAt = time.Now()
		if n, ok, err := ArchivingMaxLen(ctx, l.rdb, l.cfg); err == nil {
			l.capMaxLen = 0
			if ok {
				l.capMaxLen = max(n, l.cfg.maxLen())
			}
		}
	}
	if l.capMaxLen > 0 {
		return l.capMaxLen, true
	}
	return l.cfg.maxLen(), false
}

var _ ports.EventLog = (*EventLog)(nil)

// NewEventLog returns the run logs stored through rdb.
func NewEventLog(rdb redis.UniversalClient, cfg Config) *EventLog {
	return &EventLog{rdb: rdb, cfg: cfg}
}

// Append implements ports.EventLog with one pipelined round trip.
func (l *EventLog) Append(ctx context.Context, jobID string, events []event.Event) ([]event.ID, error) {
	if len(events) == 0 {
		return nil, nil
	}
	for i := range events {
		if err := events[i].Validate(); err != nil {
			return nil, err
		}
	}
	key := l.cfg.StreamKey(jobID)
	maxLen, archiving := l.maxLen(ctx)
	if archiving && !l.hasRoom(key, len(events)) {
		return l.appendCapped(ctx, key, maxLen, events)
	}
	buf := make([]byte, 0, 256*len(events))
	cmds := make([]*redis.StringCmd, len(events))
	var held *redis.IntCmd
	_, err := l.rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
		for i := range events {
			e := events[i]
			e.ID = event.ID{}
			start := len(buf)
			buf = e.AppendJSON(buf)
			cmds[i] = p.XAdd(ctx, &redis.XAddArgs{Stream: key, MaxLen: maxLen, Approx: true,
				ID: "*", Values: []any{field, buf[start:len(buf):len(buf)]}})
		}
		if archiving {
			held = p.XLen(ctx, key)
		}
		return nil
	})
	if held != nil {
		l.setRoom(key, maxLen, held.Val(), held.Err() == nil)
	}
	ids := make([]event.ID, 0, len(events))
	for _, c := range cmds {
		if c.Err() != nil {
			break
		}
		id, perr := entryID(key, c.Val())
		if perr != nil {
			return ids, perr
		}
		ids = append(ids, id)
	}
	if err != nil {
		return ids, unavailable("append to "+key, err)
	}
	return ids, nil
}

// ErrAtCap is wrapped (with ports.ErrUnavailable) by an append refused because the
// run's stream holds the archive's hard cap: the archive has first claim on it, so the
// writer waits and tries again (a publisher spools meanwhile) instead of trimming
// lines nobody has archived yet.
var ErrAtCap = errors.New("the run's log is at its cap until the archive catches up")

// capScript appends ARGV[3..] as entries of field ARGV[2], all or none: none when they
// would take the stream past ARGV[1] entries (then a nil reply). Each XADD still caps
// at ARGV[1] (MAXLEN ~), against writers that do not ask first. The reply is the ids,
// then the entries held.
var capScript = redis.NewScript(`
local cap = tonumber(ARGV[1])
if redis.call('XLEN', KEYS[1]) + #ARGV - 2 > cap then return false end
local ids = {}
for i = 3, #ARGV do
  ids[#ids + 1] = redis.call('XADD', KEYS[1], 'MAXLEN', '~', cap, '*', ARGV[2], ARGV[i])
end
ids[#ids + 1] = tostring(redis.call('XLEN', KEYS[1]))
return ids`)

// The script costs Redis about four times what pipelined XADDs do, so it is used
// only near the cap: a stream that held less than capMargin of the cap at its last
// append takes pipelined XADDs (with an XLEN), until its room is spent. Writers on
// other replicas cannot together pass the margin between two of one's appends.
const capMargin = 10 // a tenth of the cap

// maxRooms bounds the streams whose room is remembered.
const maxRooms = 10_000

// hasRoom: key's last append left room for n more entries before the margin, which
// this append takes.
func (l *EventLog) hasRoom(key string, n int) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.room[key] < int64(n) {
		return false
	}
	l.room[key] -= int64(n)
	return true
}

// setRoom remembers how many more entries key takes before the margin of the cap,
// from what it held after an append (forgotten when not known).
func (l *EventLog) setRoom(key string, maxLen, held int64, known bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.room == nil || len(l.room) >= maxRooms {
		l.room = map[string]int64{}
	}
	if room := maxLen - maxLen/capMargin - held; known && room > 0 {
		l.room[key] = room
		return
	}
	delete(l.room, key)
}

// appendCapped is Append while an archiver runs: one script, refused at the cap.
func (l *EventLog) appendCapped(ctx context.Context, key string, maxLen int64, events []event.Event) ([]event.ID, error) {
	args := make([]any, 0, 2+len(events))
	args = append(args, maxLen, field)
	buf := make([]byte, 0, 256*len(events))
	for i := range events {
		e := events[i]
		e.ID = event.ID{}
		start := len(buf)
		buf = e.AppendJSON(buf)
		args = append(args, buf[start:len(buf):len(buf)])
	}
	ids, err := capScript.Run(ctx, l.rdb, []string{key}, args...).StringSlice()
	switch {
	case errors.Is(err, redis.Nil):
		return nil, fmt.Errorf("append to %s: %w: %w", key, ports.ErrUnavailable, ErrAtCap)
	case err != nil:
		return nil, unavailable("append to "+key, err)
	case len(ids) != len(events)+1:
		return nil, unavailable("append to "+key, fmt.Errorf("%d replies to %d entries", len(ids), len(events)))
	}
	held, err := strconv.ParseInt(ids[len(ids)-1], 10, 64)
	l.setRoom(key, maxLen, held, err == nil)
	out := make([]event.ID, len(events))
	for i := range out {
		if out[i], err = entryID(key, ids[i]); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// Read implements ports.EventLog. Redis 6.0 has no exclusive XRANGE start, so "after"
// is turned into the next possible id.
func (l *EventLog) Read(ctx context.Context, jobID string, after event.ID, count int) ([]event.Event, error) {
	start, ok := startAfter(after)
	if !ok || count <= 0 {
		return nil, nil
	}
	key := l.cfg.StreamKey(jobID)
	msgs, err := l.rdb.XRangeN(ctx, key, start, "+", int64(count)).Result()
	if err != nil {
		return nil, unavailable("read "+key, err)
	}
	return decodeEntries(key, jobID, msgs)
}

// ReadHeld implements ports.EventLog with MULTI: the range and the first entry are
// read at one moment (one key, so one slot on a cluster).
func (l *EventLog) ReadHeld(ctx context.Context, jobID string, after event.ID, count int) ([]event.Event, event.ID, error) {
	start, ok := startAfter(after)
	if !ok || count <= 0 {
		return nil, event.ID{}, nil
	}
	key := l.cfg.StreamKey(jobID)
	var rng, first *redis.XMessageSliceCmd
	_, err := l.rdb.TxPipelined(ctx, func(p redis.Pipeliner) error {
		rng = p.XRangeN(ctx, key, start, "+", int64(count))
		first = p.XRangeN(ctx, key, "-", "+", 1)
		return nil
	})
	if err != nil {
		return nil, event.ID{}, unavailable("read "+key, err)
	}
	var f event.ID
	if v := first.Val(); len(v) > 0 {
		if f, err = entryID(key, v[0].ID); err != nil {
			return nil, event.ID{}, err
		}
	}
	evs, err := decodeEntries(key, jobID, rng.Val())
	return evs, f, err
}

// ReadBefore implements ports.EventLog with XREVRANGE from the id before before.
func (l *EventLog) ReadBefore(ctx context.Context, jobID string, before event.ID, count int) ([]event.Event, error) {
	prev, ok := before.Prev()
	if !ok || count <= 0 {
		return nil, nil
	}
	key := l.cfg.StreamKey(jobID)
	msgs, err := l.rdb.XRevRangeN(ctx, key, prev.String(), "-", int64(count)).Result()
	if err != nil {
		return nil, unavailable("read "+key, err)
	}
	slices.Reverse(msgs)
	return decodeEntries(key, jobID, msgs)
}

// startAfter is the XRANGE start for "strictly after after" (Redis 6.0 has no
// exclusive ranges); ok is false when nothing can follow.
func startAfter(after event.ID) (string, bool) {
	if after.IsZero() {
		return "-", true
	}
	next, ok := after.Next()
	return next.String(), ok
}

// entryID parses an id Redis answered for key: one that is not an id is a store that
// does not answer properly.
func entryID(key, s string) (event.ID, error) {
	id, err := event.ParseID(s)
	if err != nil {
		return event.ID{}, unavailable("read "+key, fmt.Errorf("entry id %q: %w", s, err))
	}
	return id, nil
}

// Bounds implements ports.EventLog.
func (l *EventLog) Bounds(ctx context.Context, jobID string) (first, last event.ID, err error) {
	key := l.cfg.StreamKey(jobID)
	var head, tail *redis.XMessageSliceCmd
	_, err = l.rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
		head = p.XRangeN(ctx, key, "-", "+", 1)
		tail = p.XRevRangeN(ctx, key, "+", "-", 1)
		return nil
	})
	if err != nil {
		return first, last, unavailable("bounds of "+key, err)
	}
	if len(head.Val()) == 0 || len(tail.Val()) == 0 {
		return first, last, nil
	}
	if first, err = entryID(key, head.Val()[0].ID); err != nil {
		return first, last, err
	}
	last, err = entryID(key, tail.Val()[0].ID)
	return first, last, err
}

// decodeEntries turns the entries of key into events. An entry that is not an event
// (no field, bad JSON) still yields a system event with its id, so readers move past
// it; an entry id that is not one is an error.
func decodeEntries(key, jobID string, msgs []redis.XMessage) ([]event.Event, error) {
	out := make([]event.Event, len(msgs))
	size := 0
	for _, m := range msgs {
		raw, _ := m.Values[field].(string)
		size += len(raw)
	}
	var strs event.Strings // every entry's strings in one buffer
	strs.Grow(size)
	for i, m := range msgs {
		raw, _ := m.Values[field].(string)
		b := unsafe.Slice(unsafe.StringData(raw), len(raw)) // only read
		e, ok := event.DecodeOwnIn(b, &strs)
		var err error
		if !ok { // another producer's shape
			e, err = event.Decode(b)
		}
		if err != nil || raw == "" {
			e = event.System(jobID, "", "", "(an entry of this log could not be read)", time.Time{})
		}
		if e.ID, err = entryID(key, m.ID); err != nil {
			return nil, err
		}
		out[i] = e
	}
	return out, nil
}

// unavailable wraps a Redis failure as ports.ErrUnavailable, keeping the cause.
func unavailable(what string, err error) error {
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return fmt.Errorf("%s: %w", what, err)
	}
	return fmt.Errorf("%s: %w: %w", what, ports.ErrUnavailable, err)
}
