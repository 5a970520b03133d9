package merge

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/blastlog/blastlog/core/event"
	"github.com/blastlog/blastlog/core/sanitize"
	"github.com/blastlog/blastlog/core/target"
)

func TestParseLine(t *testing.T) {
	for in, want := range map[string]string{
		"2026-06-01T02:03:04Z hello":               "2026-06-01T02:03:04Z|hello",
		"2026-06-01T02:03:04.1Z a b":               "2026-06-01T02:03:04.1Z|a b",
		"2026-06-01T02:03:04.123456789Z x":         "2026-06-01T02:03:04.123456789Z|x",
		"2026-06-01T04:03:04.5+02:00 tz":           "2026-06-01T02:03:04.5Z|tz",
		"2026-06-01T02:03:04.000000000Z ":          "2026-06-01T02:03:04Z|",
		"2026-06-01T02:03:04Z":                     "2026-06-01T02:03:04Z|",
		"2026-06-01T02:03:04Z  leading space kept": "2026-06-01T02:03:04Z| leading space kept",
	} {
		ts, content, err := ParseLine([]byte(in))
		if err != nil || ts.Format(time.RFC3339Nano)+"|"+string(content) != want {
			t.Errorf("%q: %v %q %v", in, ts, content, err)
		}
	}
	for _, bad := range []string{"", "hello world", "2026-06-01 02:03:04 x", "2026-13-01T02:03:04Z x", "2026-06-01T02:03:04.1234567891Z x"} {
		if _, _, err := ParseLine([]byte(bad)); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}

type line struct {
	ts   time.Time
	text string
}

func lines(base time.Time, spec ...string) []line {
	// spec entries: "<offset ms>:<text>"
	var out []line
	for _, s := range spec {
		var ms int
		var text string
		fmt.Sscanf(s, "%d:%s", &ms, &text)
		out = append(out, line{base.Add(time.Duration(ms) * time.Millisecond), text})
	}
	return out
}

func feed(c *Cursor, ls []line) []string {
	var out []string
	for _, l := range ls {
		if c.Accept(l.ts, []byte(l.text)) {
			out = append(out, l.text)
		}
	}
	return out
}

// A stream cut mid-second, resumed from the whole second: what was emitted before the
// cut is skipped, the rest passes, including identical lines with identical stamps.
func TestResumeAfterCutIsExact(t *testing.T) {
	base := time.Date(2026, 6, 1, 2, 3, 4, 0, time.UTC)
	log := lines(base, "100:a", "200:b", "300:b", "300:b", "900:c", "1100:d", "1200:d", "1500:e")
	for cut := 0; cut <= len(log); cut++ {
		var c Cursor
		got := feed(&c, log[:cut])
		// Save, then resume in another process from the checkpoint.
		raw, _ := json.Marshal(&c)
		var d Cursor
		json.Unmarshal(raw, &d)
		d.Resume()
		since := d.SinceTime()
		var replay []line
		for _, l := range log {
			if !l.ts.Before(since) {
				replay = append(replay, l)
			}
		}
		got = append(got, feed(&d, replay)...)
		want := []string{"a", "b", "b", "b", "c", "d", "d", "e"}
		if fmt.Sprint(got) != fmt.Sprint(want) {
			t.Fatalf("cut at %d: got %v", cut, got)
		}
	}
}

func TestOlderLinesAreNeverDroppedForBeingOlder(t *testing.T) {
	base := time.Date(2026, 6, 1, 2, 3, 4, 0, time.UTC)
	var c Cursor
	got := feed(&c, lines(base, "2000:late", "500:early", "2100:x", "1999:y"))
	if fmt.Sprint(got) != "[late early x y]" {
		t.Fatal(got)
	}
}

func TestOverflowBeyondMaxHashesStillExact(t *testing.T) {
	base := time.Date(2026, 6, 1, 2, 3, 4, 0, time.UTC)
	var log []line
	for i := 0; i < MaxHashes+500; i++ {
		log = append(log, line{base.Add(time.Duration(i) * time.Microsecond), fmt.Sprintf("l%d", i)})
	}
	log = append(log, line{base.Add(1500 * time.Millisecond), "after"})
	cut := MaxHashes + 200
	var c Cursor
	got := feed(&c, log[:cut])
	c.Resume()
	got = append(got, feed(&c, log)...) // the whole second comes again
	if len(got) != len(log) || got[len(got)-1] != "after" || got[cut] != fmt.Sprintf("l%d", cut) {
		t.Fatalf("%d lines, want %d", len(got), len(log))
	}
	raw, _ := json.Marshal(&c)
	if len(raw) > 64<<10 {
		t.Fatalf("checkpoint of %d bytes", len(raw))
	}
}

func TestEvent(t *testing.T) {
	tg := target.Target{Namespace: "default", Pod: "p", PodUID: "u", Container: "blast", ContainerID: "containerd://x", Phase: "running", Restart: 2}
	ts := time.Date(2026, 6, 1, 2, 3, 4, 123456789, time.UTC)
	raw := []byte("\x1b[31mhi password=x\x1b[0m")
	e := Event("run", tg, ts, raw, sanitize.Line(string(raw)))
	if e.Source != event.SourceK8s || e.Pod != "p" || e.Container != "blast" || e.Line != "hi password=***" || !e.TS.Equal(ts) ||
		e.ContainerID != "containerd://x" || e.Restart != 2 || e.Truncated {
		t.Fatalf("%+v", e)
	}
	if err := e.Validate(); err != nil {
		t.Fatal(err)
	}
	x := strings.Repeat("x", 5000)
	long := Event("run", tg, ts, []byte(x), sanitize.Line(x))
	if !long.Truncated || !strings.Contains(string(long.AppendJSON(nil)), `"truncated":true`) {
		t.Fatal("not flagged")
	}
}

func FuzzParseLine(f *testing.F) {
	f.Add([]byte("2026-06-01T02:03:04.123Z hello"))
	f.Add([]byte("2026-06-01T02:03:04Z"))
	f.Fuzz(func(t *testing.T, b []byte) {
		ts, content, err := ParseLine(b)
		if err != nil {
			return
		}
		if ts.Location() != time.UTC {
			t.Fatal("not UTC")
		}
		if len(content) > len(b) {
			t.Fatal("content longer than the line")
		}
	})
}
