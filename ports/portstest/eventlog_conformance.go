package portstest

import (
	"context"
	"errors"
	"fmt"
	"testing"

	"github.com/blastlog/blastlog/core/event"
	"github.com/blastlog/blastlog/ports"
)

// TestEventLog is the conformance suite of ports.EventLog. newLog returns a fresh,
// empty log that caps each run at maxLen events (approximately, at least maxLen).
func TestEventLog(t *testing.T, newLog func(t *testing.T, maxLen int) ports.EventLog) {
	ctx := context.Background()

	t.Run("append then read in order with ids", func(t *testing.T) {
		l := newLog(t, 5000)
		e := Event("run-1", "héllo <b> \"q\"")
		e.Stream, e.Phase = event.Stderr, "custom phase"
		ids, err := l.Append(ctx, "run-1", []event.Event{e, Event("run-1", "second")})
		if err != nil {
			t.Fatal(err)
		}
		got, err := l.Read(ctx, "run-1", event.ID{}, 10)
		if err != nil {
			t.Fatal(err)
		}
		if len(got) != 2 || got[0].ID != ids[0] || got[1].ID != ids[1] {
			t.Fatalf("read %+v, ids %v", got, ids)
		}
		if ids[0].Compare(ids[1]) >= 0 {
			t.Fatalf("ids not increasing: %v", ids)
		}
		want := e
		want.ID = ids[0]
		if got[0] != want {
			t.Fatalf("round trip:\n got %+v\nwant %+v", got[0], want)
		}
	})

	t.Run("read strictly after an id, with a count", func(t *testing.T) {
		l := newLog(t, 5000)
		ids := appendN(t, l, "run-2", 10)
		got, err := l.Read(ctx, "run-2", ids[3], 4)
		if err != nil {
			t.Fatal(err)
		}
		if fmt.Sprint(lines(got)) != "[line 4 line 5 line 6 line 7]" {
			t.Fatalf("got %v", lines(got))
		}
		got, _ = l.Read(ctx, "run-2", ids[9], 4)
		if len(got) != 0 {
			t.Fatalf("after the last id: %v", lines(got))
		}
		got, _ = l.Read(ctx, "run-2", event.ID{MS: 0}, 100)
		if len(got) != 10 {
			t.Fatalf("after 0-0: %d events", len(got))
		}
	})

	t.Run("unknown run is empty", func(t *testing.T) {
		l := newLog(t, 5000)
		got, err := l.Read(ctx, "never-written", event.ID{}, 10)
		if err != nil || len(got) != 0 {
			t.Fatalf("got %v, %v", got, err)
		}
		first, last, err := l.Bounds(ctx, "never-written")
		if err != nil || !first.IsZero() || !last.IsZero() {
			t.Fatalf("bounds %q %q %v", first, last, err)
		}
	})

	t.Run("invalid events are refused whole", func(t *testing.T) {
		l := newLog(t, 5000)
		bad := Event("run-4", "a\nb")
		if _, err := l.Append(ctx, "run-4", []event.Event{Event("run-4", "ok"), bad}); !errors.Is(err, event.ErrInvalid) {
			t.Fatalf("err %v", err)
		}
		if got, _ := l.Read(ctx, "run-4", event.ID{}, 10); len(got) != 0 {
			t.Fatalf("stored part of a refused batch: %v", lines(got))
		}
	})

	t.Run("runs are separate", func(t *testing.T) {
		l := newLog(t, 5000)
		appendN(t, l, "run-a", 3)
		appendN(t, l, "run-b", 2)
		a, _ := l.Read(ctx, "run-a", event.ID{}, 10)
		b, _ := l.Read(ctx, "run-b", event.ID{}, 10)
		if len(a) != 3 || len(b) != 2 || a[0].JobID != "run-a" || b[0].JobID != "run-b" {
			t.Fatalf("a=%d b=%d", len(a), len(b))
		}
	})

	t.Run("capped and bounds show trimming", func(t *testing.T) {
		const maxLen = 100
		l := newLog(t, maxLen)
		var ids []event.ID
		for i := 0; i < 10; i++ {
			ids = append(ids, appendN(t, l, "run-5", maxLen)...)
		}
		first, last, err := l.Bounds(ctx, "run-5")
		if err != nil {
			t.Fatal(err)
		}
		if last != ids[len(ids)-1] {
			t.Fatalf("last %q want %q", last, ids[len(ids)-1])
		}
		if first == ids[0] {
			t.Fatal("nothing was trimmed")
		}
		held, _ := l.Read(ctx, "run-5", event.ID{}, 10*maxLen)
		if len(held) < maxLen || len(held) >= 3*maxLen {
			t.Fatalf("holds %d events for a cap of %d", len(held), maxLen)
		}
		if held[0].ID != first || held[len(held)-1].ID != last {
			t.Fatalf("bounds %s..%s disagree with read %s..%s", first, last, held[0].ID, held[len(held)-1].ID)
		}
	})
}
