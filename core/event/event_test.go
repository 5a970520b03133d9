package event

import (
	"encoding/json"
	"errors"
	"strconv"
	"strings"
	"testing"
	"time"
)

func sample() Event {
	return Event{
		SchemaVersion: 1, JobID: "run-42", Source: SourceTerminal, Phase: PhaseSubmitting,
		Stream: Stdout, Line: "[1/5] Writing configuration to ...",
		TS: time.Date(2026, 11, 26, 23, 0, 0, 123_000_000, time.UTC),
	}
}

func TestAppendJSONMatchesContractExample(t *testing.T) {
	e := sample()
	e.ID = ID{MS: 1764201600000}
	want := `{"id":"1764201600000-0","schema_version":1,"job_id":"run-42","source":"terminal_exec",` +
		`"phase":"submitting","stream":"stdout","pod":"","container":"","line":"[1/5] Writing configuration to ...",` +
		`"ts":"2026-11-26T23:00:00.123Z"}`
	if got := string(e.AppendJSON(nil)); got != want {
		t.Fatalf("got  %s\nwant %s", got, want)
	}
	e.ID = ID{}
	if got := string(e.AppendJSON(nil)); strings.Contains(got, `"id"`) {
		t.Fatalf("stored form carries an id: %s", got)
	}
}

func TestAppendJSONIsValidJSONAndEscapes(t *testing.T) {
	e := sample()
	e.Line = "quote\" back\\ tab\t nl\n cr\r nul\x00 ls\u2028 <b>&amp; bad\xff é"
	e.Source, e.Pod, e.Container, e.ContainerID, e.Restart = SourceK8s, "p", "c", "containerd://abc", 2
	b := e.AppendJSON(nil)
	var generic map[string]any
	if err := json.Unmarshal(b, &generic); err != nil {
		t.Fatalf("not JSON: %v\n%s", err, b)
	}
	if strings.ContainsAny(string(b), "\n\r\u2028") {
		t.Fatalf("raw line break in JSON: %q", b)
	}
	if !strings.Contains(string(b), "<b>&amp;") {
		t.Fatalf("HTML characters were escaped: %s", b)
	}
	if generic["restart"].(float64) != 2 || generic["container_id"] != "containerd://abc" {
		t.Fatalf("k8s extras missing: %s", b)
	}
	got, err := Decode(b)
	if err != nil {
		t.Fatal(err)
	}
	if want := strings.ReplaceAll(e.Line, "\xff", "\ufffd"); got.Line != want {
		t.Fatalf("line round trip: %q want %q", got.Line, want)
	}
}

func TestDecodeToleratesPythonProducer(t *testing.T) {
	// As Python's json.dumps(..., separators=(",", ":")) writes it: ensure_ascii escapes,
	// isoformat timestamps with +00:00, and a field this version does not know.
	py := `{"schema_version":1,"job_id":"job-1","source":"terminal_exec","phase":"staging_db",` +
		`"stream":"stderr","pod":"","container":"","line":"caf\u00e9 \u2713","ts":"2026-06-01T02:03:04.123456+00:00","task_id":"abc"}`
	e, err := Decode([]byte(py))
	if err != nil {
		t.Fatal(err)
	}
	if e.Line != "café ✓" || e.Stream != Stderr || e.Phase != PhaseStagingDB {
		t.Fatalf("decoded %+v", e)
	}
	if want := time.Date(2026, 6, 1, 2, 3, 4, 123456000, time.UTC); !e.TS.Equal(want) {
		t.Fatalf("ts %v want %v", e.TS, want)
	}
	if err := e.Validate(); err != nil {
		t.Fatalf("python event does not validate: %v", err)
	}
}

func TestDecodeDefaultsMissingFields(t *testing.T) {
	e, err := Decode([]byte(`{"job_id":"j","line":"x","ts":"not a time"}`))
	if err != nil {
		t.Fatal(err)
	}
	if e.SchemaVersion != 1 || e.Source != SourceTerminal || e.Stream != Stdout || !e.TS.IsZero() {
		t.Fatalf("defaults not applied: %+v", e)
	}
	if _, err := Decode([]byte(`{"job_id":`)); err == nil {
		t.Fatal("malformed JSON accepted")
	}
}

