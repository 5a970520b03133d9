package portstest

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/blastlog/blastlog/core/event"
	"github.com/blastlog/blastlog/core/job"
	"github.com/blastlog/blastlog/ports"
)

// Event returns a valid terminal event of run jobID with the given line.
func Event(jobID, line string) event.Event {
	return event.Event{SchemaVersion: event.SchemaVersion, JobID: jobID, Source: event.SourceTerminal,
		Phase: event.PhaseSubmitting, Stream: event.Stdout, Line: line,
		TS: time.Now().UTC().Truncate(time.Millisecond)}
}

func lines(evs []event.Event) []string {
	out := make([]string, len(evs))
	for i, e := range evs {
		out[i] = e.Line
	}
	return out
}

func appendN(t *testing.T, l ports.EventLog, jobID string, n int) []string {
	t.Helper()
	lines := make([]string, n)
	for i := range lines {
		lines[i] = fmt.Sprintf("line %d", i)
	}
	return Append(t, l, jobID, lines...)
}

// Append appends one event per line to jobID's log (see Event) and returns their ids.
func Append(t testing.TB, l ports.EventLog, jobID string, lines ...string) []string {
	t.Helper()
	evs := make([]event.Event, len(lines))
	for i, line := range lines {
		evs[i] = Event(jobID, line)
	}
	ids, err := l.Append(context.Background(), jobID, evs)
	if err != nil {
		t.Fatalf("append: %v", err)
	}
	if len(ids) != len(evs) {
		t.Fatalf("append returned %d ids for %d events", len(ids), len(evs))
	}
	return ids
}

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
		got, err := l.Read(ctx, "run-1", "", 10)
		if err != nil {
			t.Fatal(err)
		}
		if len(got) != 2 || got[0].ID != ids[0] || got[1].ID != ids[1] {
			t.Fatalf("read %+v, ids %v", got, ids)
		}
		a, _ := event.ParseID(ids[0])
		b, _ := event.ParseID(ids[1])
		if a.Compare(b) >= 0 {
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
		got, _ = l.Read(ctx, "run-2", "0-0", 100)
		if len(got) != 10 {
			t.Fatalf("after 0-0: %d events", len(got))
		}
	})

	t.Run("unknown run is empty", func(t *testing.T) {
		l := newLog(t, 5000)
		got, err := l.Read(ctx, "never-written", "", 10)
		if err != nil || len(got) != 0 {
			t.Fatalf("got %v, %v", got, err)
		}
		first, last, err := l.Bounds(ctx, "never-written")
		if err != nil || first != "" || last != "" {
			t.Fatalf("bounds %q %q %v", first, last, err)
		}
	})

	t.Run("malformed after is ErrBadID", func(t *testing.T) {
		l := newLog(t, 5000)
		appendN(t, l, "run-3", 1)
		for _, bad := range []string{"abc", "1-2-3", "-1"} {
			if _, err := l.Read(ctx, "run-3", bad, 10); !errors.Is(err, event.ErrBadID) {
				t.Fatalf("after %q: %v", bad, err)
			}
		}
	})

	t.Run("invalid events are refused whole", func(t *testing.T) {
		l := newLog(t, 5000)
		bad := Event("run-4", "a\nb")
		if _, err := l.Append(ctx, "run-4", []event.Event{Event("run-4", "ok"), bad}); !errors.Is(err, event.ErrInvalid) {
			t.Fatalf("err %v", err)
		}
		if got, _ := l.Read(ctx, "run-4", "", 10); len(got) != 0 {
			t.Fatalf("stored part of a refused batch: %v", lines(got))
		}
	})

	t.Run("runs are separate", func(t *testing.T) {
		l := newLog(t, 5000)
		appendN(t, l, "run-a", 3)
		appendN(t, l, "run-b", 2)
		a, _ := l.Read(ctx, "run-a", "", 10)
		b, _ := l.Read(ctx, "run-b", "", 10)
		if len(a) != 3 || len(b) != 2 || a[0].JobID != "run-a" || b[0].JobID != "run-b" {
			t.Fatalf("a=%d b=%d", len(a), len(b))
		}
	})

	t.Run("capped and bounds show trimming", func(t *testing.T) {
		const maxLen = 100
		l := newLog(t, maxLen)
		var ids []string
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
		held, _ := l.Read(ctx, "run-5", "", 10*maxLen)
		if len(held) < maxLen || len(held) >= 3*maxLen {
			t.Fatalf("holds %d events for a cap of %d", len(held), maxLen)
		}
		if held[0].ID != first || held[len(held)-1].ID != last {
			t.Fatalf("bounds %s..%s disagree with read %s..%s", first, last, held[0].ID, held[len(held)-1].ID)
		}
	})
}

