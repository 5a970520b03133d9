package redisstore

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/blastlog/blastlog/core/chunk"
	"github.com/blastlog/blastlog/core/event"
	"github.com/blastlog/blastlog/ports"
)

// ArchiveState is what the archiver keeps in and does to Redis: ports.LogKeeper (find
// the runs with a stream, trim what is archived) and ports.ArchiveCursors
// (<prefix>archive:<id>, a hash: last_id and step:<name> = "<next seq> <last id>").
type ArchiveState struct {
	rdb redis.UniversalClient
	cfg Config
}

var (
	_ ports.LogKeeper      = (*ArchiveState)(nil)
	_ ports.ArchiveCursors = (*ArchiveState)(nil)
)

// NewArchiveState returns the archiver's Redis state in rdb.
func NewArchiveState(rdb redis.UniversalClient, cfg Config) *ArchiveState {
	return &ArchiveState{rdb: rdb, cfg: cfg}
}

// maxScanned bounds one LoggedRuns answer.
const maxScanned = 200_000

// LoggedRuns implements ports.LogKeeper with SCAN ... TYPE stream over every master.
func (a *ArchiveState) LoggedRuns(ctx context.Context) ([]string, error) {
	var (
		mu  sync.Mutex
		out []string
	)
	scan := func(ctx context.Context, c redis.Cmdable) error {
		var cur uint64
		for {
			keys, next, err := c.ScanType(ctx, cur, a.cfg.streamPrefix()+"*", 1000, "stream").Result()
			if err != nil {
				return err
			}
			mu.Lock()
			for _, k := range keys {
				if len(out) < maxScanned {
					out = append(out, strings.TrimPrefix(k, a.cfg.streamPrefix()))
				}
			}
			full := len(out) >= maxScanned
			mu.Unlock()
			if cur = next; cur == 0 || full {
				return nil
			}
		}
	}
	var err error
	if cc, ok := a.rdb.(*redis.ClusterClient); ok {
		err = cc.ForEachMaster(ctx, func(ctx context.Context, c *redis.Client) error { return scan(ctx, c) })
	} else {
		err = scan(ctx, a.rdb)
	}
	if err != nil {
		return nil, unavailable("scan for run logs", err)
	}
	return out, nil
}

// trimScript drops, atomically, the oldest entries up to ARGV[1] while more than
// ARGV[2] are held: it counts them with XRANGE and trims with an exact XTRIM MAXLEN,
// which Redis 6.0 has (MINID came in 6.2). One key; at most 10,000 a call.
var trimScript = redis.NewScript(`
local len = redis.call('XLEN', KEYS[1])
local excess = len - tonumber(ARGV[2])
if excess <= 0 then return 0 end
if excess > 10000 then excess = 10000 end
local old = redis.call('XRANGE', KEYS[1], '-', ARGV[1], 'COUNT', excess)
if #old == 0 then return 0 end
redis.call('XTRIM', KEYS[1], 'MAXLEN', len - #old)
return #old`)

// trimStep is what one call of trimScript drops at most, so that no call holds Redis
// for long; TrimArchived calls it again while it drops that many.
const trimStep = 10_000

// TrimArchived implements ports.LogKeeper.
func (a *ArchiveState) TrimArchived(ctx context.Context, jobID string, upTo event.ID) (int64, error) {
	if upTo.IsZero() {
		return 0, nil
	}
	var total int64
	for {
		n, err := trimScript.Run(ctx, a.rdb, []string{a.cfg.StreamKey(jobID)}, upTo.String(), a.cfg.maxLen()).Int64()
		if err != nil && !errors.Is(err, redis.Nil) {
			return total, unavailable("trim "+a.cfg.StreamKey(jobID), err)
		}
		if total += n; n < trimStep {
			return total, nil
		}
	}
}

// tallyScript is a log's tally from XINFO STREAM, without the first and last
// entries that XINFO sends whole: {first id or "", entries held, entries added or
// -1 (Redis before 7.0)}. A log that does not exist is {"", 0, -1}.
var tallyScript = redis.NewScript(`
if redis.call('EXISTS', KEYS[1]) == 0 then return {'', 0, -1} end
local info = redis.call('XINFO', 'STREAM', KEYS[1])
local first, held, added = '', 0, -1
for i = 1, #info, 2 do
  local k, v = info[i], info[i + 1]
  if k == 'length' then held = v
  elseif k == 'entries-added' then added = v
  elseif k == 'first-entry' and v then first = v[1] end
end
return {first, held, added}`)

