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
	evs, err := l.Read(context.Background(), job, "", 1<<20)
	if err != nil {
		t.Fatal(err)
	}
	return evs
}

func TestPublishesSanitisedLinesInOrder(t *testing.T) {
	log := portstest.NewEventLog(0)
	p, err := New(log, Config{JobID: "run-1", Phase: "submitting"})
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
	if st.Published != 5 || st.Lost != 0 || st.Err != nil {
		t.Fatalf("stats %+v", st)
	}
	var got []string
	for _, e := range readAll(t, log, "run-1") {
		got = append(got, fmt.Sprintf("%s:%s", e.Stream, e.Line))
		if e.Source != event.SourceTerminal || e.Phase != "submitting" || e.TS.IsZero() || e.JobID != "run-1" {
			t.Fatalf("event %+v", e)
		}
	}
	want := "[stdout: Splitting queries into batches stderr:password=*** stdout:partial line stdout:50% stdout:100%]"
	if fmt.Sprint(got) != want {
		t.Fatalf("got  %v\nwant %s", got, want)
	}
}

func TestRefusesBadConfig(t *testing.T) {
	for _, cfg := range []Config{{JobID: ""}, {JobID: strings.Repeat("x", 129)}, {JobID: "j", Source: "cron"}} {
		if _, err := New(portstest.NewEventLog(0), cfg); !errors.Is(err, event.ErrInvalid) {
			t.Errorf("%+v: %v", cfg, err)
		}
	}
	p, _ := New(portstest.NewEventLog(0), Config{JobID: "j", Phase: strings.Repeat("p", 200)})
	if len(p.cfg.Phase) != event.MaxPhaseChars {
		t.Fatalf("phase not capped: %d", len(p.cfg.Phase))
	}
	p.Close(context.Background())
}

// flaky is an EventLog that fails while down is set.
type flaky struct {
	ports.EventLog
	down  atomic.Bool
	calls atomic.Int64
}

var errDown = fmt.Errorf("redis: %w", ports.ErrUnavailable)

func (f *flaky) Append(ctx context.Context, job string, evs []event.Event) ([]string, error) {
	f.calls.Add(1)
	if f.down.Load() {
		return nil, errDown
	}
	return f.EventLog.Append(ctx, job, evs)
}

func TestFailingLogNeverStallsAndReportsOnce(t *testing.T) {
	log := &flaky{EventLog: portstest.NewEventLog(0)}
	log.down.Store(true)
	var reports atomic.Int64
	now := time.Now()
	var mu sync.Mutex
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	p, _ := New(log, Config{JobID: "j", Backoff: time.Millisecond, Now: clock,
		OnLoss: func(err error) {
			if !errors.Is(err, ports.ErrUnavailable) {
				t.Errorf("loss reported with %v", err)
			}
			reports.Add(1)
		}})
	w := p.Writer(event.Stdout)
	done := make(chan struct{})
	go func() {
		defer close(done)
		for i := 0; i < 100000; i++ {
			w.Write([]byte("line\n"))
		}
	}()
	select {
	case <-done:
	case <-time.After(20 * time.Second):
		t.Fatal("writer stalled on a failing log")
	}
	if c := log.calls.Load(); c > 10 {
		t.Fatalf("%d append attempts while down and within one probe interval", c)
	}
	// The log comes back: after the probe interval the next batch is stored, behind a notice.
	log.down.Store(false)
	mu.Lock()
	now = now.Add(time.Minute)
	mu.Unlock()
	w.Write([]byte("back\n"))
	w.Close()
	st := p.Close(context.Background())
	if reports.Load() != 1 {
		t.Fatalf("%d loss reports", reports.Load())
	}
	// Batches still queued when the log came back may be stored too: every line is
	// either stored or counted lost, never both, never neither.
	if st.Lost+st.Published != 100001 || st.Published < 1 || st.Lost < 90000 || !errors.Is(st.Err, ports.ErrUnavailable) {
		t.Fatalf("stats %+v", st)
	}
	evs := readAll(t, log, "j")
	n := len(evs)
	// Recovery: the notice of the gap comes first, then what was stored after it ("back"
	// itself may have been dropped if it found the queue still full).
	if int64(n) != st.Published+1 || evs[0].Source != event.SourceSystem ||
		!strings.Contains(evs[0].Line, "could not be stored") {
		t.Fatalf("%d events: first %+v, last %+v", n, evs[0], evs[n-1])
	}
}

func TestRetriesRecoverWithoutLoss(t *testing.T) {
	log := &flaky{EventLog: portstest.NewEventLog(0)}
	log.down.Store(true)
	p, _ := New(log, Config{JobID: "j", Backoff: 20 * time.Millisecond})
	w := p.Writer(event.Stdout)
	go func() { time.Sleep(5 * time.Millisecond); log.down.Store(false) }()
	w.Write([]byte("a\nb\n"))
	w.Close()
	if st := p.Close(context.Background()); st.Published != 2 || st.Lost != 0 {
		t.Fatalf("stats %+v", st)
	}
}

func TestHugeLineIsBoundedAndTruncated(t *testing.T) {
	log := portstest.NewEventLog(0)
	p, _ := New(log, Config{JobID: "j"})
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
	p, _ := New(log, Config{JobID: "j"})
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
