package portstest

import (
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"

	"github.com/blastlog/blastlog/core/event"
	"github.com/blastlog/blastlog/ports"
)

// SpoolBatch returns a batch of run jobID with n lines of publisher pubID, Seq from
// first on, each line about size bytes long.
func SpoolBatch(jobID, pubID string, first int64, n, size int) ports.SpoolBatch {
	b := ports.SpoolBatch{JobID: jobID, After: event.ID{MS: 1}}
	for i := 0; i < n; i++ {
		e := Event(jobID, fmt.Sprintf("line %d %s", first+int64(i), strings.Repeat("x", size)))
		e.PubID, e.Seq = pubID, first+int64(i)
		b.Events = append(b.Events, e)
	}
	return b
}

// TestSpools is the conformance suite of ports.Spools. machine returns a function
// that opens the same machine's spool directory afresh (as another process would),
// capped at max bytes.
func TestSpools(t *testing.T, machine func(t *testing.T, max int64) func() ports.Spools) {
	const pub, pub2 = "0123456789abcdef", "fedcba9876543210"
	drain := func(t *testing.T, s ports.Spool) []int64 {
		t.Helper()
		var seqs []int64
		for {
			b, ok, err := s.Oldest()
			if err != nil {
				t.Fatal(err)
			}
			if !ok {
				return seqs
			}
			for _, e := range b.Events {
				seqs = append(seqs, e.Seq)
			}
			if err := s.Ack(); err != nil {
				t.Fatal(err)
			}
		}
	}
	want := func(t *testing.T, got []int64, from, to int64) {
		t.Helper()
		if int64(len(got)) != to-from+1 {
			t.Fatalf("got %d seqs %v, want %d..%d", len(got), got, from, to)
		}
		for i, s := range got {
			if s != from+int64(i) {
				t.Fatalf("seq %d at %d, want %d: %v", s, i, from+int64(i), got)
			}
		}
	}

	t.Run("InOrderWithEventsIntact", func(t *testing.T) {
		open := machine(t, 0)
		s, err := open().Create(pub)
		if err != nil {
			t.Fatal(err)
		}
		defer s.Close()
		in := SpoolBatch("run-1", pub, 1, 3, 10)
		if err := s.Put(in); err != nil {
			t.Fatal(err)
		}
		if err := s.Put(SpoolBatch("run-1", pub, 4, 2, 10)); err != nil {
			t.Fatal(err)
		}
		b, ok, err := s.Oldest()
		if err != nil || !ok {
			t.Fatalf("oldest: %v %v", ok, err)
		}
		if b.JobID != "run-1" || b.After != (event.ID{MS: 1}) || len(b.Events) != 3 {
			t.Fatalf("batch %+v", b)
		}
		for i, e := range b.Events {
			if string(e.AppendJSON(nil)) != string(in.Events[i].AppendJSON(nil)) {
				t.Fatalf("event %d changed:\n%s\n%s", i, e.AppendJSON(nil), in.Events[i].AppendJSON(nil))
			}
		}
		if err := s.Ack(); err != nil {
			t.Fatal(err)
		}
		want(t, drain(t, s), 4, 5)
	})

	t.Run("ALowerBatchGoesAhead", func(t *testing.T) {
		s, err := machine(t, 0)().Create(pub)
		if err != nil {
			t.Fatal(err)
		}
		defer s.Close()
		for _, first := range []int64{11, 21, 1} {
			if err := s.Put(SpoolBatch("run-1", pub, first, 10, 1)); err != nil {
				t.Fatal(err)
			}
		}
		want(t, drain(t, s), 1, 30)
	})

	t.Run("LeftoversAfterCloseOnly", func(t *testing.T) {
		open := machine(t, 0)
		s, err := open().Create(pub)
		if err != nil {
			t.Fatal(err)
		}
		if err := s.Put(SpoolBatch("run-1", pub, 1, 5, 1)); err != nil {
			t.Fatal(err)
		}
		empty, err := open().Create(pub2)
		if err != nil {
			t.Fatal(err)
		}
		if err := empty.Close(); err != nil {
			t.Fatal(err)
		}
		if left, err := open().Leftovers(); err != nil || len(left) != 0 {
			t.Fatalf("a held spool is a leftover: %d %v", len(left), err)
		}
		if err := s.Close(); err != nil {
			t.Fatal(err)
		}
		left, err := open().Leftovers()
		if err != nil || len(left) != 1 {
			t.Fatalf("leftovers %d %v (want the one with lines, not the empty one)", len(left), err)
		}
		if again, _ := open().Leftovers(); len(again) != 0 {
			t.Fatalf("a leftover handed out twice")
		}
		want(t, drain(t, left[0]), 1, 5)
		if err := left[0].Close(); err != nil {
			t.Fatal(err)
		}
		if again, _ := open().Leftovers(); len(again) != 0 {
			t.Fatalf("a drained leftover came back")
		}
	})

	t.Run("PartlyAcknowledgedLeftoverKeepsTheRest", func(t *testing.T) {
		open := machine(t, 0)
		s, _ := open().Create(pub)
		for first := int64(1); first <= 30; first += 10 {
			if err := s.Put(SpoolBatch("run-1", pub, first, 10, 1)); err != nil {
				t.Fatal(err)
			}
		}
		s.Close()
		left, _ := open().Leftovers()
		if len(left) != 1 {
			t.Fatalf("%d leftovers", len(left))
		}
		if _, _, err := left[0].Oldest(); err != nil {
			t.Fatal(err)
		}
		left[0].Ack()
		left[0].Close()
		left, _ = open().Leftovers()
		if len(left) != 1 {
			t.Fatalf("%d leftovers", len(left))
		}
		got := drain(t, left[0])
		// A store may keep acknowledged batches of a file it has not finished; a replay
		// skips them by Seq. What it must keep is everything not acknowledged, in order.
		if len(got) < 20 || got[len(got)-1] != 30 || got[len(got)-20] != 11 {
			t.Fatalf("after acknowledging 1..10: %v", got)
		}
		left[0].Close()
	})

	t.Run("FullIsRefusedAndFreedByAck", func(t *testing.T) {
		open := machine(t, 64<<10)
		s, _ := open().Create(pub)
		defer s.Close()
		var put int64
		for first := int64(1); ; first += 10 {
			err := s.Put(SpoolBatch("run-1", pub, first, 10, 1000))
			if errors.Is(err, ports.ErrSpoolFull) {
				break
			}
			if err != nil {
				t.Fatal(err)
			}
			put = first + 9
			if first > 1000 {
				t.Fatal("never full")
			}
		}
		if put < 40 {
			t.Fatalf("full after %d lines of 1 KB under a 64 KiB cap", put)
		}
		got := drain(t, s)
		want(t, got, 1, put)
		var err error
		for i := 0; i < 2; i++ { // space comes back once what was read is gone
			if err = s.Put(SpoolBatch("run-1", pub, put+1+int64(i)*10, 10, 1000)); err == nil {
				break
			}
		}
		if err != nil {
			t.Fatalf("space not freed after draining: %v", err)
		}
	})

	t.Run("ConcurrentPutAndDrain", func(t *testing.T) {
		s, _ := machine(t, 0)().Create(pub)
		defer s.Close()
		const batches = 200
		var wg sync.WaitGroup
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := int64(0); i < batches; i++ {
				if err := s.Put(SpoolBatch("run-1", pub, 1+i*5, 5, 20)); err != nil {
					t.Error(err)
					return
				}
			}
		}()
		var got []int64
		for int64(len(got)) < batches*5 && !t.Failed() {
			b, ok, err := s.Oldest()
			if err != nil {
				t.Fatal(err)
			}
			if !ok {
				continue
			}
			for _, e := range b.Events {
				got = append(got, e.Seq)
			}
			s.Ack()
		}
		wg.Wait()
		want(t, got, 1, batches*5)
	})
}
