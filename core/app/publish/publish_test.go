package publish

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/blastlog/blastlog/core/event"
	"github.com/blastlog/blastlog/ports"
	"github.com/blastlog/blastlog/ports/portstest"
)

func readAll(t *testing.T, l ports.EventLog, job string) []event.Event {
	t.Helper()
	evs, err := l.Read(context.Background(), job, event.ID{}, 1<<20)
	if err != nil {
		t.Fatal(err)
	}
	return evs
}

func TestPublishesSanitisedLinesInOrder(t *testing.T) {
	log := portstest.NewEventLog(0)
	p, err := New(log, nil, Config{JobID: "run-1", Phase: "submitting"})
	if err != nil {
		t.Fatal(err)
	}
	out, errw := p.Writer(event.Stdout), p.Writer(event.Stderr)
	out.Write([]byte("\x1b[33m Splitting queries into batches\x1b[0m\npartial"))
	errw.Write([]byte("password=hunter2\n"))
	out.Write([]byte(" line\r\n50%\r100%"))
	out.Close()
	errw.Close()
	st := p.Close(context.Background())
	if st.Stored != 5 || st.Dropped != 0 || st.Err != nil {
		t.Fatalf("stats %+v", st)
	}
	var got []string
	for _, e := range readAll(t, log, "run-1") {
		got = append(got, fmt.Sprintf("%s:%s", e.Stream, e.Line))
		if e.Source != event.SourceTerminal || e.Phase != "submitting" || e.TS.IsZero() || e.JobID != "run-1" ||
			e.PubID != p.PubID() || e.Seq != int64(len(got)) {
			t.Fatalf("event %+v", e)
		}
	}
	want := "[stdout: Splitting queries into batches stderr:password=*** stdout:partial line stdout:50% stdout:100%]"
	if fmt.Sprint(got) != want {
		t.Fatalf("got  %v\nwant %s", got, want)
	}
}

// A private key printed over several lines is masked whole; the other stream's lines
// in between are not.
func TestPrivateKeyBlockIsMaskedPerStream(t *testing.T) {
	log := portstest.NewEventLog(0)
	p, err := New(log, nil, Config{JobID: "run-1", Phase: "submitting"})
	if err != nil {
		t.Fatal(err)
	}
	out, errw := p.Writer(event.Stdout), p.Writer(event.Stderr)
	out.Write([]byte("-----BEGIN PRIVATE KEY-----\nMIIEvQIBADANBgkqhkiG9w0BAQEFAASC\n"))
	errw.Write([]byte("q2w3\n"))
	out.Write([]byte("q2w3\n-----END PRIVATE KEY-----\nq2w3\n"))
	out.Close()
	errw.Close()
	if st := p.Close(context.Background()); st.Stored != 6 {
		t.Fatalf("stats %+v", st)
	}
	var got []string
	for _, e := range readAll(t, log, "run-1") {
		got = append(got, fmt.Sprintf("%s:%s", e.Stream, e.Line))
	}
	want := "[stdout:-----BEGIN PRIVATE KEY----- stdout:*** stderr:q2w3 stdout:*** stdout:-----END PRIVATE KEY----- stdout:q2w3]"
	if fmt.Sprint(got) != want {
		t.Fatalf("got  %v\nwant %s", got, want)
	}
}

func TestRefusesBadConfig(t *testing.T) {
	for _, cfg := range []Config{{JobID: ""}, {JobID: strings.Repeat("x", 129)}, {JobID: "j", Source: "cron"}} {
		if _, err := New(portstest.NewEventLog(0), nil, cfg); !errors.Is(err, event.ErrInvalid) {
			t.Errorf("%+v: %v", cfg, err)
		}
	}
	p, _ := New(portstest.NewEventLog(0), nil, Config{JobID: "j", Phase: strings.Repeat("p", 200)})
	if len(p.cfg.Phase) != event.MaxPhaseChars {
		t.Fatalf("phase not capped: %d", len(p.cfg.Phase))
	}
	p.Close(context.Background())
}

// flaky is an EventLog that fails while down is set; with lostReply it stores a
// batch and then reports a failure (the reply lost on the way back).
type flaky struct {
	ports.EventLog
	down, lostReply atomic.Bool
	calls           atomic.Int64
}

