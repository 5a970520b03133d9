package chunk

import (
	"encoding/json"
	"fmt"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/blastlog/blastlog/core/event"
)

func TestNames(t *testing.T) {
	for _, c := range []struct{ job, phase, want string }{
		{"run-42", "running", "run-42/execution-steps/logs/running/000007.json"},
		{"a b/c", "staging db", "a_b_c/execution-steps/logs/staging_db/000007.json"},
		{"..", "", "_/execution-steps/logs/system/000007.json"},
		{"job:1.2", "phase.with:dots", "job:1.2/execution-steps/logs/phase_with_dots/000007.json"},
	} {
		if got := Name(c.job, Step(c.phase), 7); got != c.want {
			t.Errorf("Name(%q, %q) = %q want %q", c.job, c.phase, got, c.want)
		}
	}
	if IndexName("run-42") != "run-42/execution-steps/logs/index.json" {
		t.Error(IndexName("run-42"))
	}
	for rel, ok := range map[string]bool{"running/000007.json": true, "index.json": false, "running/x.json": false,
		"a/b/000001.json": false, "running/000001.txt": false, "/000001.json": false} {
		if _, _, got := ParseName(rel); got != ok {
			t.Errorf("ParseName(%q) ok=%v", rel, got)
		}
	}
}

func TestChunkRoundTrip(t *testing.T) {
	c := Chunk{SchemaVersion: 1, JobID: "run", Step: "running", Sequence: 3, CreatedAt: time.Unix(1700000000, 5e6).UTC(),
		Events: []event.Event{{ID: event.ID{MS: 1}, SchemaVersion: 1, JobID: "run", Source: event.SourceK8s, Phase: "running",
			Stream: event.Stderr, Pod: "p", Container: "c", Line: "x \u2028 \"y\"", TS: time.Unix(1700000000, 0).UTC(), Restart: 2}}}
	b := c.Encode()
	if !strings.HasPrefix(string(b), `{"schema_version":1,"job_id":"run","step":"running","sequence":3,"events":[{"id":"1-0",`) {
		t.Fatalf("encoded %s", b)
	}
	got, err := Decode(b)
	if err != nil || got.Sequence != 3 || len(got.Events) != 1 || got.Events[0].Line != c.Events[0].Line ||
		got.Events[0].Restart != 2 || !got.CreatedAt.Equal(c.CreatedAt) {
		t.Fatalf("%+v %v", got, err)
	}
	if _, err := Decode([]byte(`{"events":[{"line":"no id"}]}`)); err == nil {
		t.Fatal("an event without an id was accepted")
	}
}

func FuzzDecode(f *testing.F) {
	f.Add([]byte(`{"schema_version":1,"job_id":"r","step":"s","sequence":0,"events":[{"id":"1-0","line":"x"}],"created_at":"2026-01-01T00:00:00Z"}`))
	f.Add([]byte(`{"steps":{"a":{"chunks":[{"seq":0}]}}}`))
	shared := Chunk{SchemaVersion: 1, JobID: "r", Step: "running", CreatedAt: time.Unix(1, 0)}
	for i := range 4 {
		e := event.Event{ID: event.ID{MS: 1, Seq: uint64(i)}, SchemaVersion: 1, JobID: "r", Source: event.SourceK8s, Phase: "running",
			Stream: event.Stderr, Pod: fmt.Sprintf("p-%d", i/2), Container: "blast", Line: fmt.Sprintf("q_%d\thit \"%d\"", i, i),
			TS: time.Date(2026, 12, 4, 15, 0, i, 0, time.UTC)}
		shared.Events = append(shared.Events, e)
	}
	f.Add(shared.Encode())
	f.Fuzz(func(t *testing.T, b []byte) {
		// DecodeLines reads what Decode reads, each event reduced to its line.
		c, err := Decode(b)
		for _, format := range []event.LineFormat{event.TextLine, event.JSONLine} {
			lines, lerr := DecodeLines(b, format)
			if (err == nil) != (lerr == nil) || len(c.Events) != len(lines.Events) {
				t.Fatalf("Decode %v (%d events), DecodeLines(%d) %v (%d events)", err, len(c.Events), format, lerr, len(lines.Events))
			}
			for i := range lines.Events {
				if want := c.Events[i].LineOnly(format); lines.Events[i] != want {
					t.Fatalf("event %d, format %d: %+v, decoded %+v", i, format, lines.Events[i], want)
				}
			}
		}
		if err == nil {
			if _, err := Decode(c.Encode()); err != nil {
				t.Fatalf("a decoded chunk does not decode again: %v", err)
			}
			// The decoder's own path reads what encoding/json reads.
			if own, ok := decodeOwn(b); ok {
				var viaJSON Chunk
				if err := json.Unmarshal(b, &viaJSON); err != nil || !reflect.DeepEqual(own, viaJSON) {
					t.Fatalf("own %+v\njson %+v (%v)", own, viaJSON, err)
				}
			}
		}
		if x, err := DecodeIndex(b); err == nil {
			if _, err := DecodeIndex(x.Encode()); err != nil {
				t.Fatalf("a decoded index does not decode again: %v", err)
			}
		}
		ParseName(string(b))
	})
}

// RefOf counts the events the error/warning rules flag, so that a search for issues
// can pass over a chunk without one; an index without the count still reads.
func TestRefOfCountsIssues(t *testing.T) {
	c := Chunk{Sequence: 4, Events: []event.Event{{ID: event.ID{MS: 1}, Line: "ERROR: db missing"}, {ID: event.ID{MS: 2}, Line: "fine"},
		{ID: event.ID{MS: 3}, Line: "Warning: low score"}, {ID: event.ID{MS: 4}, Line: "a waiting notice", Notice: "waiting"}}}
	ref := RefOf(&c)
	if ref.Seq != 4 || ref.Count != 4 || ref.FirstID != (event.ID{MS: 1}) || ref.LastID != (event.ID{MS: 4}) || ref.Issues == nil || *ref.Issues != 2 {
		t.Fatalf("%+v", ref)
	}
	var old Ref
	if err := json.Unmarshal([]byte(`{"seq":1,"first_id":"1-0","last_id":"2-0","count":2}`), &old); err != nil || old.Issues != nil {
		t.Fatalf("an index without counts: %+v %v", old, err)
	}
	quiet := RefOf(&Chunk{Events: []event.Event{{ID: event.ID{MS: 1}, Line: "fine"}}})
	if b, _ := json.Marshal(quiet); !strings.Contains(string(b), `"issues":0`) {
		t.Fatalf("a count of 0 is written: %s", b)
	}
}
