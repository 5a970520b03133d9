package chunk

import (
	"bytes"
	"fmt"
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
		e := event.Event{ID: fmt.Sprintf("%d-%d", 1000+i, i%3), SchemaVersion: 1, JobID: c.JobID, Source: event.SourceK8s,
			Phase: phases[i%len(phases)], Stream: event.Stdout, Pod: `p"od`, Container: "c", Line: lines[i%len(lines)], TS: time.Now()}
		c.Events = append(c.Events, e)
	}
	raw := c.Encode()
	got, ok := Skim(raw, nil)
	if !ok || len(got) != len(c.Events) {
		t.Fatalf("ok %v, %d events, want %d", ok, len(got), len(c.Events))
	}
	for i, s := range got {
		if string(s.ID) != c.Events[i].ID || string(s.Phase) != c.Events[i].Phase {
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
	c := Chunk{SchemaVersion: 1, JobID: "j", Step: "s", Events: []event.Event{{ID: "1-0", SchemaVersion: 1, JobID: "j",
		Source: event.SourceK8s, Phase: "running", Stream: event.Stdout, Line: "x"}}}
	f.Add(c.Encode())
	f.Add([]byte(`{"events":[{"id":"1-0","phase":"\u00e9"}]}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		got, ok := Skim(data, nil)
		if !ok {
			return
		}
		for _, s := range got {
			if len(s.ID) > len(data) || bytes.IndexByte(s.ID, '"') >= 0 || len(s.Phase) > 3*len(data) { // invalid UTF-8 unquotes to U+FFFD: 3 bytes for 1
				t.Fatalf("%q", s)
			}
		}
	})
}
