package spool

import (
	"encoding/binary"
	"encoding/json"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/blastlog/blastlog/core/event"
	"github.com/blastlog/blastlog/ports"
)

// viaJSON is e as the first format kept it: its JSON, read back.
func viaJSON(t *testing.T, e event.Event) event.Event {
	t.Helper()
	d, err := event.Decode(e.AppendJSON(nil))
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// same: a and b are one event (times compared as instants, to the nanosecond).
func same(a, b event.Event) bool {
	at, bt := a.TS, b.TS
	a.TS, b.TS = time.Time{}, time.Time{}
	return at.Equal(bt) && string(a.AppendJSON(nil)) == string(b.AppendJSON(nil))
}

func writeSegment(t *testing.T, dir string, data []byte) {
	t.Helper()
	if err := os.WriteFile(filepath.Join(dir, segmentName(pub, 1)), data, 0o600); err != nil {
		t.Fatal(err)
	}
}

// mixedBatch is a publisher's batch of every kind of event a spool keeps: lines on
// both streams, cut ones, empty and non-ASCII ones, the command's end, a count of
// dropped lines, and a line without a time.
func mixedBatch(r *rand.Rand, n int) ports.SpoolBatch {
	b := ports.SpoolBatch{JobID: "run-1", After: event.ID{MS: 17, Seq: 3}}
	ts := time.Date(2026, 12, 7, 4, 30, 0, 123456789, time.Local)
	seq := int64(r.IntN(1000))
	for i := range n {
		seq += 1 + int64(r.IntN(2))
		ts = ts.Add(time.Duration(r.IntN(5_000_000)))
		e := event.Event{SchemaVersion: event.SchemaVersion, JobID: "run-1", Source: event.SourceTerminal, Phase: "submitting",
			Stream: event.Stdout, Line: strings.Repeat("y", r.IntN(3)) + "é\tline", TS: ts, PubID: pub, Seq: seq}
		switch r.IntN(12) {
		case 0:
			e.Stream = event.Stderr
		case 1:
			e.Truncated, e.Line = true, strings.Repeat("x", 4000)
		case 2:
			code := 3
			e = event.System("run-1", "submitting", event.NoticeCommandEnded, "sh exited with code 3", ts)
			e.Detail, e.PubID, e.Seq = &event.Detail{ExitCode: &code}, pub, seq
		case 3:
			e = event.System("run-1", "submitting", "", "blastlog: 9 lines of this step were not stored", ts)
			e.Dropped, e.PubID, e.Seq = 9, pub, seq
		case 4:
			e.TS = time.Time{}
		case 5:
			e.Line = ""
		}
		if i == 0 && r.IntN(2) == 0 {
			e.Phase = "another step" // the template comes from a later line
			e.Notice = event.NoticeCommandEnded
		}
		b.Events = append(b.Events, e)
	}
	return b
}

// A compact record reads back as the JSON of the first format did — plain lines with
// their time to the nanosecond — whatever the mix of events.
func TestCompactRecordRoundTrip(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 7))
	for round := range 300 {
		b := mixedBatch(r, 1+r.IntN(300))
		rec := encode(b)
		if string(rec[:4]) != magicCompact || int(binary.BigEndian.Uint32(rec[4:8])) != len(rec)-headerSize ||
			crcOf(rec[headerSize:]) != binary.BigEndian.Uint32(rec[8:12]) {
			t.Fatalf("round %d: a bad frame", round)
		}
		got, err := decodeCompact(rec[headerSize:])
		if err != nil {
			t.Fatalf("round %d: %v", round, err)
		}
		if got.JobID != b.JobID || got.After != b.After || len(got.Events) != len(b.Events) {
			t.Fatalf("round %d: %s %s %d events, want %d", round, got.JobID, got.After, len(got.Events), len(b.Events))
		}
		for i, e := range b.Events {
			want := viaJSON(t, e)
			if _, plain := plainOf(e); plain && !e.TS.IsZero() && got.Events[i].Seq == e.Seq && e.TS.Equal(got.Events[i].TS) {
				want.TS = e.TS // the compact form keeps nanoseconds
			}
			if !same(got.Events[i], want) {
				t.Fatalf("round %d event %d:\n got %+v\nwant %+v", round, i, got.Events[i], want)
			}
		}
	}
}

// Records of the first format, left by an older publisher, are still read.
func TestFirstFormatIsRead(t *testing.T) {
	b := mixedBatch(rand.New(rand.NewPCG(1, 2)), 50)
	payload, err := json.Marshal(map[string]any{"job_id": b.JobID, "after": b.After, "events": b.Events})
	if err != nil {
		t.Fatal(err)
	}
	rec := make([]byte, headerSize, headerSize+len(payload))
	copy(rec, magicJSON)
	binary.BigEndian.PutUint32(rec[4:8], uint32(len(payload)))
	binary.BigEndian.PutUint32(rec[8:12], crcOf(payload))
	rec = append(rec, payload...)
	path := t.TempDir()
	writeSegment(t, path, rec)
	left, err := (&Dir{Path: path}).Leftovers()
	if err != nil || len(left) != 1 {
		t.Fatal(len(left), err)
	}
	defer left[0].Close()
	got, ok, err := left[0].Oldest()
	if err != nil || !ok || len(got.Events) != 50 {
		t.Fatalf("%v %v %d", err, ok, len(got.Events))
	}
	for i, e := range b.Events {
		if !same(got.Events[i], viaJSON(t, e)) {
			t.Fatalf("event %d: %+v", i, got.Events[i])
		}
	}
}

// A burst of 2,000,000 short lines (`yes`) in the publisher's batches of 256 takes a
// few bytes a line: the default 256 MiB spool holds it many times over.
func TestBurstIsCompact(t *testing.T) {
	const lines, batch = 2_000_000, 256
	ts := time.Now()
	total := 0
	b := ports.SpoolBatch{JobID: "burst", After: event.ID{MS: 1700000000000}, Events: make([]event.Event, batch)}
	for first := 0; first < lines; first += batch {
		for i := range b.Events {
			ts = ts.Add(500 * time.Nanosecond)
			b.Events[i] = event.Event{SchemaVersion: event.SchemaVersion, JobID: "burst", Source: event.SourceTerminal,
				Phase: "submitting", Stream: event.Stdout, Line: "y", TS: ts, PubID: pub, Seq: int64(first + i + 1)}
		}
		total += len(encode(b))
	}
	if per := float64(total) / lines; per > 8 || total > DefaultMax/16 {
		t.Fatalf("%d bytes for %d lines (%.1f a line)", total, lines, per)
	}
}

// FuzzCompactRecord reads arbitrary payloads: never a panic, and what is read again
// is what was read.
func FuzzCompactRecord(f *testing.F) {
	rec := encode(mixedBatch(rand.New(rand.NewPCG(3, 4)), 20))
	f.Add(rec[headerSize:])
	f.Add([]byte{0})
	f.Fuzz(func(t *testing.T, payload []byte) {
		b, err := decodeCompact(payload)
		if err != nil {
			return
		}
		again, err := decodeCompact(encode(b)[headerSize:])
		if err != nil || len(again.Events) != len(b.Events) || again.JobID != b.JobID || again.After != b.After {
			t.Fatalf("%v: %d events, want %d", err, len(again.Events), len(b.Events))
		}
	})
}
