package chunk

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/blastlog/blastlog/core/event"
)

// Skim finds every event's id and phase, whatever its line holds: quotes, backslashes,
// braces, the very sequences it looks for, non-ASCII, escaped control characters.
func TestSkimAgreesWithDecode(t *testing.T) {
	lines := []string{`plain`, `a "quoted" {"id":"1-1"} ,"phase":"x"`, `back\slash \" and \\`, "tab\there", "ünïcødé ≥ 99%",
		"\u2028 line separator", `}],"created_at":"`, ""}
	phases := []string{"running", `odd "phase"`, "ph\\ase", "é", ""}
	c := Chunk{SchemaVersion: 1, JobID: `job "x"`, Step: "running", CreatedAt: time.Now()}
	for i := 0; i < 40; i++ {
		e := event.Event{ID: event.ID{MS: uint64(1000 + i), Seq: uint64(i % 3)}, SchemaVersion: 1, JobID: c.JobID, Source: event.SourceK8s,
			Phase: phases[i%len(phases)], Stream: event.Stdout, Pod: `p"od`, Container: "c", Line: lines[i%len(lines)], TS: time.Now()}
		c.Events = append(c.Events, e)
	}
	raw := c.Encode()
	got, ok := Skim(raw, nil)
	if !ok || len(got) != len(c.Events) {
		t.Fatalf("ok %v, %d events, want %d", ok, len(got), len(c.Events))
	}
	for i, s := range got {
		if s.ID != c.Events[i].ID || string(s.Phase) != c.Events[i].Phase {
			t.Fatalf("event %d: skimmed %q %q, want %q %q", i, s.ID, s.Phase, c.Events[i].ID, c.Events[i].Phase)
		}
	}
	// Another writer's field order is not skimmed as this one: its count does not
	// agree with the index's, and the caller decodes.
	other := strings.Replace(string(raw), `{"id":"`, `{"schema_version":1,"id":"`, -1)
	if got, ok := Skim([]byte(other), nil); ok && len(got) == len(c.Events) {
		t.Fatal("skimmed a chunk of another shape")
	}
}

func FuzzSkim(f *testing.F) {
	c := Chunk{SchemaVersion: 1, JobID: "j", Step: "s", Events: []event.Event{{ID: event.ID{MS: 1}, SchemaVersion: 1, JobID: "j",
		Source: event.SourceK8s, Phase: "running", Stream: event.Stdout, Line: "x"}}}
	f.Add(c.Encode())
	f.Add([]byte(`{"events":[{"id":"1-0","phase":"\u00e9"}]}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		got, ok := Skim(data, nil)
		if !ok {
			return
		}
		for _, s := range got {
			if s.ID.IsZero() || len(s.Phase) > 3*len(data) { // invalid UTF-8 unquotes to U+FFFD: 3 bytes for 1
				t.Fatalf("%q", s)
			}
		}
	})
}

// The chunk decoder's own path reads what encoding/json reads: log lines of every
// kind and notices with their fields.
func TestDecodeOwnShapeAgreesWithJSON(t *testing.T) {
	at := time.Date(2026, 12, 4, 15, 0, 0, 0, time.UTC)
	c := Chunk{SchemaVersion: 1, JobID: `job "x"`, Step: "running", Sequence: 7, CreatedAt: at}
	code := 7
	for i, line := range []string{"plain", `q"uote \ back`, "ünï", "\u2028", "bell\x07", `{"id":"1-1"}`, ""} {
		e := event.Event{ID: event.ID{MS: uint64(100 + i)}, SchemaVersion: 1, JobID: c.JobID, Source: event.SourceK8s, Phase: "running",
			Stream: event.Stdout, Pod: "p", Container: "c", ContainerID: "cid", Restart: i, Line: line, TS: at}
		c.Events = append(c.Events, e)
	}
	n := event.System(c.JobID, "running", event.NoticeContainerEnded, "p/c ended", at)
	n.ID, n.Pod, n.Container, n.Ended = event.ID{MS: 200}, "p", "c", &event.Ended{ExitCode: 137, Reason: "OOMKilled", Completeness: event.Complete}
	d := event.System(c.JobID, "submitting", event.NoticeCommandEnded, "exited", at)
	d.ID, d.Detail = event.ID{MS: 201}, &event.Detail{ExitCode: &code}
	c.Events = append(c.Events, n, d)
	raw := c.Encode()
	own, ok := decodeOwn(raw)
	if !ok {
		t.Fatal("the encoder's own shape was not read")
	}
	var viaJSON Chunk
	if err := json.Unmarshal(raw, &viaJSON); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(own, viaJSON) {
		t.Fatalf("own  %+v\njson %+v", own, viaJSON)
	}
	empty := Chunk{SchemaVersion: 1, JobID: "j", Step: "s", CreatedAt: at, Events: []event.Event{}}
	if got, ok := decodeOwn(empty.Encode()); !ok || len(got.Events) != 0 {
		t.Fatalf("empty: %v %+v", ok, got)
	}
}