func TestValidate(t *testing.T) {
	cases := map[string]func(e *Event){
		"empty job":        func(e *Event) { e.JobID = "" },
		"long job":         func(e *Event) { e.JobID = strings.Repeat("j", 129) },
		"control in job":   func(e *Event) { e.JobID = "a\x1bb" },
		"bad source":       func(e *Event) { e.Source = "cron" },
		"bad stream":       func(e *Event) { e.Stream = "stdin" },
		"schema 2":         func(e *Event) { e.SchemaVersion = 2 },
		"long phase":       func(e *Event) { e.Phase = strings.Repeat("p", 81) },
		"long line":        func(e *Event) { e.Line = strings.Repeat("é", 4001) },
		"newline":          func(e *Event) { e.Line = "a\nb" },
		"invalid utf8":     func(e *Event) { e.Line = "\xff" },
		"pod on terminal":  func(e *Event) { e.Pod = "p" },
		"container on sys": func(e *Event) { e.Source, e.Container = SourceSystem, "c" },
		"pod on following": func(e *Event) { e.Source, e.Notice, e.Pod = SourceSystem, "following", "p" },
	}
	for name, mutate := range cases {
		t.Run(name, func(t *testing.T) {
			e := sample()
			mutate(&e)
			if err := e.Validate(); !errors.Is(err, ErrInvalid) {
				t.Fatalf("want ErrInvalid, got %v", err)
			}
		})
	}
	ok := sample()
	ok.Phase = CapPhase(strings.Repeat("é", 200))
	ok.Line = strings.Repeat("é", 4000)
	ok.JobID = strings.Repeat("j", 128)
	if err := ok.Validate(); err != nil {
		t.Fatalf("valid event refused: %v", err)
	}
	ended := System("run-1", PhaseRunning, NoticeContainerEnded, "b-1/blast ended", time.Now())
	ended.Pod, ended.Container, ended.ContainerID, ended.Ended = "b-1", "blast", "containerd://1", &Ended{ExitCode: 137}
	if err := ended.Validate(); err != nil {
		t.Fatalf("a container_ended notice naming its container refused: %v", err)
	}
}

// A cluster_idle notice's detail survives its JSON.
func TestClusterIdleDetail(t *testing.T) {
	rate := 8.064
	e := System("run-1", "", NoticeClusterIdle, "the cluster is still up", time.Date(2026, 12, 7, 10, 20, 0, 0, time.UTC))
	e.Detail = &Detail{FirstTS: time.Date(2026, 12, 7, 10, 0, 0, 0, time.UTC), Nodes: 4, USDPerHour: &rate}
	if err := e.Validate(); err != nil {
		t.Fatal(err)
	}
	b := e.AppendJSON(nil)
	if !strings.Contains(string(b), `"nodes":4,"usd_per_hour":8.064`) {
		t.Fatalf("%s", b)
	}
	got, err := Decode(b)
	if err != nil || got.Detail == nil || got.Detail.Nodes != 4 || got.Detail.USDPerHour == nil || *got.Detail.USDPerHour != rate ||
		!got.Detail.FirstTS.Equal(e.Detail.FirstTS) {
		t.Fatalf("%+v %v", got.Detail, err)
	}
}

func TestParseID(t *testing.T) {
	for in, want := range map[string]ID{"0-0": {}, "1764201600000-7": {1764201600000, 7}, "5": {5, 0},
		"18446744073709551615-18446744073709551615": {^uint64(0), ^uint64(0)}} {
		got, err := ParseID(in)
		if err != nil || got != want {
			t.Errorf("ParseID(%q) = %v, %v", in, got, err)
		}
	}
	for _, bad := range []string{"", "-", "1-", "-1", "+1-0", "1-0-0", " 1-0", "a-b", "18446744073709551616-0", "1-2 ", "0x1-0"} {
		if _, err := ParseID(bad); err == nil {
			t.Errorf("ParseID(%q) accepted", bad)
		}
	}
	if n, _ := (ID{3, 9}).Next(); n != (ID{3, 10}) {
		t.Errorf("next %v", n)
	}
	if n, _ := (ID{3, ^uint64(0)}).Next(); n != (ID{4, 0}) {
		t.Errorf("next across ms %v", n)
	}
	if _, ok := (ID{^uint64(0), ^uint64(0)}).Next(); ok {
		t.Error("largest id has a next")
	}
	if (ID{1, 2}).Compare(ID{1, 3}) != -1 || (ID{2, 0}).Compare(ID{1, 9}) != 1 || (ID{1, 1}).Compare(ID{1, 1}) != 0 {
		t.Error("compare")
	}
}

