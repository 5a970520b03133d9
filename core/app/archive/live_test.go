package archive_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/blastlog/blastlog/core/chunk"
	"github.com/blastlog/blastlog/core/event"
	"github.com/blastlog/blastlog/core/job"
)

// chunkLines reads a step's chunks as the index lists them.
func (s *stack) chunkLines(t *testing.T, jobID, step string) (lines []string, sizes []int) {
	t.Helper()
	idx, _, err := s.arch.Index(context.Background(), jobID)
	if err != nil {
		t.Fatal(err)
	}
	for _, ref := range idx.Steps[step].Chunks {
		raw, err := s.arch.Chunk(context.Background(), jobID, step, ref.Seq)
		if err != nil {
			t.Fatal(err)
		}
		c, err := chunk.Decode(raw)
		if err != nil {
			t.Fatal(err)
		}
		sizes = append(sizes, len(raw))
		for _, e := range c.Events {
			lines = append(lines, e.Line)
		}
	}
	return lines, sizes
}

// A running run is archived as it goes: a few lines are a chunk in the archive, and
// in its index, within the flush interval, long before the run ends.
func TestALiveRunIsArchivedWithinTheFlush(t *testing.T) {
	s := newStack()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	s.jobs.Register(ctx, job.Record{JobID: "r", OwnerOID: "o", Status: job.Running})
	go s.archiver("a").Run(ctx)
	s.write(t, "r", 0, 3, event.PhaseRunning)
	waitFor(t, "the three lines archived and indexed", 5*time.Second, func() bool {
		idx, _, err := s.arch.Index(ctx, "r")
		return err == nil && idx.Count == 3 && idx.Steps[event.PhaseRunning] != nil && len(idx.Steps[event.PhaseRunning].Chunks) == 1
	})
	if idx, _, _ := s.arch.Index(ctx, "r"); idx.Complete {
		t.Fatal("a running run's index is complete")
	}
	lines, _ := s.chunkLines(t, "r", event.PhaseRunning)
	checkSequence(t, lines, 3)
	// More lines: more chunks, the first one untouched.
	s.write(t, "r", 3, 2, event.PhaseRunning)
	waitFor(t, "the next two", 5*time.Second, func() bool { idx, _, _ := s.arch.Index(ctx, "r"); return idx.Count == 5 })
	lines, _ = s.chunkLines(t, "r", event.PhaseRunning)
	checkSequence(t, lines, 5)
}

// Lines of 4,000 characters: a chunk is cut before 1 MiB, whatever the events per
// chunk say, and every line is in one.
func TestAChunkStaysUnder1MiB(t *testing.T) {
	s := newStack()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	s.jobs.Register(ctx, job.Record{JobID: "wide", OwnerOID: "o"})
	a := s.archiver("a")
	a.Config.ChunkEvents = 5000
	go a.Run(ctx)
	long := strings.Repeat("x", event.MaxLineChars-10)
	var evs []event.Event
	for i := range 600 {
		e := event.Event{SchemaVersion: event.SchemaVersion, JobID: "wide", Source: event.SourceTerminal, Phase: event.PhaseRunning, Stream: event.Stdout,
			Line: long + strings.Repeat("y", i%10), TS: time.Now()}
		evs = append(evs, e)
	}
	if _, err := s.log.Append(ctx, "wide", evs); err != nil {
		t.Fatal(err)
	}
	s.jobs.SetStatus(ctx, "wide", job.Completed)
	s.waitComplete(t, "wide")
	lines, sizes := s.chunkLines(t, "wide", event.PhaseRunning)
	if len(lines) != 600 || len(sizes) < 3 {
		t.Fatalf("%d lines in %d chunks", len(lines), len(sizes))
	}
	for i, n := range sizes {
		if n > chunk.MaxBytes {
			t.Fatalf("chunk %d is %d bytes", i, n)
		}
	}
}

// A chunk an earlier holder wrote but never indexed (it died between the two): the
// next holder finds the name taken, reads it, and goes on after it: every line once.
func TestAChunkWrittenButNotIndexedIsContinued(t *testing.T) {
	s := newStack()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	s.jobs.Register(ctx, job.Record{JobID: "r", OwnerOID: "o"})
	s.write(t, "r", 0, 120, event.PhaseRunning)
	held, err := s.log.Read(ctx, "r", event.ID{}, 1000)
	if err != nil {
		t.Fatal(err)
	}
	early := chunk.Chunk{SchemaVersion: chunk.SchemaVersion, JobID: "r", Step: chunk.Step(event.PhaseRunning), Sequence: 0,
		Events: held[:50], CreatedAt: time.Now()}
	if err := s.arch.PutChunk(ctx, early); err != nil {
		t.Fatal(err)
	}
	go s.archiver("b").Run(ctx)
	s.jobs.SetStatus(ctx, "r", job.Completed)
	s.waitComplete(t, "r")
	lines, _ := s.chunkLines(t, "r", event.PhaseRunning)
	checkSequence(t, lines, 120)
	if idx, _, _ := s.arch.Index(ctx, "r"); idx.Count != 120 || idx.Steps[event.PhaseRunning].Chunks[0].Count != 50 {
		t.Fatalf("count %d, first chunk %+v", idx.Count, idx.Steps[event.PhaseRunning].Chunks[0])
	}
}

// The index carries the run's record as it changes (its owner's run list and a read
// after Redis forgot the run use it): a status set while the run is archived is in
// the index at its next write, and the final status at the end.
func TestTheIndexFollowsTheRecord(t *testing.T) {
	s := newStack()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	s.jobs.Register(ctx, job.Record{JobID: "r", OwnerOID: "o", ELBJobID: "job-1", Status: job.Queued})
	go s.archiver("a").Run(ctx)
	s.write(t, "r", 0, 10, event.PhaseSubmitting)
	waitFor(t, "the first index", 5*time.Second, func() bool { idx, _, err := s.arch.Index(ctx, "r"); return err == nil && idx.Count == 10 })
	s.jobs.SetStatus(ctx, "r", job.Running)
	s.write(t, "r", 10, 10, event.PhaseRunning)
	waitFor(t, "the running status", 10*time.Second, func() bool {
		idx, _, _ := s.arch.Index(ctx, "r")
		return idx.Record.Status == job.Running && idx.Count == 20
	})
	s.jobs.SetStatus(ctx, "r", job.Failed)
	s.waitComplete(t, "r")
	idx, _, _ := s.arch.Index(ctx, "r")
	if idx.Record.Status != job.Failed || idx.Record.OwnerOID != "o" || idx.Record.ELBJobID != "job-1" || idx.Count != 20 {
		t.Fatalf("%+v, count %d", idx.Record, idx.Count)
	}
}