var errDown = fmt.Errorf("redis: %w", ports.ErrUnavailable)

func (f *flaky) Append(ctx context.Context, job string, evs []event.Event) ([]event.ID, error) {
	f.calls.Add(1)
	if f.down.Load() {
		return nil, errDown
	}
	if f.lostReply.CompareAndSwap(true, false) {
		f.EventLog.Append(ctx, job, evs)
		return nil, errDown
	}
	return f.EventLog.Append(ctx, job, evs)
}

func (f *flaky) Read(ctx context.Context, job string, after event.ID, n int) ([]event.Event, error) {
	if f.down.Load() {
		return nil, errDown
	}
	return f.EventLog.Read(ctx, job, after, n)
}

// checkOnce fails unless the log holds publisher pubID's lines 1..n exactly once, in
// order, each written as "line <seq>".
func checkOnce(t *testing.T, evs []event.Event, pubID string, n int64) {
	t.Helper()
	var next int64 = 1
	for _, e := range evs {
		if e.PubID != pubID {
			continue
		}
		if e.Seq != next || e.Line != fmt.Sprintf("line %d", e.Seq) {
			t.Fatalf("seq %d (%q) where %d was due", e.Seq, e.Line, next)
		}
		next++
	}
	if next-1 != n {
		t.Fatalf("%d lines stored, want %d", next-1, n)
	}
}

func writeLines(w *LineWriter, from, to int) {
	for i := from; i <= to; i++ {
		w.Write([]byte(fmt.Sprintf("line %d\n", i)))
	}
}

func TestDownLogNeverStallsAndLosesNothing(t *testing.T) {
	log := &flaky{EventLog: portstest.NewEventLog(0)}
	log.down.Store(true)
	spools := &portstest.Spools{}
	sp, _ := spools.Create("00000000000000aa")
	var said atomic.Int64
	p, _ := New(log, sp, Config{JobID: "j", PubID: "00000000000000aa", Backoff: time.Millisecond, QueueLines: 16,
		OnSpool: func(err error) {
			// The queue may fill before the first append has failed: then err is nil.
			if err != nil && !errors.Is(err, ports.ErrUnavailable) {
				t.Errorf("spooling said with %v", err)
			}
			said.Add(1)
		}})
	w := p.Writer(event.Stdout)
	done := make(chan struct{})
	go func() {
		defer close(done)
		writeLines(w, 1, 3000)
	}()
	select {
	case <-done: // every write returned while the log was down
	case <-time.After(20 * time.Second):
		t.Fatal("writer stalled on a failing log")
	}
	log.down.Store(false)
	writeLines(w, 3001, 3010)
	w.Close()
	st := p.Close(context.Background())
	if st.Stored != 3010 || st.Spooled != 0 || st.Dropped != 0 || st.Err != nil || said.Load() != 1 {
		t.Fatalf("stats %+v, spooling said %d times", st, said.Load())
	}
	checkOnce(t, readAll(t, log, "j"), "00000000000000aa", 3010)
	if left, _ := spools.Leftovers(); len(left) != 0 {
		t.Fatalf("%d spools left behind", len(left))
	}
}

func TestLostReplyIsNotStoredTwice(t *testing.T) {
	log := &flaky{EventLog: portstest.NewEventLog(0)}
	spools := &portstest.Spools{}
	sp, _ := spools.Create("00000000000000ab")
	p, _ := New(log, sp, Config{JobID: "j", PubID: "00000000000000ab", Backoff: time.Millisecond})
	w := p.Writer(event.Stdout)
	writeLines(w, 1, 10)
	log.lostReply.Store(true)
	writeLines(w, 11, 20)
	// Another producer writes in between: the dedupe reads past its lines.
	log.EventLog.Append(context.Background(), "j", []event.Event{portstest.Event("j", "python")})
	writeLines(w, 21, 30)
	w.Close()
	if st := p.Close(context.Background()); st.Stored != 30 || st.Dropped != 0 {
		t.Fatalf("stats %+v", st)
	}
	checkOnce(t, readAll(t, log, "j"), "00000000000000ab", 30)
}

