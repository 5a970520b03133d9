package main

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/blastlog/blastlog/adapters/redisstore"
	"github.com/blastlog/blastlog/adapters/redisstore/redistest"
	"github.com/blastlog/blastlog/adapters/spool"
	"github.com/blastlog/blastlog/core/app/publish"
	"github.com/blastlog/blastlog/core/event"
)

const benchLines = 1_000_000

func benchInput() []byte {
	var buf bytes.Buffer
	for i := 0; i < benchLines; i++ {
		fmt.Fprintf(&buf, "2026-06-01T02:03:05.234567Z INFO: batch %07d of blastn against core_nt shard 07 submitted\n", i)
	}
	return buf.Bytes()
}

// BenchmarkLinesCLI feeds 1,000,000 lines to `blastlog-publish lines` against a local
// redis-server (node) or a local 3-master Redis Cluster (cluster) and reports lines/s
// and peak RSS. Run with -benchtime=1x.
func BenchmarkLinesCLI(b *testing.B) {
	b.Run("node", func(b *testing.B) {
		srv := redistest.Start(b)
		srv.RequireReal(b)
		rdb := srv.Client(b)
		linesCLI(b, srv.URL(), rdb, func() { rdb.FlushAll(context.Background()) })
	})
	b.Run("cluster", func(b *testing.B) {
		c := redistest.StartCluster(b)
		linesCLI(b, c.URL(), c.Client(b), func() { c.FlushAll(b) })
	})
}

func linesCLI(b *testing.B, url string, rdb redis.UniversalClient, flush func()) {
	input := benchInput()
	for b.Loop() {
		flush()
		cmd := exec.Command(binary, "lines", "--job", "bench", "--phase", "running")
		cmd.Env = append(os.Environ(), "BLASTLOG_REDIS_URL="+url, "BLASTLOG_STREAM_MAXLEN=2000000", "BLASTLOG_SPOOL_DIR="+b.TempDir())
		cmd.Stdin = bytes.NewReader(input)
		var out bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &out
		start := time.Now()
		if err := cmd.Start(); err != nil {
			b.Fatal(err)
		}
		hwm := watchPeakRSS(cmd.Process.Pid)
		if err := cmd.Wait(); err != nil {
			b.Fatalf("%v %s", err, out.Bytes())
		}
		b.ReportMetric(float64(benchLines)/time.Since(start).Seconds(), "lines/s")
		b.ReportMetric(float64(hwm())/1024, "peakRSS-MiB")
		if n := rdb.XLen(context.Background(), "joblogs:bench").Val(); n != benchLines {
			b.Fatalf("stored %d", n)
		}
	}
}

// BenchmarkRawXADD is the floor BenchmarkLinesCLI is compared with: the same entries,
// already encoded, pipelined 256 at a time with MAXLEN ~, from one client.
func BenchmarkRawXADD(b *testing.B) {
	srv := redistest.Start(b)
	srv.RequireReal(b)
	rdb := srv.Client(b)
	ctx := context.Background()
	payload := event.Event{SchemaVersion: 1, JobID: "bench", Source: event.SourceTerminal, Phase: "running", Stream: event.Stdout,
		Line: "2026-06-01T02:03:05.234567Z INFO: batch 0000001 of blastn against core_nt shard 07 submitted", TS: time.Now()}
	raw := payload.AppendJSON(nil)
	for b.Loop() {
		rdb.FlushAll(ctx)
		start := time.Now()
		for i := 0; i < benchLines; i += 256 {
			_, err := rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
				for k := 0; k < 256 && i+k < benchLines; k++ {
					p.XAdd(ctx, &redis.XAddArgs{Stream: "joblogs:raw", MaxLen: 2_000_000, Approx: true, Values: []any{"event", raw}})
				}
				return nil
			})
			if err != nil {
				b.Fatal(err)
			}
		}
		b.ReportMetric(float64(benchLines)/time.Since(start).Seconds(), "lines/s")
	}
}

// BenchmarkPublisherSpoolForced is the publisher with every batch beyond the first
// going through the spool (a memory queue of one line, no waiting): 1,000,000 lines
// written, synced, read back and appended to a local redis-server. lines/s is from the
// first write to the last line stored.
func BenchmarkPublisherSpoolForced(b *testing.B) {
	srv := redistest.Start(b)
	srv.RequireReal(b)
	input := benchInput()
	rdb := srv.Client(b)
	log := redisstore.NewEventLog(rdb, redisstore.Config{MaxLen: 2_000_000})
	for b.Loop() {
		rdb.FlushAll(context.Background())
		dir := &spool.Dir{Path: b.TempDir()}
		sp, err := dir.Create(publish.NewPubID())
		if err != nil {
			b.Fatal(err)
		}
		spooled := 0
		p, _ := publish.New(log, sp, publish.Config{JobID: "bench", Phase: "running", QueueLines: 1,
			OnSpool: func(error) { spooled++ }})
		w := p.Writer(event.Stdout)
		start := time.Now()
		for off := 0; off < len(input); off += 32 << 10 { // as a pipe delivers it
			w.Write(input[off:min(len(input), off+32<<10)])
		}
		w.Close()
		st := p.Close(context.Background())
		el := time.Since(start)
		if st.Stored != benchLines || spooled != 1 {
			b.Fatalf("stats %+v, spooling said %d", st, spooled)
		}
		b.ReportMetric(float64(benchLines)/el.Seconds(), "lines/s")
	}
}