// Ids are strings in JSON: empty for none (last_id, next_after), whole in a gap,
// and text that is no id is refused where an id is expected.
func TestIDText(t *testing.T) {
	type doc struct {
		Last ID  `json:"last_id"`
		Gap  Gap `json:"gap"`
	}
	b, err := json.Marshal(doc{Gap: Gap{FirstAvailable: ID{7, 1}, Reason: GapReasonTrimmed}})
	if err != nil || string(b) != `{"last_id":"","gap":{"after":"0-0","first_available":"7-1","reason":"trimmed"}}` {
		t.Fatalf("%s %v", b, err)
	}
	var d doc
	if err := json.Unmarshal([]byte(`{"last_id":"5-2","gap":{"after":"","first_available":"9"}}`), &d); err != nil ||
		d.Last != (ID{5, 2}) || !d.Gap.After.IsZero() || d.Gap.FirstAvailable != (ID{9, 0}) {
		t.Fatalf("%+v %v", d, err)
	}
	if err := json.Unmarshal([]byte(`{"last_id":"5-x"}`), &d); !errors.Is(err, ErrBadID) {
		t.Fatalf("a bad id: %v", err)
	}
	// An event's id that is no id is read as none (Decode does not validate).
	if e, err := Decode([]byte(`{"id":"not-one","line":"x"}`)); err != nil || !e.ID.IsZero() {
		t.Fatalf("%+v %v", e, err)
	}
}

