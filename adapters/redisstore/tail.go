package redisstore

import (
	"context"
	"errors"
	"maps"
	"math"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/blastlog/blastlog/core/event"
	"github.com/blastlog/blastlog/ports"
)

var (
	_ ports.LogTail      = (*EventLog)(nil)
	_ ports.StatusReader = (*JobDirectory)(nil)
)

// Tail implements ports.LogTail with XREAD BLOCK over all the runs' streams at once.
// A multi-key XREAD needs its keys in one hash slot on a cluster, so there the keys
// are grouped by slot and each group is read concurrently; on a single node it is one
// command whatever the number of runs, read on the caller's goroutine.
//
// A hub's readers call Tail in a loop, so what a round needs besides its result and
// Redis's reply (the keys, which runs share a key, the command's arguments) is kept in
// pooled scratch, reused from round to round.
func (l *EventLog) Tail(ctx context.Context, after map[string]event.ID, count int, block time.Duration) (map[string][]event.Event, error) {
	sc := tailScratches.Get().(*tailScratch)
	defer sc.put()
	for jobID, cur := range after {
		sc.add(l.streamKey(sc, jobID), jobID, cur)
	}
	out := map[string][]event.Event{}
	if len(sc.keys) == 0 {
		return out, nil
	}
	if c, ok := l.rdb.(*redis.Client); ok && block > 0 && block <= readTimeout(c)/2 {
		// The command is built from arguments boxed in earlier rounds. (go-redis's XRead
		// boxes every key and cursor anew: ≈40 % of a busy hub's allocations.) Its read
		// deadline is the client's, which is why the block must be well within it.
		cmd := redis.NewXStreamSliceCmd(ctx, sc.command(count, block)...)
		_ = l.rdb.Process(ctx, cmd)
		if err := sc.collect(cmd, after, out); err != nil {
			return nil, err
		}
		return out, nil
	}
	groups := [][]string{sc.keys}
	if _, cluster := l.rdb.(*redis.ClusterClient); cluster {
		bySlot := map[uint16][]string{}
		for _, k := range sc.keys {
			bySlot[slot(k)] = append(bySlot[slot(k)], k)
		}
		groups = slices.Collect(maps.Values(bySlot))
	}
	if len(groups) == 1 {
		if err := sc.collect(l.xread(ctx, sc, groups[0], count, block), after, out); err != nil {
			return nil, err
		}
		return out, nil
	}
	var (
		mu       sync.Mutex
		wg       sync.WaitGroup
		firstErr error
	)
	for _, keys := range groups {
		wg.Go(func() {
			part := map[string][]event.Event{}
			err := sc.collect(l.xread(ctx, sc, keys, count, block), after, part)
			mu.Lock()
			defer mu.Unlock()
			if err != nil && firstErr == nil {
				firstErr = err
			}
			maps.Copy(out, part)
		})
	}
	wg.Wait()
	if firstErr != nil && len(out) == 0 {
		return nil, firstErr
	}
	return out, nil
}

// readTimeout is how long c waits for a reply (go-redis: 0 is 3 s, negative is no limit).
func readTimeout(c *redis.Client) time.Duration {
	switch rt := c.Options().ReadTimeout; {
	case rt == 0:
		return 3 * time.Second
	case rt < 0:
		return math.MaxInt64
	default:
		return rt
	}
}

// xread is go-redis's XREAD of keys (all in one slot on a cluster), whose read
// deadline follows the block.
func (l *EventLog) xread(ctx context.Context, sc *tailScratch, keys []string, count int, block time.Duration) *redis.XStreamSliceCmd {
	args := make([]string, 0, 2*len(keys))
	args = append(args, keys...)
	for _, k := range keys {
		args = append(args, sc.cursor[k].String())
	}
	return l.rdb.XRead(ctx, &redis.XReadArgs{Streams: args, Count: int64(count), Block: block})
}

// collect adds cmd's events to out per run. sc is only read.
func (sc *tailScratch) collect(cmd *redis.XStreamSliceCmd, after map[string]event.ID, out map[string][]event.Event) error {
	res, err := cmd.Result()
	if err != nil && !errors.Is(err, redis.Nil) {
		return unavailable("tail", err)
	}
	for _, s := range res {
		jobs := sc.jobs[s.Stream]
		for _, jobID := range jobs {
			evs, err := decodeEntries(s.Stream, jobID, s.Messages)
			if err != nil {
				return err
			}
			if len(jobs) > 1 { // a run whose cursor is ahead of the shared key's skips what it has
				for len(evs) > 0 && after[jobID].Compare(evs[0].ID) >= 0 {
					evs = evs[1:]
				}
			}
			if len(evs) > 0 {
				out[jobID] = evs
			}
		}
	}
	return nil
}

