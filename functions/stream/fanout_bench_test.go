package main

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// BenchmarkFanout reproduces the side-by-side scenarios s1-s4 (those of tools/fanout)
// against the streaming container in its own process, on this test's redis-server,
// with real HTTP clients over loopback (go tool task bench:fanout; COUNT=3 and
// benchstat for medians):
//
//	s1: 1 run, 100 viewers, 1,000 events/s for 10 s
//	s2: 1 run, 2,000 viewers, 20 events/s for 20 s
//	s3: 200 runs × 10 viewers, 1,000 events/s in all for 10 s
//	s4: 10,000 idle viewers: resident memory per connection
//
// Reported: publish-to-receive latency percentiles, and lost and duplicated
// deliveries (each viewer checks every event of its run arrives once, in order).
func BenchmarkFanout(b *testing.B) {
	for _, sc := range []struct {
		name                string
		runs, viewers, rate int
		d                   time.Duration
	}{
		{"s1", 1, 100, 1000, 10 * time.Second},
		{"s2", 1, 2000, 20, 20 * time.Second},
		{"s3", 200, 10, 1000, 10 * time.Second},
	} {
		b.Run(sc.name, func(b *testing.B) { fanoutScenario(b, sc.runs, sc.viewers, sc.rate, sc.d) })
	}
	b.Run("s4", func(b *testing.B) { idleMemory(b, 10_000) })
}

// sentMark reads publishAt's "t=<unix ns> s=<n>" from a frame's JSON.
func sentMark(data string) (ns int64, seq int, ok bool) {
	i := strings.Index(data, `"line":"t=`)
	if i < 0 {
		return 0, 0, false
	}
	rest := data[i+len(`"line":"t=`):]
	sp := strings.IndexByte(rest, ' ')
	q := strings.IndexByte(rest, '"')
	if sp < 0 || q < sp || !strings.HasPrefix(rest[sp:], " s=") {
		return 0, 0, false
	}
	ns, err1 := strconv.ParseInt(rest[:sp], 10, 64)
	seq, err2 := strconv.Atoi(rest[sp+3 : q])
	return ns, seq, err1 == nil && err2 == nil
}

func fanoutScenario(b *testing.B, runs, perRun, rate int, d time.Duration) {
	s := newStack(b)
	_, base := serverProcess(b, s, nil)
	jobIDs := make([]string, runs)
	for r := range jobIDs {
		jobIDs[r] = fmt.Sprintf("fan-%d", r)
		s.register(nil, jobIDs[r], owner)
	}
	for b.Loop() {
		// One slot per viewer, written only by that viewer's reader: no lock shared by
		// the clients, whose contention would otherwise be measured as latency.
		type seen struct {
			lat       []time.Duration
			got, last int
			dups      int
		}
		slots := make([]seen, runs*perRun)
		var received atomic.Int64
		var closers []func()
		for r, jobID := range jobIDs {
			closers = append(closers, viewers(b, s, base, jobID, perRun, func(v int, f frame) {
				ns, seq, ok := sentMark(f.data)
				if !ok {
					return
				}
				l := time.Since(time.Unix(0, ns))
				sl := &slots[r*perRun+v]
				sl.lat = append(sl.lat, l)
				if sl.got > 0 && seq <= sl.last {
					sl.dups++
				}
				sl.got++
				sl.last = seq
				received.Add(1)
			}))
		}
		time.Sleep(500 * time.Millisecond)
		sent := publishAt(context.Background(), s.rdb, rate, d, jobIDs...)
		want := sent / runs // every run gets the same share (sent is a multiple of runs here)
		deadline := time.Now().Add(10 * time.Second)
		for received.Load() < int64(sent*perRun) && time.Now().Before(deadline) {
			time.Sleep(50 * time.Millisecond)
		}
		for _, c := range closers {
			c() // waits for every reader: the slots are theirs no longer
		}
		var lat []time.Duration
		lost, dups := 0, 0
		for _, sl := range slots {
			lat = append(lat, sl.lat...)
			lost += max(0, want-sl.got)
			dups += sl.dups
		}
		slices.Sort(lat)
		if len(lat) == 0 {
			b.Fatal("nothing received")
		}
		pct := func(p float64) float64 {
			return float64(lat[min(len(lat)-1, int(float64(len(lat))*p))].Microseconds()) / 1000
		}
		b.ReportMetric(pct(0.5), "p50-ms")
		b.ReportMetric(pct(0.9), "p90-ms")
		b.ReportMetric(pct(0.99), "p99-ms")
		b.ReportMetric(pct(0.999), "p999-ms")
		b.ReportMetric(float64(lost), "lost")
		b.ReportMetric(float64(dups), "duplicated")
	}
}
