package redisstore_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/blastlog/blastlog/adapters/redisstore"
	"github.com/blastlog/blastlog/adapters/redisstore/redistest"
	"github.com/blastlog/blastlog/core/event"
	"github.com/blastlog/blastlog/core/job"
	"github.com/blastlog/blastlog/core/ticket"
	"github.com/blastlog/blastlog/ports"
	"github.com/blastlog/blastlog/ports/portstest"
)

// eachRedis runs f against a private single redis-server and a private 3-master
// Redis Cluster; fresh returns a client of an emptied data set.
func eachRedis(t *testing.T, f func(t *testing.T, fresh func(*testing.T) redis.UniversalClient)) {
	t.Run("node", func(t *testing.T) {
		srv := redistest.Start(t)
		f(t, func(t *testing.T) redis.UniversalClient { return fresh(t, srv) })
	})
	t.Run("cluster", func(t *testing.T) {
		c := redistest.StartCluster(t)
		cc := c.Client(t)
		f(t, func(t *testing.T) redis.UniversalClient { c.FlushAll(t); return cc })
	})
}

func fresh(t *testing.T, srv *redistest.Server) *redis.Client {
	c := srv.Client(t)
	if err := c.FlushAll(context.Background()).Err(); err != nil {
		t.Fatal(err)
	}
	return c
}

func TestEventLogConformance(t *testing.T) {
	eachRedis(t, func(t *testing.T, fresh func(*testing.T) redis.UniversalClient) {
		portstest.TestEventLog(t, func(t *testing.T, maxLen int) ports.EventLog {
			return redisstore.NewEventLog(fresh(t), redisstore.Config{MaxLen: int64(maxLen)})
		})
	})
}

func TestJobDirectoryConformance(t *testing.T) {
	eachRedis(t, func(t *testing.T, fresh func(*testing.T) redis.UniversalClient) {
		portstest.TestJobDirectory(t, func(t *testing.T) ports.JobDirectory {
			return redisstore.NewJobDirectory(fresh(t), redisstore.Config{})
		})
	})
}

// The Python producer writes: XADD joblogs:<safe id> MAXLEN ~ 5000 * event <compact JSON>.
func TestCompatibleWithPythonProducer(t *testing.T) {
	srv := redistest.Start(t)
	rdb := fresh(t, srv)
	ctx := context.Background()
	log := redisstore.NewEventLog(rdb, redisstore.Config{})

	py := `{"schema_version":1,"job_id":"job-1","source":"terminal_exec","phase":"submitting","stream":"stdout",` +
		`"pod":"","container":"","line":"[1/5] Writing configuration to \u00e9","ts":"2026-11-26T23:00:00.123456+00:00"}`
	if err := rdb.Do(ctx, "XADD", "joblogs:job-1", "MAXLEN", "~", "5000", "*", "event", py).Err(); err != nil {
		t.Fatal(err)
	}
	got, err := log.Read(ctx, "job-1", event.ID{}, 10)
	if err != nil || len(got) != 1 {
		t.Fatalf("read %v %v", got, err)
	}
	if got[0].Line != "[1/5] Writing configuration to é" || got[0].Phase != "submitting" || got[0].ID.IsZero() {
		t.Fatalf("python entry read as %+v", got[0])
	}

	// The reverse: what we write is what the Python consumer reads: one field "event",
	// compact JSON, the contract's field names, no id inside.
	e := portstest.Event("job-1", "héllo")
	if _, err := log.Append(ctx, "job-1", []event.Event{e}); err != nil {
		t.Fatal(err)
	}
	msgs, err := rdb.XRange(ctx, "joblogs:job-1", "-", "+").Result()
	if err != nil || len(msgs) != 2 {
		t.Fatalf("xrange %v %v", msgs, err)
	}
	if len(msgs[1].Values) != 1 {
		t.Fatalf("fields %v", msgs[1].Values)
	}
	raw := msgs[1].Values["event"].(string)
	var m map[string]any
	if err := json.Unmarshal([]byte(raw), &m); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"schema_version", "job_id", "source", "phase", "stream", "pod", "container", "line", "ts"} {
		if _, ok := m[k]; !ok {
			t.Errorf("field %q missing in %s", k, raw)
		}
	}
	if _, ok := m["id"]; ok || strings.Contains(raw, ": ") || strings.Contains(raw, ", ") {
		t.Errorf("not the compact stored form: %s", raw)
	}
}