func FuzzDecode(f *testing.F) {
	s := sample()
	f.Add(s.AppendJSON(nil))
	f.Add([]byte(`{"line":"\u2028","restart":-1}`))
	f.Add([]byte(`[]`))
	f.Add([]byte(`{"source":"system","notice":"cluster_idle","first_ts":"2026-12-07T10:00:00Z","nodes":4,"usd_per_hour":8.064}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		e, err := Decode(data)
		if err != nil {
			return
		}
		// Whatever decodes must re-encode to JSON that decodes to the same event.
		again, err := Decode(e.AppendJSON(nil))
		if err != nil {
			t.Fatalf("re-encoding is not JSON: %v", err)
		}
		e.TS = e.TS.Truncate(time.Millisecond)
		if e.TS.IsZero() != again.TS.IsZero() || (!e.TS.IsZero() && !e.TS.Equal(again.TS)) {
			t.Fatalf("ts changed: %v -> %v", e.TS, again.TS)
		}
		e.TS, again.TS = time.Time{}, time.Time{}
		if strings.ToValidUTF8(e.Line, "\ufffd") != again.Line {
			t.Fatalf("line changed: %q -> %q", e.Line, again.Line)
		}
	})
}

func FuzzParseID(f *testing.F) {
	for _, s := range []string{"0-0", "1-1", "99", "1-", "-", "1764201600000-7", "18446744073709551615-9999999999999999999", "18446744073709551616-1"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		id, err := ParseID(s)
		if err != nil {
			return
		}
		ms, seq, hasSeq := strings.Cut(s, "-")
		if v, err := strconv.ParseUint(ms, 10, 64); err != nil || v != id.MS {
			t.Fatalf("%q: ms %d, strconv %d %v", s, id.MS, v, err)
		}
		if v, err := strconv.ParseUint(seq, 10, 64); hasSeq && (err != nil || v != id.Seq) {
			t.Fatalf("%q: seq %d, strconv %d %v", s, id.Seq, v, err)
		}
		back, err := ParseID(id.String())
		if err != nil || back != id {
			t.Fatalf("%q -> %v -> %v, %v", s, id, back, err)
		}
		// The bytes a decoder holds parse as the string does, and text round-trips.
		var fromText ID
		if err := fromText.UnmarshalText([]byte(s)); err != nil || fromText != id {
			t.Fatalf("%q: UnmarshalText %v, %v", s, fromText, err)
		}
		text, _ := id.MarshalText()
		var again ID
		if err := again.UnmarshalText(text); err != nil || again != id {
			t.Fatalf("%q: text %q reads back as %v, %v", s, text, again, err)
		}
		if next, ok := id.Next(); ok && next.Compare(id) != 1 {
			t.Fatalf("next %v not after %v", next, id)
		}
	})
}

func TestPublisherAndContainerEndedFieldsRoundTrip(t *testing.T) {
	e := sample()
	e.PubID, e.Seq = "0123456789abcdef", 42
	b := e.AppendJSON(nil)
	if !strings.HasSuffix(string(b), `,"pub_id":"0123456789abcdef","seq":42}`) {
		t.Fatalf("publisher fields: %s", b)
	}
	if got, _ := Decode(b); got.PubID != e.PubID || got.Seq != 42 || got.Ended != nil {
		t.Fatalf("decoded %+v", got)
	}
	d := System("run-42", "", "", "5 lines dropped", e.TS)
	d.PubID, d.Seq, d.Dropped = e.PubID, 47, 5
	if got, _ := Decode(d.AppendJSON(nil)); got.Dropped != 5 || d.Validate() != nil {
		t.Fatalf("dropped: %s", d.AppendJSON(nil))
	}
	start := time.Date(2026, 11, 26, 23, 0, 0, 0, time.UTC)
	n := System("run-42", PhaseRunning, NoticeContainerEnded, "pod p container c ended", start.Add(time.Minute))
	n.Ended = &Ended{ExitCode: 137, Reason: "OOMKilled", StartedAt: start, FinishedAt: start.Add(time.Minute),
		Completeness: Partial, Missing: MissingDeleted, MissingLines: 12}
	if err := n.Validate(); err != nil {
		t.Fatal(err)
	}
	b = n.AppendJSON(nil)
	want := `,"notice":"container_ended","exit_code":137,"reason":"OOMKilled","started_at":"2026-11-26T23:00:00.000Z",` +
		`"finished_at":"2026-11-26T23:01:00.000Z","completeness":"partial","missing":"deleted","missing_lines":12}`
	if !strings.HasSuffix(string(b), want) {
		t.Fatalf("container_ended fields:\n%s\nwant suffix\n%s", b, want)
	}
	got, err := Decode(b)
	if err != nil || got.Ended == nil || *got.Ended != *n.Ended {
		t.Fatalf("decoded %+v (%v), want %+v", got.Ended, err, n.Ended)
	}
	// An init container and the limits of its pod spec.
	n.Ended.Init, n.Ended.Memory, n.Ended.CPU = true, "62Gi", "15"
	b = n.AppendJSON(nil)
	if want := `"missing_lines":12,"init":true,"limit":{"memory":"62Gi","cpu":"15"}}`; !strings.HasSuffix(string(b), want) {
		t.Fatalf("container_ended init and limit:\n%s\nwant suffix\n%s", b, want)
	}
	if got, err := Decode(b); err != nil || got.Ended == nil || *got.Ended != *n.Ended {
		t.Fatalf("decoded %+v (%v), want %+v", got.Ended, err, n.Ended)
	}
	for _, bad := range []func(*Event){
		func(e *Event) { e.PubID, e.Seq = "XYZ", 1 },
		func(e *Event) { e.PubID, e.Seq = "0123456789abcdef", 0 },
		func(e *Event) { e.Seq = 3 },
		func(e *Event) { e.Ended = &Ended{Completeness: Complete} },
		func(e *Event) { e.Dropped = 4 },
	} {
		e := sample()
		bad(&e)
		if err := e.Validate(); !errors.Is(err, ErrInvalid) {
			t.Errorf("%+v: %v", e, err)
		}
	}
}

// The diagnosis notices' details (docs/api.md §8) are written after the common fields and
// read back as they were; a detail on a plain line or a container_ended is refused.
func TestDiagnosisNoticeDetailsRoundTrip(t *testing.T) {
	at := time.Date(2026, 12, 4, 15, 0, 0, 0, time.UTC)
	code := 7
	cases := []struct {
		name   string
		notice string
		d      Detail
		want   string
	}{
		{"k8s_event", NoticeK8sEvent, Detail{Object: "Pod/b-013-x", Type: "Warning", Reason: "FailedScheduling", Count: 4,
			FirstTS: at, LastTS: at.Add(time.Minute)},
			`,"object":"Pod/b-013-x","type":"Warning","reason":"FailedScheduling","count":4,"first_ts":"2026-12-04T15:00:00.000Z","last_ts":"2026-12-04T15:01:00.000Z"}`},
		{"waiting", NoticeWaiting, Detail{Object: "Pod/b-013-x", Reason: "Unschedulable"},
			`,"object":"Pod/b-013-x","reason":"Unschedulable"}`},
		{"batch", NoticeBatch, Detail{Object: "Job/blastn-batch-nt-job-013-3ed51a95", Batch: "013", State: "failed",
			Reason: "BackoffLimitExceeded", Memory: "62Gi", CPU: "15"},
			`,"object":"Job/blastn-batch-nt-job-013-3ed51a95","reason":"BackoffLimitExceeded","batch":"013","state":"failed","limit":{"memory":"62Gi","cpu":"15"}}`},
		{"command_ended", NoticeCommandEnded, Detail{ExitCode: &code}, `,"exit_code":7}`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			e := System("run-42", PhaseRunning, c.notice, "x", at)
			d := c.d
			e.Detail = &d
			if c.notice != NoticeBatch && c.notice != NoticeCommandEnded {
				e.Pod = "b-013-x"
			}
			if err := e.Validate(); err != nil {
				t.Fatal(err)
			}
			b := e.AppendJSON(nil)
			if !strings.HasSuffix(string(b), c.want) {
				t.Fatalf("%s\nwant suffix %s", b, c.want)
			}
			got, err := Decode(b)
			if err != nil || got.Detail == nil {
				t.Fatalf("decoded %+v (%v)", got, err)
			}
			if (got.Detail.ExitCode == nil) != (d.ExitCode == nil) || d.ExitCode != nil && *got.Detail.ExitCode != *d.ExitCode {
				t.Fatalf("exit code %v", got.Detail.ExitCode)
			}
			got.Detail.ExitCode, d.ExitCode = nil, nil
			if *got.Detail != d {
				t.Fatalf("decoded %+v, want %+v", *got.Detail, d)
			}
		})
	}
	for _, bad := range []func(*Event){
		func(e *Event) { e.Detail = &Detail{Reason: "x"} },
		func(e *Event) {
			e.Source, e.Notice, e.Ended, e.Detail = SourceSystem, NoticeContainerEnded, &Ended{}, &Detail{Reason: "x"}
		},
		func(e *Event) { e.Source, e.Notice, e.Pod = SourceSystem, NoticeBatch, "p" },
	} {
		e := sample()
		bad(&e)
		if err := e.Validate(); !errors.Is(err, ErrInvalid) {
			t.Errorf("%+v: %v", e, err)
		}
	}
}

// AppendTime writes what the layout writes, at any instant, in any zone.
func TestAppendTime(t *testing.T) {
	zone := time.FixedZone("x", -7*3600-1800)
	for _, at := range []time.Time{time.Unix(0, 0), time.Unix(1700000000, 999_999_999), time.Date(9999, 12, 31, 23, 59, 59, 5e6, zone),
		time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC), time.Date(-1, 1, 1, 0, 0, 0, 0, time.UTC), time.Date(2026, 2, 3, 4, 5, 6, 7e6, zone)} {
		if got, want := string(AppendTime(nil, at)), at.UTC().Format(TimeLayout); got != want {
			t.Errorf("AppendTime(%v) = %s want %s", at, got, want)
		}
	}
	for i := int64(0); i < 100000; i++ {
		at := time.UnixMilli(i * 7_919_993_317 % 253402300799000)
		if got, want := string(AppendTime(nil, at)), at.UTC().Format(TimeLayout); got != want {
			t.Fatalf("AppendTime(%v) = %s want %s", at, got, want)
		}
	}
}

// A job id is refused when storage names would take it for another run's (job.SafeID
// turns every run of other characters into "_"), and the refusal names what is
// allowed; every id it accepts is its own storage name.
func TestJobIDsDoNotAlias(t *testing.T) {
	for _, id := range []string{"b run", "b;run", "b/run", "résumé", "run?x=1", "a b"} {
		err := ValidateJobID(id)
		var bad *JobIDError
		if !errors.As(err, &bad) || !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), "letters, digits, '_', '.', ':' and '-'") {
			t.Errorf("%q: %v", id, err)
		}
	}
	for _, id := range []string{"b_run", "elb-2026.12.07:run_7", "0f0e0d0c-aaaa-bbbb-cccc-000000000001", strings.Repeat("j", MaxJobIDChars)} {
		if err := ValidateJobID(id); err != nil {
			t.Errorf("%q: %v", id, err)
		}
	}
}
