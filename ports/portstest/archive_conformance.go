package portstest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/blastlog/blastlog/core/chunk"
	"github.com/blastlog/blastlog/core/event"
	"github.com/blastlog/blastlog/core/job"
	"github.com/blastlog/blastlog/ports"
)

// ArchiveStore is what one archive adapter implements.
type ArchiveStore interface {
	ports.Archive
	ports.ArchiveIndex
}

// Chunk returns a chunk of n events of jobID's step, ids from startMS-0 on.
func Chunk(jobID, step string, seq, n int, startMS uint64) chunk.Chunk {
	c := chunk.Chunk{SchemaVersion: chunk.SchemaVersion, JobID: jobID, Step: step, Sequence: seq,
		CreatedAt: time.Now().UTC().Truncate(time.Millisecond)}
	for i := 0; i < n; i++ {
		e := Event(jobID, fmt.Sprintf("%s %d line %d", step, seq, i))
		e.Phase = step
		e.ID = event.ID{MS: startMS + uint64(i)}
		c.Events = append(c.Events, e)
	}
	return c
}

// TestArchive is the conformance suite of ports.Archive and ports.ArchiveIndex.
// newStore returns a fresh, empty store.
func TestArchive(t *testing.T, newStore func(t *testing.T) ArchiveStore) {
	ctx := context.Background()

	t.Run("a chunk is written once and read back", func(t *testing.T) {
		s := newStore(t)
		c := Chunk("run/1 x", "staging_db", 0, 3, 1000)
		c.Events[1].Line = "héllo \"quoted\" <b> \u2028"
		if err := s.PutChunk(ctx, c); err != nil {
			t.Fatal(err)
		}
		again := Chunk("run/1 x", "staging_db", 0, 1, 5000)
		if err := s.PutChunk(ctx, again); !errors.Is(err, ports.ErrExists) {
			t.Fatalf("second put: %v, want ErrExists", err)
		}
		raw, err := s.Chunk(ctx, "run/1 x", "staging_db", 0)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(raw, c.Encode()) {
			t.Fatalf("the stored bytes are not the chunk's encoding:\n%s\n%s", raw, c.Encode())
		}
		got, err := chunk.Decode(raw)
		if err != nil {
			t.Fatal(err)
		}
		if len(got.Events) != 3 || got.Events[1].Line != c.Events[1].Line || got.Events[2].ID != (event.ID{MS: 1002}) ||
			got.Sequence != 0 || got.Step != "staging_db" || got.JobID != "run/1 x" {
			t.Fatalf("read back %+v", got)
		}
	})

	t.Run("concurrent writers of one name: exactly one wins", func(t *testing.T) {
		s := newStore(t)
		var wg sync.WaitGroup
		var mu sync.Mutex
		wins := 0
		for i := 0; i < 8; i++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				err := s.PutChunk(ctx, Chunk("race", "running", 7, 2, uint64(100*i+1)))
				mu.Lock()
				defer mu.Unlock()
				switch {
				case err == nil:
					wins++
				case !errors.Is(err, ports.ErrExists):
					t.Errorf("put: %v", err)
				}
			}()
		}
		wg.Wait()
		if wins != 1 {
			t.Fatalf("%d writers won", wins)
		}
	})

	t.Run("missing chunk and index are ErrNotFound", func(t *testing.T) {
		s := newStore(t)
		if _, err := s.Chunk(ctx, "none", "running", 0); !errors.Is(err, ports.ErrNotFound) {
			t.Fatalf("chunk: %v", err)
		}
	})

	t.Run("chunks are listed per step", func(t *testing.T) {
		s := newStore(t)
		for _, c := range []chunk.Chunk{Chunk("r", "a", 0, 1, 1), Chunk("r", "a", 1, 1, 2), Chunk("r", "b", 0, 1, 3),
			Chunk("r2", "a", 5, 1, 4)} {
			if err := s.PutChunk(ctx, c); err != nil {
				t.Fatal(err)
			}
		}
		idx := chunk.NewIndex("r")
		if _, err := s.PutIndex(ctx, idx, ""); err != nil {
			t.Fatal(err)
		}
		got, err := s.Chunks(ctx, "r")
		if err != nil {
			t.Fatal(err)
		}
		if len(got) != 2 || len(got["a"]) != 2 || len(got["b"]) != 1 {
			t.Fatalf("listed %v", got)
		}
		if none, err := s.Chunks(ctx, "nothing"); err != nil || len(none) != 0 {
			t.Fatalf("empty run: %v %v", none, err)
		}
	})

	TestIndexStore(t, func(t *testing.T) ports.IndexStore { return newStore(t) })

	t.Run("owner runs come from the records, newest first", func(t *testing.T) {
		s := newStore(t)
		for i, id := range []string{"old", "new", "other"} {
			idx := chunk.NewIndex(id)
			idx.Record = chunk.Record{OwnerOID: "me", Status: job.Completed, CreatedAt: time.Unix(int64(1700000000+i), 0).UTC()}
			if id == "other" {
				idx.Record.OwnerOID = "someone"
			}
			idx.Complete = true
			if _, err := s.PutIndex(ctx, idx, ""); err != nil {
				t.Fatal(err)
			}
		}
		runs, err := s.OwnerRuns(ctx, "me", 10)
		if err != nil {
			t.Fatal(err)
		}
		if len(runs) != 2 || runs[0].JobID != "new" || runs[1].JobID != "old" || runs[0].Status != job.Completed {
			t.Fatalf("runs %+v", runs)
		}
	})
}

