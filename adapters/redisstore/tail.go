package redisstore

import (
	"context"
	"errors"
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
// command whatever the number of runs.
func (l *EventLog) Tail(ctx context.Context, after map[string]string, count int, block time.Duration) (map[string][]event.Event, error) {
	byKey := map[string][]string{} // several run ids can share a safe key
	cursor := map[string]string{}
	for jobID, cur := range after {
		k := l.cfg.StreamKey(jobID)
		byKey[k] = append(byKey[k], jobID)
		if cur == "" {
			cur = "0-0"
		}
		if old, ok := cursor[k]; !ok || lessID(cur, old) {
			cursor[k] = cur
		}
	}
	groups := [][]string{nil}
	if _, cluster := l.rdb.(*redis.ClusterClient); cluster {
		bySlot := map[uint16][]string{}
		for k := range cursor {
			bySlot[slot(k)] = append(bySlot[slot(k)], k)
		}
		groups = groups[:0]
		for _, ks := range bySlot {
			groups = append(groups, ks)
		}
	} else {
		for k := range cursor {
			groups[0] = append(groups[0], k)
		}
	}
	out := map[string][]event.Event{}
	var (
		mu       sync.Mutex
		wg       sync.WaitGroup
		firstErr error
	)
	for _, keys := range groups {
		if len(keys) == 0 {
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			args := make([]string, 0, 2*len(keys))
			args = append(args, keys...)
			for _, k := range keys {
				args = append(args, cursor[k])
			}
			res, err := l.rdb.XRead(ctx, &redis.XReadArgs{Streams: args, Count: int64(count), Block: block}).Result()
			mu.Lock()
			defer mu.Unlock()
			if err != nil && !errors.Is(err, redis.Nil) {
				if firstErr == nil {
					firstErr = unavailable("tail", err)
				}
				return
			}
			for _, s := range res {
				for _, jobID := range byKey[s.Stream] {
					evs := decodeEntries(jobID, s.Messages)
					// A run whose cursor is ahead of the shared key's skips what it has.
					for len(evs) > 0 && !lessID(after[jobID], evs[0].ID) {
						evs = evs[1:]
					}
					if len(evs) > 0 {
						out[jobID] = evs
					}
				}
			}
		}()
	}
	wg.Wait()
	if firstErr != nil && len(out) == 0 {
		return nil, firstErr
	}
	return out, nil
}

// lessID reports a < b for stream ids; an unparsable id sorts first.
func lessID(a, b string) bool {
	x, errA := event.ParseID(a)
	y, errB := event.ParseID(b)
	if errA != nil || errB != nil {
		return errA != nil && errB == nil
	}
	return x.Compare(y) < 0
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
