package event

import (
	"fmt"
	"reflect"
	"strings"
	"testing"
	"time"
)

// DecodeOwn reads what AppendJSON writes exactly as Decode does; what it cannot read
// it leaves to Decode.
func TestDecodeOwnAgreesWithDecode(t *testing.T) {
	ts := time.Date(2026, 12, 4, 15, 0, 0, 123e6, time.UTC)
	base := Event{ID: ID{MS: 1764201600000, Seq: 7}, SchemaVersion: 1, JobID: "run-42", Source: SourceK8s, Phase: "running", Stream: Stderr,
		Pod: "b-1", Container: "blast", Line: "x", TS: ts}
	cases := map[string]func(e *Event){
		"plain":       func(e *Event) {},
		"no id":       func(e *Event) { e.ID = ID{} },
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
	e := Event{ID: ID{MS: 1, Seq: 1}, SchemaVersion: 1, JobID: "j", Source: SourceK8s, Phase: "p", Stream: Stdout, Line: `a"b`,
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

// Events decoded into one Strings each equal Decode's, whatever fields they share with
// the event before them, and cost no allocation once the Strings has room.
func TestDecodeOwnInSharesStringsAcrossEvents(t *testing.T) {
	ts := time.Date(2026, 12, 4, 15, 0, 0, 123e6, time.UTC)
	var evs []Event
	for i := range 60 {
		e := Event{ID: ID{MS: 1764201600000, Seq: uint64(i)}, SchemaVersion: 1, JobID: "run-42", Source: SourceK8s,
			Phase: []string{"running", "staging-db"}[i/7%2], Stream: Stderr, Pod: fmt.Sprintf("b-%d", i/3), Container: "blast",
			Line: fmt.Sprintf("Query_%d\thit\t\"%d\"", i, i), TS: ts.Add(time.Duration(i) * time.Hour * 13)}
		if i%5 == 0 {
			e.ContainerID, e.Restart = fmt.Sprintf("containerd://%d", i/10), i%3
		}
		if i%11 == 0 {
			e.Source, e.Pod, e.Container, e.PubID, e.Seq = SourceTerminal, "", "", "0123456789abcdef", int64(i)
		}
		evs = append(evs, e)
	}
	var raw [][]byte
	n := 0
	for i := range evs {
		raw = append(raw, evs[i].AppendJSON(nil))
		n += len(raw[i])
	}
	var s Strings
	s.Grow(n)
	for i, b := range raw {
		got, ok := DecodeOwnIn(b, &s)
		want, err := Decode(b)
		if !ok || err != nil || !reflect.DeepEqual(got, want) {
			t.Fatalf("event %d (%v %v): %s\nown    %+v\ndecode %+v", i, ok, err, b, got, want)
		}
	}
	// What the encoder writes goes straight to its lines in both formats.
	for i, b := range raw {
		for _, f := range []LineFormat{TextLine, JSONLine} {
			if got, ok := DecodeLineIn(b, &s, f); !ok || got != evs[i].LineOnly(f) {
				t.Fatalf("event %d, format %d (%v): %+v", i, f, ok, got)
			}
		}
	}
	s = Strings{}
	s.Grow(n)
	if a := testing.AllocsPerRun(1, func() {
		for _, b := range raw {
			DecodeOwnIn(b, &s)
		}
	}); a != 0 {
		t.Fatalf("%v allocations for %d events", a, len(raw))
	}
}

// fastTime reads what it reads exactly as time.Parse(time.RFC3339Nano) does.
func FuzzFastTime(f *testing.F) {
	for _, s := range []string{"2026-12-04T15:00:00.123Z", "2026-02-28T23:59:59.999Z", "2026-02-29T00:00:00.000Z",
		"0000-01-01T00:00:00.000Z", "1900-02-29T00:00:00.000Z", "2000-02-29T00:00:00.000Z", "2024-02-29T12:00:00.000Z", "2026-04-31T00:00:00.000Z", "2026-12-31T23:59:59.999Z", "2026-13-04T15:00:00.123Z", "2026-12-04T24:00:00.000Z", "2026-12-04T15:00:60.000Z"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		got, ok := fastTime(s)
		if !ok {
			return
		}
		want, err := time.Parse(time.RFC3339Nano, s)
		if err != nil || !reflect.DeepEqual(got, want) {
			t.Fatalf("%q: fast %v, time.Parse %v %v", s, got, want, err)
		}
		if b, _ := fastTime([]byte(s)); !b.Equal(got) {
			t.Fatalf("%q: bytes %v, string %v", s, b, got)
		}
	})
}

// A line written from an event's bytes is the line of its decoded event, in either
// format.
func FuzzDecodeLineIn(f *testing.F) {
	e := Event{ID: ID{MS: 1, Seq: 1}, SchemaVersion: 1, JobID: "j", Source: SourceK8s, Phase: "running", Stream: Stderr, Pod: "p", Container: "c",
		Line: "a\tb \"q\" \\ / ü", ContainerID: "c", Restart: 1, TS: time.Date(2026, 12, 4, 15, 0, 0, 123e6, time.UTC)}
	f.Add(e.AppendJSON(nil))
	pub := Event{ID: ID{MS: 2}, SchemaVersion: 1, JobID: "j", Source: SourceTerminal, Stream: Stdout, Line: "x", PubID: "0123456789abcdef", Seq: 7,
		TS: time.Date(2028, 2, 29, 23, 59, 59, 999e6, time.UTC)}
	f.Add(pub.AppendJSON(nil))
	sys := System("j", "", "", "5 lines dropped", time.Time{})
	f.Add(sys.AppendJSON(nil))
	f.Add([]byte(`{"schema_version":1,"job_id":"j","source":"","phase":"","stream":"","pod":"","container":"","line":"a\/b","ts":"2026-02-30T00:00:00Z"}`))
	f.Add([]byte(`{"id":"2-0","schema_version":-0,"job_id":"j","source":"system","phase":"p\"","stream":"stderr","pod":"x","container":"","line":" ","ts":"2026-12-31T23:59:59.5+01:00","container_id":"","restart":0}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		for _, format := range []LineFormat{TextLine, JSONLine} {
			var s Strings
			got, ok := DecodeLineIn(data, &s, format)
			if !ok {
				continue
			}
			e, err := Decode(data)
			if err != nil {
				t.Fatalf("own read what Decode refuses (%v): %q", err, data)
			}
			if want := e.LineOnly(format); got != want {
				t.Fatalf("format %d: %q\nown    %+v\ndecode %+v", format, data, got, want)
			}
		}
	})
}

// special finds what a byte-by-byte look finds, eight bytes at a time.
func FuzzSpecial(f *testing.F) {
	f.Add([]byte("plain run of a BLAST line\twith a tab"), 0)
	f.Add([]byte("ünïcødé \xff\x80 bytes then a \"quote"), 3)
	f.Fuzz(func(t *testing.T, d []byte, i int) {
		if i < 0 || i > len(d) {
			return
		}
		want := i
		for want < len(d) && d[want] != '"' && d[want] != '\\' && d[want] >= 0x20 {
			want++
		}
		if got := special(d, i); got != want {
			t.Fatalf("%q from %d: %d, want %d", d, i, got, want)
		}
	})
}