// TestIndexStore is the conformance suite of ports.IndexStore. newStore returns a
// fresh, empty store.
func TestIndexStore(t *testing.T, newStore func(t *testing.T) ports.IndexStore) {
	ctx := context.Background()

	t.Run("a missing index is ErrNotFound", func(t *testing.T) {
		if _, _, err := newStore(t).Index(ctx, "none"); !errors.Is(err, ports.ErrNotFound) {
			t.Fatalf("index: %v", err)
		}
	})

	t.Run("index writes are conditional on the version read", func(t *testing.T) {
		s := newStore(t)
		idx := chunk.NewIndex("run-i")
		idx.LastID, idx.Count = event.ID{MS: 5}, 5
		idx.Record = chunk.Record{OwnerOID: "owner-1", Status: job.Running, CreatedAt: time.Unix(1700000000, 0).UTC()}
		v1, err := s.PutIndex(ctx, idx, "")
		if err != nil {
			t.Fatal(err)
		}
		if _, err := s.PutIndex(ctx, idx, ""); !errors.Is(err, ports.ErrConflict) {
			t.Fatalf("create over an existing index: %v", err)
		}
		idx.LastID = event.ID{MS: 9}
		v2, err := s.PutIndex(ctx, idx, v1)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := s.PutIndex(ctx, idx, v1); !errors.Is(err, ports.ErrConflict) {
			t.Fatalf("write on a stale version: %v", err)
		}
		got, ver, err := s.Index(ctx, "run-i")
		if err != nil || ver != v2 || got.LastID != (event.ID{MS: 9}) || got.Record.OwnerOID != "owner-1" {
			t.Fatalf("index %+v version %q (want %q): %v", got, ver, v2, err)
		}
	})

	t.Run("an index keeps its summary and diagnosis", func(t *testing.T) {
		s := newStore(t)
		idx := chunk.NewIndex("run-s")
		e := Event("run-s", "ERROR: batch 013 failed")
		e.ID = event.ID{MS: 7}
		idx.Summary.Add(&e)
		idx.LastID, idx.Count = event.ID{MS: 7}, 1
		idx.Gaps = []event.Gap{{After: event.ID{MS: 1}, FirstAvailable: event.ID{MS: 3}, Reason: event.GapReasonTrimmed}}
		if _, err := s.PutIndex(ctx, idx, ""); err != nil {
			t.Fatal(err)
		}
		got, _, err := s.Index(ctx, "run-s")
		if err != nil {
			t.Fatal(err)
		}
		var steps int64
		for _, st := range got.Summary.Steps {
			steps += st.Errors
		}
		if steps != 1 || got.Count != 1 || len(got.Gaps) != 1 || got.Gaps[0].FirstAvailable != (event.ID{MS: 3}) {
			t.Fatalf("read back %+v", got)
		}
	})
}