// TestJobDirectory is the conformance suite of ports.JobDirectory.
func TestJobDirectory(t *testing.T, newDir func(t *testing.T) ports.JobDirectory) {
	ctx := context.Background()
	rec := job.Record{JobID: "run-1", OwnerOID: "oid-1", ELBJobID: "job-429825360482416da20736cf3ed51a95",
		SubscriptionID: "sub", ResourceGroup: "rg", ClusterName: "elb-cluster-01"}

	t.Run("unknown is ErrNotFound", func(t *testing.T) {
		d := newDir(t)
		if _, err := d.Get(ctx, "nope"); !errors.Is(err, ports.ErrNotFound) {
			t.Fatalf("get: %v", err)
		}
		if err := d.SetStatus(ctx, "nope", job.Running); !errors.Is(err, ports.ErrNotFound) {
			t.Fatalf("set status: %v", err)
		}
	})

	t.Run("register, get, defaults", func(t *testing.T) {
		d := newDir(t)
		before := time.Now().Add(-time.Second)
		if err := d.Register(ctx, rec); err != nil {
			t.Fatal(err)
		}
		got, err := d.Get(ctx, "run-1")
		if err != nil {
			t.Fatal(err)
		}
		if got.Status != job.Queued || got.Namespace != job.DefaultNamespace {
			t.Fatalf("defaults: %+v", got)
		}
		if got.CreatedAt.Before(before) || got.UpdatedAt.Before(before) {
			t.Fatalf("times: %+v", got)
		}
		want := rec
		want.Status, want.Namespace, want.CreatedAt, want.UpdatedAt = job.Queued, job.DefaultNamespace, got.CreatedAt, got.UpdatedAt
		if got != want {
			t.Fatalf("got %+v\nwant %+v", got, want)
		}
	})

	t.Run("re-register keeps created_at and status", func(t *testing.T) {
		d := newDir(t)
		if err := d.Register(ctx, rec); err != nil {
			t.Fatal(err)
		}
		if err := d.SetStatus(ctx, "run-1", job.Running); err != nil {
			t.Fatal(err)
		}
		first, _ := d.Get(ctx, "run-1")
		again := rec
		again.Namespace = "blast"
		if err := d.Register(ctx, again); err != nil {
			t.Fatal(err)
		}
		got, _ := d.Get(ctx, "run-1")
		if !got.CreatedAt.Equal(first.CreatedAt) || got.Status != job.Running || got.Namespace != "blast" {
			t.Fatalf("got %+v", got)
		}
	})

	t.Run("set status", func(t *testing.T) {
		d := newDir(t)
		if err := d.Register(ctx, rec); err != nil {
			t.Fatal(err)
		}
		for _, s := range []job.Status{job.Running, job.Completed} {
			if err := d.SetStatus(ctx, "run-1", s); err != nil {
				t.Fatal(err)
			}
			if got, _ := d.Get(ctx, "run-1"); got.Status != s {
				t.Fatalf("status %q want %q", got.Status, s)
			}
		}
		if err := d.SetStatus(ctx, "run-1", "done"); !errors.Is(err, event.ErrInvalid) {
			t.Fatalf("bad status: %v", err)
		}
	})

	t.Run("an owner's runs, newest first", func(t *testing.T) {
		d := newDir(t)
		for _, id := range []string{"first", "second", "third"} {
			if err := d.Register(ctx, job.Record{JobID: id, OwnerOID: "oid-r"}); err != nil {
				t.Fatal(err)
			}
			time.Sleep(1100 * time.Millisecond) // created_at has whole seconds
		}
		d.Register(ctx, job.Record{JobID: "theirs", OwnerOID: "oid-other"})
		d.Register(ctx, job.Record{JobID: "first", OwnerOID: "oid-r"}) // again: keeps its place
		runs, err := d.Runs(ctx, "oid-r", 2)
		if err != nil {
			t.Fatal(err)
		}
		if len(runs) != 2 || runs[0].JobID != "third" || runs[1].JobID != "second" || runs[0].Status != job.Queued {
			t.Fatalf("runs %+v", runs)
		}
		if all, _ := d.Runs(ctx, "oid-r", 50); len(all) != 3 || all[2].JobID != "first" {
			t.Fatalf("all runs %+v", all)
		}
	})

	t.Run("invalid records are refused", func(t *testing.T) {
		d := newDir(t)
		for _, r := range []job.Record{{JobID: "", OwnerOID: "o"}, {JobID: "j"}, {JobID: "j", OwnerOID: "o\n"},
			{JobID: "j", OwnerOID: "o", Status: "done"}} {
			if err := d.Register(ctx, r); !errors.Is(err, event.ErrInvalid) {
				t.Fatalf("%+v: %v", r, err)
			}
		}
	})
}

