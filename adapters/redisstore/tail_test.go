package redisstore_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/blastlog/blastlog/adapters/redisstore"
	"github.com/blastlog/blastlog/adapters/redisstore/redistest"
	"github.com/blastlog/blastlog/core/event"
	"github.com/blastlog/blastlog/ports/portstest"
)

func tailLines(evs []event.Event) string {
	s := ""
	for _, e := range evs {
		s += e.JobID + ":" + e.Line + " "
	}
	return s
}

// Two run ids with one safe key read one stream, each from its own cursor; and the
// scratch a call leaves behind never leaks into the next calls, whatever runs they ask.
func TestTailSharedKeysAndReusedScratch(t *testing.T) {
	eachRedis(t, func(t *testing.T, fresh func(*testing.T) redis.UniversalClient) {
		ctx := context.Background()
		l := redisstore.NewEventLog(fresh(t), redisstore.Config{})
		// "run a" and "run_a" share a key. Appends refuse "run a" (it would alias), but a
		// reader may still be asked for it: each name gets what the key holds.
		shared := portstest.Append(t, l, "run_a", "1", "2", "3")
		other := portstest.Append(t, l, "other", "x")
		for round := range 3 {
			got, err := l.Tail(ctx, map[string]event.ID{"run a": shared[0], "run_a": event.ID{}, "other": other[0]}, 10, 50*time.Millisecond)
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != 2 || len(got["run a"]) != 2 || len(got["run_a"]) != 3 {
				t.Fatalf("round %d: got %v", round, got)
			}
			if got["run a"][0].ID != shared[1] || got["run_a"][0].ID != shared[0] {
				t.Fatalf("round %d: %s / %s", round, tailLines(got["run a"]), tailLines(got["run_a"]))
			}
			got, err = l.Tail(ctx, map[string]event.ID{"other": event.ID{MS: 0}}, 10, 50*time.Millisecond)
			if err != nil || len(got) != 1 || tailLines(got["other"]) != "other:x " {
				t.Fatalf("round %d: got %v %v", round, got, err)
			}
			got, err = l.Tail(ctx, map[string]event.ID{"run_a": shared[2], "other": other[0]}, 10, 20*time.Millisecond)
			if err != nil || len(got) != 0 {
				t.Fatalf("round %d: nothing new, got %v %v", round, got, err)
			}
		}
	})
}

// BenchmarkTail is one round of a hub reader with 25 runs, one of which has a new
// event: its allocations are the reader's cost per round beyond Redis's reply.
func BenchmarkTail(b *testing.B) {
	ctx := context.Background()
	l := redisstore.NewEventLog(redistest.Start(b).Client(b), redisstore.Config{})
	after := map[string]event.ID{}
	for i := range 25 {
		id := fmt.Sprintf("bench-run-%02d", i)
		after[id] = portstest.Append(b, l, id, "line")[0]
	}
	after["bench-run-00"] = event.ID{MS: 0}
	b.ReportAllocs()
	for b.Loop() {
		got, err := l.Tail(ctx, after, 500, time.Second)
		if err != nil || len(got) != 1 {
			b.Fatal(got, err)
		}
	}
}

// A block longer than the client's read timeout is still a wait, not an i/o timeout:
// go-redis's own XREAD moves the read deadline past the block, which the command of
// pre-boxed arguments would not.
func TestTailBlocksLongerThanTheReadTimeout(t *testing.T) {
	srv := redistest.Start(t)
	o, err := redis.ParseURL(srv.URL())
	if err != nil {
		t.Fatal(err)
	}
	o.ReadTimeout = 100 * time.Millisecond
	c := redis.NewClient(o)
	t.Cleanup(func() { c.Close() })
	l := redisstore.NewEventLog(c, redisstore.Config{})
	ids := portstest.Append(t, l, "slow", "a")
	for _, block := range []time.Duration{20 * time.Millisecond, 300 * time.Millisecond} {
		got, err := l.Tail(context.Background(), map[string]event.ID{"slow": ids[0]}, 10, block)
		if err != nil || len(got) != 0 {
			t.Fatalf("block %v: got %v %v", block, got, err)
		}
	}
}
