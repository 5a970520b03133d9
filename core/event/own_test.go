package event

import (
	"reflect"
	"strings"
	"testing"
	"time"
)

// DecodeOwn reads what AppendJSON writes exactly as Decode does; what it cannot read
// it leaves to Decode.
func TestDecodeOwnAgreesWithDecode(t *testing.T) {
	ts := time.Date(2026, 12, 4, 15, 0, 0, 123e6, time.UTC)
	base := Event{ID: "1764201600000-7", SchemaVersion: 1, JobID: "run-42", Source: SourceK8s, Phase: "running", Stream: Stderr,
		Pod: "b-1", Container: "blast", Line: "x", TS: ts}
	cases := map[string]func(e *Event){
		"plain":       func(e *Event) {},
		"no id":       func(e *Event) { e.ID = "" },
		"quotes":      func(e *Event) { e.Line = `say "hi" \ back\slash / slash` },
		"tab":         func(e *Event) { e.Line = "a\tb" },
		"unicode":     func(e *Event) { e.Line = "ünïcødé ≥ 99% 🧬" },
		"u2028":       func(e *Event) { e.Line = "a\u2028b" },
		"control":     func(e *Event) { e.Line = "bell\x07" },
		"k8s details": func(e *Event) { e.ContainerID, e.Restart, e.Truncated = "containerd://abc", 2, true },
		"publisher": func(e *Event) {
			e.Source, e.Pod, e.Container, e.PubID, e.Seq = SourceTerminal, "", "", "0123456789abcdef", 42
		},
		"notice": func(e *Event) {
			e.Source, e.Notice, e.Ended = SourceSystem, NoticeContainerEnded, &Ended{ExitCode: 137, Reason: "OOMKilled", Completeness: Complete}
		},
		"no ts": func(e *Event) { e.TS = time.Time{} },
	}
	for name, mutate := range cases {
		t.Run(name, func(t *testing.T) {
			e := base
			mutate(&e)
			b := e.AppendJSON(nil)
			want, err := Decode(b)
			if err != nil {
				t.Fatal(err)
			}
			got, ok := DecodeOwn(b)
			if !ok {
				if name == "plain" || name == "no id" || name == "quotes" || name == "tab" || name == "unicode" ||
					name == "k8s details" || name == "publisher" || name == "no ts" {
					t.Fatalf("not read: %s", b)
				}
				return
			}
			if !reflect.DeepEqual(got, want) {
				t.Fatalf("%s\nown    %+v\ndecode %+v", b, got, want)
			}
		})
	}
}

func FuzzDecodeOwn(f *testing.F) {
	e := Event{ID: "1-1", SchemaVersion: 1, JobID: "j", Source: SourceK8s, Phase: "p", Stream: Stdout, Line: `a"b`,
		ContainerID: "c", Restart: 1, TS: time.Unix(1, 0)}
	f.Add(e.AppendJSON(nil))
	f.Add([]byte(`{"schema_version":007,"job_id":"j","source":"","phase":"","stream":"","pod":"","container":"","line":"","ts":""}`))
	f.Add([]byte(strings.Replace(string(e.AppendJSON(nil)), `"line":"a\"b"`, `"line":"a\u0041"`, 1)))
	f.Fuzz(func(t *testing.T, data []byte) {
		got, ok := DecodeOwn(data)
		if !ok {
			return
		}
		want, err := Decode(data)
		if err != nil {
			t.Fatalf("own read what Decode refuses (%v): %q", err, data)
		}
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("%q\nown    %+v\ndecode %+v", data, got, want)
		}
	})
}