func TestSafeKeys(t *testing.T) {
	for in, want := range map[string]string{"run-42": "run-42", "a b/c": "a_b_c", "": "unknown", "x\n\ny": "x_y",
		"ü": "_", strings.Repeat("a", 200): strings.Repeat("a", 160), "job:1.2_3-4": "job:1.2_3-4"} {
		if got := job.SafeID(in); got != want {
			t.Errorf("SafeID(%q) = %q want %q", in, got, want)
		}
	}
	c := redisstore.Config{StreamPrefix: "x:", KeyPrefix: "y:"}
	if c.StreamKey("a b") != "x:a_b" || c.JobKey("a b") != "y:job:a_b" {
		t.Fatal(c.StreamKey("a b"), c.JobKey("a b"))
	}
}

func TestRetentionWhenTerminal(t *testing.T) {
	srv := redistest.Start(t)
	rdb := fresh(t, srv)
	ctx := context.Background()
	cfg := redisstore.Config{Retention: time.Hour}
	dir := redisstore.NewJobDirectory(rdb, cfg)
	log := redisstore.NewEventLog(rdb, cfg)
	if err := dir.Register(ctx, job.Record{JobID: "r", OwnerOID: "o"}); err != nil {
		t.Fatal(err)
	}
	if _, err := log.Append(ctx, "r", []event.Event{portstest.Event("r", "x")}); err != nil {
		t.Fatal(err)
	}
	ttl := func(k string) time.Duration { return rdb.TTL(ctx, k).Val() }
	if ttl("joblogs:r") != -1 || ttl("blastlog:job:r") != -1 {
		t.Fatal("a running job has a TTL")
	}
	if err := dir.SetStatus(ctx, "r", job.Completed); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"joblogs:r", "blastlog:job:r"} {
		if d := ttl(k); d < 59*time.Minute || d > time.Hour {
			t.Fatalf("TTL of %s = %v", k, d)
		}
	}
	if err := dir.SetStatus(ctx, "r", job.Running); err != nil {
		t.Fatal(err)
	}
	if ttl("joblogs:r") != -1 {
		t.Fatal("reopened run kept its TTL")
	}
	if h := rdb.HGetAll(ctx, "blastlog:job:r").Val(); h["status"] != "running" || h["owner_oid"] != "o" || h["namespace"] != "default" {
		t.Fatalf("hash %v", h)
	}
}

func TestUnreachableIsUnavailable(t *testing.T) {
	srv := redistest.Start(t)
	opts, _, err := redisstore.ParseURL(srv.URL())
	if err != nil {
		t.Fatal(err)
	}
	srv.Stop()
	rdb := redis.NewClient(opts)
	defer rdb.Close()
	ctx := context.Background()
	_, err = redisstore.NewEventLog(rdb, redisstore.Config{}).Append(ctx, "j", []event.Event{portstest.Event("j", "x")})
	if !errors.Is(err, ports.ErrUnavailable) {
		t.Fatalf("append: %v", err)
	}
	if _, err := redisstore.NewJobDirectory(rdb, redisstore.Config{}).Get(ctx, "j"); !errors.Is(err, ports.ErrUnavailable) {
		t.Fatalf("get: %v", err)
	}
}

func TestParseURL(t *testing.T) {
	opts, cl, err := redisstore.ParseURL("rediss://:s3cret@cache.redis.cache.windows.net:6380/2?ssl_cert_reqs=required")
	if err != nil {
		t.Fatal(err)
	}
	if opts.Addr != "cache.redis.cache.windows.net:6380" || opts.DB != 2 || opts.TLSConfig == nil || opts.Password != "s3cret" || cl.On {
		t.Fatalf("%+v %+v", opts, cl)
	}
	opts, cl, err = redisstore.ParseURL("rediss+cluster://:s3cret@amr.eastus.redis.azure.net:10000?addr=n2:10000&addr=n3:10000")
	if err != nil {
		t.Fatal(err)
	}
	if !cl.On || fmt.Sprint(cl.Seeds) != "[amr.eastus.redis.azure.net:10000 n2:10000 n3:10000]" || opts.TLSConfig == nil || opts.Password != "s3cret" {
		t.Fatalf("cluster URL: %+v %+v", opts, cl)
	}
	for raw, wantIn := range map[string]string{
		"amqp://guest:hunter2@rabbit:5672//": `scheme "amqp"`,
		"localhost:6379":                     "",
		"redis://u:hunter2@h:1/0?bogus=1":    "bogus",
		"redis://u:hunter2@h:1/x":            "",
		"redis://u:hunter2@[::1:6379":        "does not parse",
		"redis+cluster://u:hunter2@h:1/3":    "database 0",
		"mongo+cluster://u:hunter2@h:1":      `scheme "mongo+cluster"`,
	} {
		_, _, err := redisstore.ParseURL(raw)
		if !errors.Is(err, redisstore.ErrBadURL) {
			t.Errorf("%q: %v", raw, err)
			continue
		}
		if strings.Contains(err.Error(), "hunter2") || !strings.Contains(err.Error(), wantIn) {
			t.Errorf("%q: message %q", raw, err)
		}
	}
}