// Tally implements ports.LogKeeper: one script per run, pipelined (on a cluster,
// go-redis sends each node its part).
func (a *ArchiveState) Tally(ctx context.Context, jobIDs []string) ([]ports.LogTally, error) {
	if len(jobIDs) == 0 {
		return nil, nil
	}
	cmds := make([]*redis.Cmd, len(jobIDs))
	keys := make([]string, len(jobIDs))
	// EVAL, not EVALSHA: a pipeline cannot fall back when the script is not loaded.
	_, _ = a.rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
		for i, jobID := range jobIDs {
			keys[i] = a.cfg.StreamKey(jobID)
			cmds[i] = tallyScript.Eval(ctx, p, keys[i:i+1])
		}
		return nil
	})
	out := make([]ports.LogTally, len(jobIDs))
	for i, c := range cmds {
		key := keys[i]
		v, err := c.Slice()
		if err == nil && len(v) != 3 {
			err = fmt.Errorf("a reply of %d values", len(v))
		}
		if err != nil {
			return nil, unavailable("tally "+key, err)
		}
		first, _ := v[0].(string)
		held, _ := v[1].(int64)
		added, _ := v[2].(int64)
		if first != "" {
			if out[i].First, err = entryID(key, first); err != nil {
				return nil, err
			}
		}
		out[i].Held, out[i].Added, out[i].Known = held, added, added > 0
	}
	return out, nil
}

const (
	fLastID     = "last_id"
	stepField   = "step:"
	cursorGrace = 24 * time.Hour // a cursor outlives its stream's retention by this
)

// LoadCursor implements ports.ArchiveCursors.
func (a *ArchiveState) LoadCursor(ctx context.Context, jobID string) (chunk.Cursor, error) {
	key := a.cfg.ArchiveKey(jobID)
	h, err := a.rdb.HGetAll(ctx, key).Result()
	if err != nil {
		return chunk.Cursor{}, unavailable("cursor "+key, err)
	}
	c := chunk.Cursor{Steps: map[string]chunk.StepCursor{}}
	if err := c.LastID.UnmarshalText([]byte(h[fLastID])); err != nil {
		return chunk.Cursor{}, unavailable("cursor "+key, err)
	}
	for f, v := range h {
		step, ok := strings.CutPrefix(f, stepField)
		if !ok {
			continue
		}
		seq, last, _ := strings.Cut(v, " ")
		n, err := strconv.Atoi(seq)
		if err != nil {
			continue
		}
		var id event.ID
		if err := id.UnmarshalText([]byte(last)); err != nil {
			return chunk.Cursor{}, unavailable("cursor "+key, err)
		}
		c.Steps[step] = chunk.StepCursor{NextSeq: n, LastID: id}
	}
	return c, nil
}

// SaveCursor implements ports.ArchiveCursors. Fields are only ever overwritten (a
// step once seen stays), so one HSET suffices; the key expires a day after the
// stream's retention would.
func (a *ArchiveState) SaveCursor(ctx context.Context, jobID string, c chunk.Cursor) error {
	key := a.cfg.ArchiveKey(jobID)
	args := []any{fLastID, c.LastID.String()}
	for step, s := range c.Steps {
		args = append(args, stepField+step, strconv.Itoa(s.NextSeq)+" "+s.LastID.String())
	}
	_, err := a.rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
		p.HSet(ctx, key, args...)
		p.Expire(ctx, key, a.cfg.retention()+cursorGrace)
		return nil
	})
	if err != nil {
		return unavailable("cursor "+key, err)
	}
	return nil
}

// MarkArchiving tells every writer that an archiver copies the streams: while the
// mark lives (ttl), writers cap streams at hardMax instead of MaxLen, and the
// archiver trims behind what it copied.
func (a *ArchiveState) MarkArchiving(ctx context.Context, hardMax int64, ttl time.Duration) error {
	if err := a.rdb.Set(ctx, a.cfg.archivingKey(), hardMax, ttl).Err(); err != nil {
		return unavailable("archive mark", err)
	}
	return nil
}

// ArchivingMaxLen is the cap writers use while an archiver runs (MarkArchiving);
// ok is false when none does.
func ArchivingMaxLen(ctx context.Context, rdb redis.UniversalClient, cfg Config) (n int64, ok bool, err error) {
	n, err = rdb.Get(ctx, cfg.archivingKey()).Int64()
	if errors.Is(err, redis.Nil) {
		return 0, false, nil
	}
	if err != nil {
		return 0, false, unavailable("archive mark", err)
	}
	return n, n > 0, nil
}

func (c Config) archivingKey() string { return c.keyPrefix() + "archiving" }
