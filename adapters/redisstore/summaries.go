package redisstore

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"

	"github.com/klauspost/compress/gzip"
	"github.com/redis/go-redis/v9"

	"github.com/blastlog/blastlog/core/chunk"
	"github.com/blastlog/blastlog/core/job"
	"github.com/blastlog/blastlog/ports"
)

// Summaries keep each run's summary beside the run (docs/api.md §2):
// <prefix>summary:<safe id>, a hash of v (the version, counting writes) and index
// (the archive index's JSON without its chunk lists: counts, diagnosis, gaps, last id,
// record; gzip'd — a 5,000-batch run's is megabytes of JSON, a tenth of it gzip'd). Every run has one, with or without an archive, so a summary request is a
// read and its verdict survives the stream's trimming and the replicas' restarts.
type Summaries struct {
	rdb redis.UniversalClient
	cfg Config
}

var _ ports.IndexStore = (*Summaries)(nil)

// NewSummaries returns the runs' kept summaries in rdb.
func NewSummaries(rdb redis.UniversalClient, cfg Config) *Summaries {
	return &Summaries{rdb: rdb, cfg: cfg}
}

// SummaryKey is the key of a run's kept summary.
func (c Config) SummaryKey(jobID string) string {
	return c.keyPrefix() + "summary:" + job.SafeID(jobID)
}

// putSummary replaces the hash when its version is ARGV[1] ("" : none yet), and
// expires it after ARGV[3] ms; it returns the new version, or false on a conflict.
// One key, so it runs on a cluster as on a node.
var putSummary = redis.NewScript(`
local v = redis.call('HGET', KEYS[1], 'v')
if (v or '') ~= ARGV[1] then return false end
local nv = tostring((tonumber(v) or 0) + 1)
redis.call('HSET', KEYS[1], 'v', nv, 'index', ARGV[2])
redis.call('PEXPIRE', KEYS[1], ARGV[3])
return nv`)

// Index implements ports.IndexStore.
func (s *Summaries) Index(ctx context.Context, jobID string) (chunk.Index, string, error) {
	key := s.cfg.SummaryKey(jobID)
	vals, err := s.rdb.HMGet(ctx, key, "v", "index").Result()
	if err != nil {
		return chunk.Index{}, "", unavailable("summary "+key, err)
	}
	v, _ := vals[0].(string)
	raw, _ := vals[1].(string)
	if v == "" || raw == "" {
		return chunk.Index{}, "", fmt.Errorf("summary %s: %w", key, ports.ErrNotFound)
	}
	data, err := gunzip(raw)
	if err != nil {
		return chunk.Index{}, "", fmt.Errorf("summary %s: %w: %w", key, ports.ErrUnavailable, err)
	}
	idx, err := chunk.DecodeIndex(data)
	if err != nil {
		return chunk.Index{}, "", fmt.Errorf("summary %s: %w: %w", key, ports.ErrUnavailable, err)
	}
	return idx, v, nil
}

// PutIndex implements ports.IndexStore. The chunk lists stay in the archive's own
// index: what the summary needs is a few kilobytes whatever the run's length.
func (s *Summaries) PutIndex(ctx context.Context, idx chunk.Index, version string) (string, error) {
	key := s.cfg.SummaryKey(idx.JobID)
	kept := idx
	kept.Steps = make(map[string]*chunk.StepIndex, len(idx.Steps))
	for name, st := range idx.Steps {
		c := *st
		c.Chunks = nil
		kept.Steps[name] = &c
	}
	ttl := s.cfg.retention() + cursorGrace
	res, err := putSummary.Run(ctx, s.rdb, []string{key}, version, gzipped(kept.Encode()), strconv.FormatInt(ttl.Milliseconds(), 10)).Result()
	switch {
	case errors.Is(err, redis.Nil):
		return "", fmt.Errorf("summary %s: %w", key, ports.ErrConflict)
	case err != nil:
		return "", unavailable("summary "+key, err)
	}
	v, _ := res.(string)
	return v, nil
}

// gzipWriters are kept for reuse, a few: a writer's tables are hundreds of kilobytes,
// and every run rewrites its summary every few seconds (a new writer each time was
// most of the streaming container's garbage with 200 runs, and their collections its
// latency). A channel, not a sync.Pool: it keeps what it is given, under the race
// detector too, and as many as summaries are written at once, at most.
var gzipWriters = make(chan *gzip.Writer, 8)

// gzipped compresses at the fastest level: the summary is rewritten every few seconds.
func gzipped(data []byte) []byte {
	var b bytes.Buffer
	var w *gzip.Writer
	select {
	case w = <-gzipWriters:
		w.Reset(&b)
	default:
		w, _ = gzip.NewWriterLevel(&b, gzip.BestSpeed)
	}
	w.Write(data)
	w.Close()
	w.Reset(io.Discard) // a kept writer holds no summary
	select {
	case gzipWriters <- w:
	default:
	}
	return b.Bytes()
}

// maxSummary bounds what a kept summary may inflate to.
const maxSummary = 256 << 20

func gunzip(raw string) ([]byte, error) {
	r, err := gzip.NewReader(strings.NewReader(raw))
	if err != nil {
		return nil, err
	}
	data, err := io.ReadAll(io.LimitReader(r, maxSummary+1))
	if err == nil && len(data) > maxSummary {
		err = errors.New("larger than 256 MiB inflated")
	}
	return data, err
}