func TestTicketStoreConformance(t *testing.T) {
	eachRedis(t, func(t *testing.T, fresh func(*testing.T) redis.UniversalClient) {
		portstest.TestTicketStore(t, func(t *testing.T) ports.TicketStore {
			return redisstore.NewTicketStore(fresh(t), redisstore.Config{})
		})
	})
}

func TestRateLimiterConformance(t *testing.T) {
	eachRedis(t, func(t *testing.T, fresh func(*testing.T) redis.UniversalClient) {
		portstest.TestRateLimiter(t, func(t *testing.T) ports.RateLimiter {
			return redisstore.NewRateLimiter(fresh(t), redisstore.Config{})
		})
	})
}

// The key holds the hash of the ticket, the value never the ticket, and it expires.
func TestTicketKeyLayout(t *testing.T) {
	srv := redistest.Start(t)
	rdb := fresh(t, srv)
	ctx := context.Background()
	tk, h, _ := ticket.Mint()
	r, _ := ticket.New("run-1", "oid", "tid", time.Now(), 30*time.Second)
	if err := redisstore.NewTicketStore(rdb, redisstore.Config{}).Put(ctx, h, r, 30*time.Second); err != nil {
		t.Fatal(err)
	}
	keys := rdb.Keys(ctx, "*").Val()
	if len(keys) != 1 || keys[0] != "blastlog:ticket:"+h {
		t.Fatalf("keys %v", keys)
	}
	v := rdb.Get(ctx, keys[0]).Val()
	if strings.Contains(v, tk) || strings.Contains(keys[0], tk) {
		t.Fatal("the ticket itself is stored")
	}
	if ttl := rdb.PTTL(ctx, keys[0]).Val(); ttl <= 0 || ttl > 30*time.Second {
		t.Fatalf("ttl %v", ttl)
	}
	var m map[string]any
	if err := json.Unmarshal([]byte(v), &m); err != nil || m["job_id"] != "run-1" || m["owner_oid"] != "oid" || m["tenant"] != "tid" {
		t.Fatalf("value %s", v)
	}
}

func TestLogTailConformance(t *testing.T) {
	eachRedis(t, func(t *testing.T, fresh func(*testing.T) redis.UniversalClient) {
		portstest.TestLogTail(t, func(t *testing.T) (ports.EventLog, ports.LogTail) {
			l := redisstore.NewEventLog(fresh(t), redisstore.Config{})
			return l, l
		})
	})
}

func TestStatusReaderConformance(t *testing.T) {
	eachRedis(t, func(t *testing.T, fresh func(*testing.T) redis.UniversalClient) {
		portstest.TestStatusReader(t, func(t *testing.T) (ports.JobDirectory, ports.StatusReader) {
			d := redisstore.NewJobDirectory(fresh(t), redisstore.Config{})
			return d, d
		})
	})
}

func TestCoordinationConformance(t *testing.T) {
	eachRedis(t, func(t *testing.T, fresh func(*testing.T) redis.UniversalClient) {
		portstest.TestCoordination(t, func(t *testing.T) portstest.Coordinator {
			return redisstore.NewCoordination(fresh(t), redisstore.Config{})
		})
	})
}