// streamKey is l's StreamKey of jobID, remembered in sc from earlier rounds.
func (l *EventLog) streamKey(sc *tailScratch, jobID string) string {
	if k, ok := sc.keyOf[jobID]; ok {
		return k
	}
	if len(sc.keyOf) >= maxRememberedKeys {
		clear(sc.keyOf)
	}
	k := l.cfg.StreamKey(jobID)
	sc.keyOf[jobID] = k
	return k
}

// maxRememberedKeys bounds a scratch's memory of runs seen by the readers that used it
// (their keys, and each key's slice of runs).
const maxRememberedKeys = 4096

// tailScratch is one Tail call's working set: the keys to read, each key's cursor (the
// lowest of the runs sharing it) and its runs (several run ids can share a safe key).
type tailScratch struct {
	keys   []string
	cursor map[string]event.ID
	jobs   map[string][]string
	keyOf  map[string]string // run id → stream key, kept between calls

	// A single node's command: its arguments, and the keys and cursors already boxed
	// (kept between calls; a cursor's box until it moves).
	args        []any
	boxedKey    map[string]any
	boxedCursor map[string]boxedID
}

type boxedID struct {
	id  event.ID
	box any // the id's text
}

var tailScratches = sync.Pool{New: func() any {
	return &tailScratch{cursor: map[string]event.ID{}, jobs: map[string][]string{}, keyOf: map[string]string{},
		boxedKey: map[string]any{}, boxedCursor: map[string]boxedID{}}
}}

// command is XREAD COUNT count BLOCK block STREAMS keys... cursors... in sc.args.
func (sc *tailScratch) command(count int, block time.Duration) []any {
	sc.args = append(sc.args[:0], "xread", "count", int64(count), "block", block.Milliseconds(), "streams")
	for _, k := range sc.keys {
		b, ok := sc.boxedKey[k]
		if !ok {
			b = k
			sc.boxedKey[k] = b
		}
		sc.args = append(sc.args, b)
	}
	for _, k := range sc.keys {
		c := sc.boxedCursor[k]
		if c.box == nil || c.id != sc.cursor[k] {
			c = boxedID{id: sc.cursor[k], box: sc.cursor[k].String()}
			sc.boxedCursor[k] = c
		}
		sc.args = append(sc.args, c.box)
	}
	return sc.args
}

func (sc *tailScratch) add(key, jobID string, cur event.ID) {
	old, seen := sc.cursor[key]
	if !seen {
		sc.keys = append(sc.keys, key)
		sc.cursor[key] = cur
		sc.jobs[key] = append(sc.jobs[key][:0], jobID)
		return
	}
	if cur.Compare(old) < 0 {
		sc.cursor[key] = cur
	}
	sc.jobs[key] = append(sc.jobs[key], jobID)
}

// put empties sc for its next call (keeping what it allocated) and pools it.
func (sc *tailScratch) put() {
	clear(sc.keys)
	sc.keys = sc.keys[:0]
	clear(sc.args)
	clear(sc.cursor)
	if len(sc.jobs) > maxRememberedKeys {
		clear(sc.jobs)
	}
	if len(sc.boxedKey) > maxRememberedKeys {
		clear(sc.boxedKey)
		clear(sc.boxedCursor)
	}
	tailScratches.Put(sc)
}

// slot is the Redis Cluster hash slot of a key (CRC16/XMODEM of the key or of its
// {hash tag}, modulo 16384).
func slot(key string) uint16 {
	if s := strings.IndexByte(key, '{'); s >= 0 {
		if e := strings.IndexByte(key[s+1:], '}'); e > 0 {
			key = key[s+1 : s+1+e]
		}
	}
	var crc uint16
	for i := 0; i < len(key); i++ {
		crc ^= uint16(key[i]) << 8
		for b := 0; b < 8; b++ {
			if crc&0x8000 != 0 {
				crc = crc<<1 ^ 0x1021
			} else {
				crc <<= 1
			}
		}
	}
	return crc % 16384
}
