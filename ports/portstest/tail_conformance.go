package portstest

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/blastlog/blastlog/core/event"
	"github.com/blastlog/blastlog/ports"
)

// TestLogTail is the conformance suite of ports.LogTail; newTail returns a log and its
// tail over the same storage.
func TestLogTail(t *testing.T, newTail func(t *testing.T) (ports.EventLog, ports.LogTail)) {
	ctx := context.Background()
	t.Run("returns what is new per run", func(t *testing.T) {
		l, tail := newTail(t)
		a := appendN(t, l, "tail-a", 3)
		appendN(t, l, "tail-b", 2)
		got, err := tail.Tail(ctx, map[string]event.ID{"tail-a": a[0], "tail-b": event.ID{}, "tail-c": event.ID{}}, 10, 100*time.Millisecond)
		if err != nil {
			t.Fatal(err)
		}
		if fmt.Sprint(lines(got["tail-a"])) != "[line 1 line 2]" || len(got["tail-b"]) != 2 || len(got["tail-c"]) != 0 {
			t.Fatalf("got %v", got)
		}
		if got["tail-a"][0].ID.IsZero() || got["tail-a"][0].JobID != "tail-a" {
			t.Fatalf("event %+v", got["tail-a"][0])
		}
	})
	t.Run("waits for the next event", func(t *testing.T) {
		l, tail := newTail(t)
		ids := appendN(t, l, "tail-w", 1)
		go func() {
			time.Sleep(50 * time.Millisecond)
			l.Append(ctx, "tail-w", []event.Event{Event("tail-w", "late")})
		}()
		start := time.Now()
		got, err := tail.Tail(ctx, map[string]event.ID{"tail-w": ids[0]}, 10, 5*time.Second)
		if err != nil || len(got["tail-w"]) != 1 || got["tail-w"][0].Line != "late" {
			t.Fatalf("got %v %v", got, err)
		}
		if time.Since(start) > 2*time.Second {
			t.Fatal("did not wake on the new event")
		}
	})
	t.Run("no runs, no events", func(t *testing.T) {
		_, tail := newTail(t)
		got, err := tail.Tail(ctx, map[string]event.ID{}, 10, 50*time.Millisecond)
		if err != nil || len(got) != 0 {
			t.Fatalf("got %v %v", got, err)
		}
	})
	t.Run("times out empty", func(t *testing.T) {
		l, tail := newTail(t)
		ids := appendN(t, l, "tail-t", 1)
		got, err := tail.Tail(ctx, map[string]event.ID{"tail-t": ids[0]}, 10, 50*time.Millisecond)
		if err != nil || len(got["tail-t"]) != 0 {
			t.Fatalf("got %v %v", got, err)
		}
	})
}