// TestLogKeeping is the conformance suite of the hot tier's archive side: ReadHeld,
// ReadBefore, LoggedRuns, TrimArchived and the cursors. newState returns a fresh hot
// tier whose cap is maxLen, as it is while an archiver runs: appends trim nothing
// the archiver has not copied.
func TestLogKeeping(t *testing.T, newState func(t *testing.T, maxLen int) (ports.EventLog, ports.LogKeeper, ports.ArchiveCursors)) {
	ctx := context.Background()
	t.Run("read held, before, trim behind the cursor", func(t *testing.T) {
		l, k, _ := newState(t, 8)
		ids := appendN(t, l, "run-k", 20)
		evs, first, err := l.ReadHeld(ctx, "run-k", ids[4], 3)
		if err != nil || first != ids[0] || len(evs) != 3 || evs[0].ID != ids[5] {
			t.Fatalf("held: %v %q %v", lines(evs), first, err)
		}
		before, err := l.ReadBefore(ctx, "run-k", ids[10], 4)
		if err != nil || len(before) != 4 || before[0].ID != ids[6] || before[3].ID != ids[9] {
			t.Fatalf("before: %v %v", lines(before), err)
		}
		if b, _ := l.ReadBefore(ctx, "run-k", ids[0], 4); len(b) != 0 {
			t.Fatalf("before the first: %v", lines(b))
		}
		// Keep 8, but never drop past the cursor ids[9]: 10 go.
		n, err := k.TrimArchived(ctx, "run-k", ids[9])
		if err != nil || n != 10 {
			t.Fatalf("trimmed %d: %v", n, err)
		}
		if _, first, _ := l.ReadHeld(ctx, "run-k", event.ID{}, 1); first != ids[10] {
			t.Fatalf("first after trim %q want %q", first, ids[10])
		}
		// Past the cursor, the cap rules: 20-10 held, keep 8 drops 2.
		if n, _ := k.TrimArchived(ctx, "run-k", ids[19]); n != 2 {
			t.Fatalf("second trim %d", n)
		}
		// The tally: 20 added, 8 held from ids[12] (Redis before 7.0 does not count).
		// Asked together with a run that has no log, in the order asked.
		ts, err := k.Tally(ctx, []string{"no-such-run", "run-k"})
		if err != nil || len(ts) != 2 {
			t.Fatalf("tally %+v: %v", ts, err)
		}
		if tk := ts[1]; tk.First != ids[12] || tk.Held != 8 || tk.Known && tk.Added != 20 {
			t.Fatalf("tally %+v", tk)
		}
		if none := ts[0]; !none.First.IsZero() || none.Held != 0 {
			t.Fatalf("tally of nothing %+v", none)
		}
		runs, err := k.LoggedRuns(ctx)
		if err != nil || !contains(runs, "run-k") {
			t.Fatalf("logged runs %v: %v", runs, err)
		}
	})
	t.Run("a burst far past the cap is trimmed in one call", func(t *testing.T) {
		l, k, _ := newState(t, 10)
		ids := appendN(t, l, "run-b", 25_000)
		n, err := k.TrimArchived(ctx, "run-b", ids[len(ids)-1])
		if err != nil || n != 25_000-10 {
			t.Fatalf("trimmed %d of %d: %v", n, 25_000-10, err)
		}
		if _, first, _ := l.ReadHeld(ctx, "run-b", event.ID{}, 1); first != ids[25_000-10] {
			t.Fatalf("first after trim %q want %q", first, ids[25_000-10])
		}
	})
	t.Run("cursors round trip", func(t *testing.T) {
		_, _, c := newState(t, 8)
		if got, err := c.LoadCursor(ctx, "run-c"); err != nil || !got.LastID.IsZero() {
			t.Fatalf("empty cursor: %+v %v", got, err)
		}
		want := chunk.Cursor{LastID: event.ID{MS: 9, Seq: 1}, Steps: map[string]chunk.StepCursor{"running": {NextSeq: 3, LastID: event.ID{MS: 9, Seq: 1}}, "system": {NextSeq: 1, LastID: event.ID{MS: 2}}}}
		if err := c.SaveCursor(ctx, "run-c", want); err != nil {
			t.Fatal(err)
		}
		got, err := c.LoadCursor(ctx, "run-c")
		if err != nil || got.LastID != want.LastID || len(got.Steps) != 2 || got.Steps["running"] != want.Steps["running"] {
			t.Fatalf("cursor %+v: %v", got, err)
		}
	})
}

func contains(xs []string, x string) bool {
	for _, v := range xs {
		if v == x {
			return true
		}
	}
	return false
}