// TestLogTail is the conformance suite of ports.LogTail; newTail returns a log and its
// tail over the same storage.
func TestLogTail(t *testing.T, newTail func(t *testing.T) (ports.EventLog, ports.LogTail)) {
	ctx := context.Background()
	t.Run("returns what is new per run", func(t *testing.T) {
		l, tail := newTail(t)
		a := appendN(t, l, "tail-a", 3)
		appendN(t, l, "tail-b", 2)
		got, err := tail.Tail(ctx, map[string]string{"tail-a": a[0], "tail-b": "0-0", "tail-c": "0-0"}, 10, 100*time.Millisecond)
		if err != nil {
			t.Fatal(err)
		}
		if fmt.Sprint(lines(got["tail-a"])) != "[line 1 line 2]" || len(got["tail-b"]) != 2 || len(got["tail-c"]) != 0 {
			t.Fatalf("got %v", got)
		}
		if got["tail-a"][0].ID == "" || got["tail-a"][0].JobID != "tail-a" {
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
		got, err := tail.Tail(ctx, map[string]string{"tail-w": ids[0]}, 10, 5*time.Second)
		if err != nil || len(got["tail-w"]) != 1 || got["tail-w"][0].Line != "late" {
			t.Fatalf("got %v %v", got, err)
		}
		if time.Since(start) > 2*time.Second {
			t.Fatal("did not wake on the new event")
		}
	})
	t.Run("no runs, no events", func(t *testing.T) {
		_, tail := newTail(t)
		got, err := tail.Tail(ctx, map[string]string{}, 10, 50*time.Millisecond)
		if err != nil || len(got) != 0 {
			t.Fatalf("got %v %v", got, err)
		}
	})
	t.Run("times out empty", func(t *testing.T) {
		l, tail := newTail(t)
		ids := appendN(t, l, "tail-t", 1)
		got, err := tail.Tail(ctx, map[string]string{"tail-t": ids[0]}, 10, 50*time.Millisecond)
		if err != nil || len(got["tail-t"]) != 0 {
			t.Fatalf("got %v %v", got, err)
		}
	})
}

// TestStatusReader is the conformance suite of ports.StatusReader.
func TestStatusReader(t *testing.T, newDir func(t *testing.T) (ports.JobDirectory, ports.StatusReader)) {
	ctx := context.Background()
	d, s := newDir(t)
	d.Register(ctx, job.Record{JobID: "s1", OwnerOID: "o"})
	d.Register(ctx, job.Record{JobID: "s2", OwnerOID: "o"})
	d.SetStatus(ctx, "s2", job.Completed)
	got, err := s.Statuses(ctx, []string{"s1", "s2", "s3"})
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 || got["s1"] != job.Queued || got["s2"] != job.Completed {
		t.Fatalf("got %v", got)
	}
}