func TestCloseDeadlineLeavesTheRestSpooledAndFlushStoresIt(t *testing.T) {
	log := &flaky{EventLog: portstest.NewEventLog(0)}
	spools := &portstest.Spools{}
	const pub = "00000000000000ac"
	sp, _ := spools.Create(pub)
	p, _ := New(log, sp, Config{JobID: "j", PubID: pub, Backoff: time.Millisecond, BatchLines: 7, QueueLines: 16})
	w := p.Writer(event.Stdout)
	writeLines(w, 1, 100)
	log.down.Store(true)
	var many strings.Builder // one write, many lines: batches of 7
	for i := 101; i <= 1000; i++ {
		fmt.Fprintf(&many, "line %d\n", i)
	}
	w.Write([]byte(many.String()))
	w.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	st := p.Close(ctx)
	if st.Stored+st.Spooled != 1000 || st.Spooled == 0 || !errors.Is(st.Err, ports.ErrUnavailable) {
		t.Fatalf("stats %+v", st)
	}
	log.down.Store(false)
	log.lostReply.Store(true) // the flush's first append is stored but reported failed
	var reported []string
	fs := Flush(context.Background(), log, spools, FlushConfig{Backoff: time.Millisecond,
		OnSpool: func(job string, n int64, err error) { reported = append(reported, fmt.Sprint(job, n, err)) }})
	if fs.Spools != 1 || fs.Emptied != 1 || fs.Err != nil {
		t.Fatalf("flush %+v", fs)
	}
	if len(reported) != 1 || !strings.HasPrefix(reported[0], "j") {
		t.Fatalf("reported %q", reported)
	}
	checkOnce(t, readAll(t, log, "j"), pub, 1000)
}

func TestFullSpoolDropsCountedAndSaid(t *testing.T) {
	log := &flaky{EventLog: portstest.NewEventLog(0)}
	log.down.Store(true)
	spools := &portstest.Spools{Max: 20 << 10}
	const pub = "00000000000000ad"
	sp, _ := spools.Create(pub)
	var said atomic.Int64
	p, _ := New(log, sp, Config{JobID: "j", PubID: pub, Backoff: time.Millisecond, QueueLines: 16,
		OnDrop: func(err error) {
			if !errors.Is(err, ports.ErrSpoolFull) {
				t.Errorf("drop said with %v", err)
			}
			said.Add(1)
		}})
	w := p.Writer(event.Stdout)
	writeLines(w, 1, 2000)
	log.down.Store(false)
	writeLines(w, 2001, 2001)
	w.Close()
	st := p.Close(context.Background())
	if st.Dropped == 0 || said.Load() != 1 || st.Stored+st.Dropped < 2001 {
		t.Fatalf("stats %+v, said %d", st, said.Load())
	}
	evs := readAll(t, log, "j")
	var lines, reported, last int64
	for _, e := range evs {
		if e.Seq <= last {
			t.Fatalf("seq %d after %d", e.Seq, last)
		}
		last = e.Seq
		if e.Source == event.SourceSystem {
			var n int64
			if _, err := fmt.Sscanf(e.Line, "blastlog: %d lines", &n); err != nil {
				t.Fatalf("notice %q", e.Line)
			}
			reported += n
			continue
		}
		lines++
	}
	if reported != st.Dropped || lines+reported != 2001 {
		t.Fatalf("%d lines stored, %d reported dropped, stats %+v", lines, reported, st)
	}
}

func TestWaitingWriterDoesNotSpoolAHealthyLog(t *testing.T) {
	log := &slow{EventLog: portstest.NewEventLog(0)}
	spools := &portstest.Spools{}
	sp, _ := spools.Create("00000000000000ae")
	p, _ := New(log, sp, Config{JobID: "j", PubID: "00000000000000ae", Wait: true, QueueLines: 1,
		OnSpool: func(error) { t.Error("spooled while the log worked") }})
	w := p.Writer(event.Stdout)
	writeLines(w, 1, 200)
	w.Close()
	if st := p.Close(context.Background()); st.Stored != 200 {
		t.Fatalf("stats %+v", st)
	}
	checkOnce(t, readAll(t, log, "j"), "00000000000000ae", 200)
}

// slow is a working EventLog that takes a moment per append.
type slow struct{ ports.EventLog }

func (s *slow) Append(ctx context.Context, job string, evs []event.Event) ([]event.ID, error) {
	time.Sleep(time.Millisecond)
	return s.EventLog.Append(ctx, job, evs)
}