func TestLogKeepingConformance(t *testing.T) {
	eachRedis(t, func(t *testing.T, fresh func(*testing.T) redis.UniversalClient) {
		portstest.TestLogKeeping(t, func(t *testing.T, maxLen int) (ports.EventLog, ports.LogKeeper, ports.ArchiveCursors) {
			rdb := fresh(t)
			cfg := redisstore.Config{MaxLen: int64(maxLen)}
			st := redisstore.NewArchiveState(rdb, cfg)
			// As an archiver does before it reads: writers then cap far above maxLen.
			if err := st.MarkArchiving(context.Background(), 1_000_000, time.Minute); err != nil {
				t.Fatal(err)
			}
			return redisstore.NewEventLog(rdb, cfg), st, st
		})
	})
}

// While the archive's mark lives, appends cap streams at the archive's hard maximum,
// not at MaxLen: nothing the archive has not copied is trimmed by a writer.
func TestArchiveMarkRaisesTheWritersCap(t *testing.T) {
	srv := redistest.Start(t)
	srv.RequireReal(t) // MAXLEN ~ trims by whole nodes on a real server only
	rdb := fresh(t, srv)
	cfg := redisstore.Config{MaxLen: 100}
	if err := redisstore.NewArchiveState(rdb, cfg).MarkArchiving(context.Background(), 100_000, time.Minute); err != nil {
		t.Fatal(err)
	}
	l := redisstore.NewEventLog(rdb, cfg)
	evs := make([]event.Event, 5000)
	for i := range evs {
		evs[i] = portstest.Event("marked", "x")
	}
	if _, err := l.Append(context.Background(), "marked", evs); err != nil {
		t.Fatal(err)
	}
	if n := rdb.XLen(context.Background(), "joblogs:marked").Val(); n != 5000 {
		t.Fatalf("held %d of 5000", n)
	}
	unmarked := redisstore.NewEventLog(fresh(t, srv), cfg)
	unmarked.Append(context.Background(), "plain", evs)
	if n := rdb.XLen(context.Background(), "joblogs:plain").Val(); n >= 5000 {
		t.Fatalf("without the mark the cap did not apply: %d", n)
	}
}

func TestSummariesConformance(t *testing.T) {
	eachRedis(t, func(t *testing.T, fresh func(*testing.T) redis.UniversalClient) {
		portstest.TestIndexStore(t, func(t *testing.T) ports.IndexStore {
			return redisstore.NewSummaries(fresh(t), redisstore.Config{})
		})
	})
}

// At the archive's hard cap an append is refused whole (ErrAtCap, unavailable) rather
// than trimming what the archive has not copied; once the archiver trims behind what
// it copied, appends go in again. On a node and on a cluster.
func TestArchiveHasFirstClaimAtTheCap(t *testing.T) {
	eachRedis(t, func(t *testing.T, fresh func(*testing.T) redis.UniversalClient) {
		ctx := context.Background()
		rdb := fresh(t)
		cfg := redisstore.Config{MaxLen: 100}
		state := redisstore.NewArchiveState(rdb, cfg)
		if err := state.MarkArchiving(ctx, 1000, time.Minute); err != nil {
			t.Fatal(err)
		}
		l := redisstore.NewEventLog(rdb, cfg)
		batch := func(n int) []event.Event {
			evs := make([]event.Event, n)
			for i := range evs {
				evs[i] = portstest.Event("capped", fmt.Sprintf("line %d", i))
			}
			return evs
		}
		var ids []event.ID
		for range 4 {
			got, err := l.Append(ctx, "capped", batch(250))
			if err != nil || len(got) != 250 {
				t.Fatalf("%d ids: %v", len(got), err)
			}
			ids = append(ids, got...)
		}
		got, err := l.Append(ctx, "capped", batch(3))
		if !errors.Is(err, redisstore.ErrAtCap) || !errors.Is(err, ports.ErrUnavailable) || len(got) != 0 {
			t.Fatalf("past the cap: %d ids, %v", len(got), err)
		}
		if first, _, _ := l.Bounds(ctx, "capped"); first != ids[0] || rdb.XLen(ctx, "joblogs:capped").Val() != 1000 {
			t.Fatalf("the refused append trimmed: first %s, %d held", first, rdb.XLen(ctx, "joblogs:capped").Val())
		}
		if _, err := state.TrimArchived(ctx, "capped", ids[499]); err != nil {
			t.Fatal(err)
		}
		if got, err := l.Append(ctx, "capped", batch(3)); err != nil || len(got) != 3 {
			t.Fatalf("after the archive's trim: %d ids, %v", len(got), err)
		}
	})
}