func TestHugeLineIsBoundedAndTruncated(t *testing.T) {
	log := portstest.NewEventLog(0)
	p, _ := New(log, nil, Config{JobID: "j"})
	w := p.Writer(event.Stdout)
	chunk := []byte(strings.Repeat("\xff\x00garbage", 1<<12))
	for i := 0; i < 32; i++ { // ~1.2 MB without a newline
		w.Write(chunk)
	}
	w.Write([]byte("\nnext\n"))
	w.Close()
	p.Close(context.Background())
	evs := readAll(t, log, "j")
	if len(evs) != 2 || evs[1].Line != "next" {
		t.Fatalf("%d events", len(evs))
	}
	if n := len([]rune(evs[0].Line)); n != event.MaxLineChars || !strings.HasSuffix(evs[0].Line, "…") {
		t.Fatalf("first line has %d characters", n)
	}
}

func BenchmarkPublisherToMemory(b *testing.B) {
	log := portstest.NewEventLog(1000)
	p, _ := New(log, nil, Config{JobID: "j"})
	w := p.Writer(event.Stdout)
	line := []byte("2026-06-01T02:03:05.234567Z INFO: Splitting queries into batches for blastn against core_nt shard 07 ok\n")
	b.SetBytes(int64(len(line)))
	b.ReportAllocs()
	for b.Loop() {
		w.Write(line)
	}
	w.Close()
	p.Close(context.Background())
}

// Without a spool, what overflows the queue is dropped and counted (the next line
// stored says how many), and the publisher goes on: it never waits for a spool it has
// not got.
func TestWithoutASpoolOverflowIsCounted(t *testing.T) {
	log := &slow{portstest.NewEventLog(0)}
	p, _ := New(log, nil, Config{JobID: "j", QueueLines: 10, BatchLines: 10})
	w := p.Writer(event.Stdout)
	for i := range 2000 {
		fmt.Fprintf(w, "line %d\n", i)
	}
	w.Close()
	st := p.Close(context.Background())
	if st.Dropped == 0 || st.Stored+st.Dropped < 2000 {
		t.Fatalf("stats %+v", st)
	}
	var said int64
	for _, e := range readAll(t, log.EventLog, "j") {
		said += e.Dropped
	}
	if said != st.Dropped {
		t.Fatalf("the log says %d dropped, the stats %d", said, st.Dropped)
	}
}

// measuredSpool records the largest batch put, in lines and in bytes (size).
type measuredSpool struct {
	ports.Spool
	mu                sync.Mutex
	puts, most, bytes int
}

func (m *measuredSpool) Put(b ports.SpoolBatch) error {
	m.mu.Lock()
	m.puts++
	m.most = max(m.most, len(b.Events))
	m.bytes = max(m.bytes, size(b.Events))
	m.mu.Unlock()
	return m.Spool.Put(b)
}

// While spooling, lines wait in memory for a record of spoolLines, but never more
// than spoolMaxBytes of them: long lines make smaller records. Every line is stored
// once the log is back.
func TestSpoolRecordsAreBoundedInBytes(t *testing.T) {
	log := &flaky{EventLog: portstest.NewEventLog(0)}
	log.down.Store(true)
	spools := &portstest.Spools{}
	sp, _ := spools.Create("00000000000000bb")
	m := &measuredSpool{Spool: sp}
	p, _ := New(log, m, Config{JobID: "j", PubID: "00000000000000bb", Backoff: time.Millisecond, QueueLines: 16})
	w := p.Writer(event.Stdout)
	long := strings.Repeat("x", 3000)
	for i := 1; i <= 1500; i++ {
		fmt.Fprintf(w, "line %d %s\n", i, long)
	}
	log.down.Store(false)
	w.Close()
	st := p.Close(context.Background())
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.puts < 4 || m.most > spoolLines || m.bytes > spoolMaxBytes+DefaultBatchBytes+4096 {
		t.Fatalf("%d records, the largest %d lines and %d bytes (bound %d)", m.puts, m.most, m.bytes, spoolMaxBytes)
	}
	if st.Stored != 1500 || st.Dropped != 0 {
		t.Fatalf("stats %+v", st)
	}
}
