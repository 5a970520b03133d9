package fanout

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/blastlog/blastlog/core/event"
	"github.com/blastlog/blastlog/core/job"
	"github.com/blastlog/blastlog/ports/portstest"
)

// Many viewers, some pausing at random, one small queue each: every viewer sees every
// event exactly once and in order (the log is large enough that nothing is trimmed).
func TestHubViewersSeeExactSequences(t *testing.T) {
	log, jobs := portstest.NewEventLog(0), portstest.NewJobDirectory()
	h := &Hub{Log: log, Tail: log, Statuses: jobs, Config: HubConfig{Buffer: 4, Block: 20 * time.Millisecond}}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go h.Run(ctx)

	const total, viewers = 3000, 12
	var wg sync.WaitGroup
	results := make([][]string, viewers)
	for v := 0; v < viewers; v++ {
		st, err := h.Open(ctx, "run", event.ID{})
		if err != nil {
			t.Fatal(err)
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer st.Close()
			rng := rand.New(rand.NewPCG(uint64(v), 7))
			for len(results[v]) < total {
				fctx, fcancel := context.WithTimeout(ctx, 10*time.Second)
				frames, err := st.Next(fctx, 1+rng.IntN(50))
				fcancel()
				if err != nil {
					t.Errorf("viewer %d: %v after %d", v, err, len(results[v]))
					return
				}
				for _, f := range frames {
					e, _ := event.Decode(f.Data)
					results[v] = append(results[v], e.Line)
				}
				if v%3 == 0 && rng.IntN(10) == 0 {
					time.Sleep(time.Duration(rng.IntN(20)) * time.Millisecond) // a slow viewer
				}
			}
		}()
	}
	for i := 0; i < total; i += 100 {
		batch := make([]event.Event, 100)
		for k := range batch {
			batch[k] = portstest.Event("run", fmt.Sprintf("l%d", i+k))
		}
		if _, err := log.Append(ctx, "run", batch); err != nil {
			t.Fatal(err)
		}
		time.Sleep(time.Millisecond)
	}
	wg.Wait()
	for v, got := range results {
		for i, l := range got {
			if l != fmt.Sprintf("l%d", i) {
				t.Fatalf("viewer %d: event %d is %s", v, i, l)
			}
		}
	}
}

// After an event is dropped for a viewer, no later event may be queued for it until
// it has acknowledged the lag: a later event delivered past the hole would move its
// resume point beyond the missing one.
func TestNothingIsQueuedPastAHole(t *testing.T) {
	log, jobs := portstest.NewEventLog(0), portstest.NewJobDirectory()
	h := &Hub{Log: log, Tail: log, Statuses: jobs, Config: HubConfig{Buffer: 2}}
	sub, err := h.Subscribe(context.Background(), "run")
	if err != nil {
		t.Fatal(err)
	}
	defer sub.Close()
	ev := func(lines ...string) []event.Event {
		var out []event.Event
		for _, l := range lines {
			e := portstest.Event("run", l)
			ids, _ := log.Append(context.Background(), "run", []event.Event{e})
			e.ID = ids[0]
			out = append(out, e)
		}
		return out
	}
	h.broadcast("run", ev("1", "2", "3")) // 3 does not fit
	<-sub.C
	<-sub.C
	h.broadcast("run", ev("4")) // room now, but 4 comes after the hole at 3
	select {
	case d := <-sub.C:
		t.Fatalf("%q was queued past the hole", d.Event.Line)
	default:
	}
	if !sub.Lagging() {
		t.Fatal("the drop was not reported")
	}
	h.broadcast("run", ev("5"))
	if d := <-sub.C; d.Event.Line != "5" {
		t.Fatalf("after catching up: %q", d.Event.Line)
	}
}

// With collection, a terminal run completes only once its collector drained it (the
// run left the active set): the pod lines stored after the terminal status come
// before completed, which is the last frame. Without the drain, DrainWait bounds the
// wait.
func TestCompletedComesAfterTheCollectorsDrain(t *testing.T) {
	for _, drains := range []bool{true, false} {
		t.Run(fmt.Sprint("drains=", drains), func(t *testing.T) {
			log, jobs, coord := portstest.NewEventLog(0), portstest.NewJobDirectory(), portstest.NewCoordination()
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			jobs.Register(ctx, job.Record{JobID: "run", OwnerOID: "o", Status: job.Running})
			coord.Touch(ctx, "run")
			h := &Hub{Log: log, Tail: log, Statuses: jobs, Collecting: coord,
				Config: HubConfig{Block: 10 * time.Millisecond, StatusEvery: 10 * time.Millisecond, DrainWait: 300 * time.Millisecond}}
			go h.Run(ctx)
			st, err := h.Open(ctx, "run", event.ID{})
			if err != nil {
				t.Fatal(err)
			}
			defer st.Close()
			log.Append(ctx, "run", []event.Event{portstest.Event("run", "submit done")})
			jobs.SetStatus(ctx, "run", job.Completed)
			time.Sleep(100 * time.Millisecond) // terminal, but the collector still drains
			pod := portstest.Event("run", "last pod line")
			pod.Source, pod.Pod, pod.Container = event.SourceK8s, "p", "c"
			log.Append(ctx, "run", []event.Event{pod})
			if drains {
				coord.Done(ctx, "run")
			}
			var kinds []string
			for {
				fctx, fcancel := context.WithTimeout(ctx, 5*time.Second)
				frames, err := st.Next(fctx, 10)
				fcancel()
				for _, f := range frames {
					e, _ := event.Decode(f.Data)
					kinds = append(kinds, string(f.Kind)+":"+e.Line)
				}
				if errors.Is(err, ErrCompleted) {
					break
				}
				if err != nil {
					t.Fatalf("%v after %v", err, kinds)
				}
			}
			if fmt.Sprint(kinds) != "[log:submit done log:last pod line completed:]" {
				t.Fatalf("frames %v", kinds)
			}
		})
	}
}

// A silent live stream answers ErrIdle once per Idle and is unchanged by it: the next
// event still arrives, exactly once.
func TestStreamIdle(t *testing.T) {
	log, jobs := portstest.NewEventLog(0), portstest.NewJobDirectory()
	h := &Hub{Log: log, Tail: log, Statuses: jobs, Config: HubConfig{Block: 20 * time.Millisecond}}
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	go h.Run(ctx)
	st, err := h.Open(ctx, "run", event.ID{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	st.Idle = 30 * time.Millisecond
	for i := 0; i < 3; i++ {
		if frames, err := st.Next(ctx, 10); !errors.Is(err, ErrIdle) || len(frames) != 0 {
			t.Fatalf("silence %d: %v %v", i, frames, err)
		}
	}
	if _, err := log.Append(ctx, "run", []event.Event{portstest.Event("run", "after")}); err != nil {
		t.Fatal(err)
	}
	var got []string
	for len(got) == 0 {
		frames, err := st.Next(ctx, 10)
		if err != nil && !errors.Is(err, ErrIdle) {
			t.Fatal(err)
		}
		for _, f := range frames {
			e, _ := event.Decode(f.Data)
			got = append(got, e.Line)
		}
	}
	if len(got) != 1 || got[0] != "after" {
		t.Fatalf("got %v", got)
	}
}

// Many runs over a few readers: every viewer of every run sees its run's events
// exactly once and in order, the runs-watched count follows the runs that have
// viewers, and the status poll (apart from the readers) completes every run.
func TestHubShardsManyRuns(t *testing.T) {
	log, jobs := portstest.NewEventLog(0), portstest.NewJobDirectory()
	var watched atomic.Int64
	h := &Hub{Log: log, Tail: log, Statuses: jobs, Metrics: HubMetrics{Readers: func(n int) { watched.Store(int64(n)) }},
		Config: HubConfig{Readers: 3, Block: 10 * time.Millisecond, StatusEvery: 20 * time.Millisecond}}
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	go h.Run(ctx)
	const runs, perRun, lines = 30, 2, 40
	var streams []*Stream
	for r := 0; r < runs; r++ {
		id := fmt.Sprint("run-", r)
		jobs.Register(ctx, job.Record{JobID: id, OwnerOID: "o", Status: job.Running})
		for v := 0; v < perRun; v++ {
			st, err := h.Open(ctx, id, event.ID{})
			if err != nil {
				t.Fatal(err)
			}
			streams = append(streams, st)
		}
	}
	if watched.Load() != runs {
		t.Fatalf("watched %d want %d", watched.Load(), runs)
	}
	for i, st := range streams { // caught up (nothing yet): from now on, live
		st.Idle = 10 * time.Millisecond
		if frames, err := st.Next(ctx, 7); !errors.Is(err, ErrIdle) || len(frames) != 0 {
			t.Fatalf("stream %d: %v %v", i, frames, err)
		}
		st.Idle = 0
	}
	for i := 0; i < lines; i++ {
		for r := 0; r < runs; r++ {
			id := fmt.Sprint("run-", r)
			log.Append(ctx, id, []event.Event{portstest.Event(id, fmt.Sprint(i))})
		}
	}
	// Every line arrives live, while the runs still run: a line routed to the wrong
	// reader would reach no live viewer until the run's end made it read the log.
	next := func(st *Stream) ([]string, error) {
		fctx, fcancel := context.WithTimeout(ctx, 10*time.Second)
		defer fcancel()
		frames, err := st.Next(fctx, 7)
		var got []string
		for _, f := range frames {
			if f.Kind == FrameLog {
				e, _ := event.Decode(f.Data)
				got = append(got, e.Line)
			}
		}
		return got, err
	}
	var wg sync.WaitGroup
	for i, st := range streams {
		wg.Go(func() {
			var got []string
			for len(got) < lines {
				more, err := next(st)
				got = append(got, more...)
				if err != nil {
					t.Errorf("stream %d: %v after %d lines", i, err, len(got))
					return
				}
			}
			for k, l := range got {
				if l != fmt.Sprint(k) {
					t.Errorf("stream %d: line %d is %q (%d lines)", i, k, l, len(got))
					return
				}
			}
		})
	}
	wg.Wait()
	for r := 0; r < runs; r++ {
		jobs.SetStatus(ctx, fmt.Sprint("run-", r), job.Completed)
	}
	for i, st := range streams {
		wg.Go(func() {
			for {
				more, err := next(st)
				if len(more) > 0 {
					t.Errorf("stream %d: %v after the last line", i, more)
				}
				if errors.Is(err, ErrCompleted) {
					return
				}
				if err != nil {
					t.Errorf("stream %d: %v, not completed", i, err)
					return
				}
			}
		})
	}
	wg.Wait()
	for _, st := range streams {
		st.Close()
	}
	if watched.Load() != 0 {
		t.Fatalf("watched %d after every viewer left", watched.Load())
	}
}

// teeAfterViewers is a Tee that notes, for each batch offered, whether the viewer's
// queue already held it.
type teeAfterViewers struct {
	sub     *Subscription
	offered chan bool
}

func (t *teeAfterViewers) Offer(jobID string, after event.ID, evs []event.Event) {
	t.offered <- len(t.sub.C) >= len(evs)
}

// The shard reader queues a batch to the run's viewers before it offers the batch to
// the Tee (the archiver): a viewer never waits behind the archiver's work.
func TestViewersComeBeforeTheTee(t *testing.T) {
	log, jobs := portstest.NewEventLog(0), portstest.NewJobDirectory()
	tee := &teeAfterViewers{offered: make(chan bool, 100)}
	h := &Hub{Log: log, Tail: log, Statuses: jobs, Tee: tee, Config: HubConfig{Buffer: 64, Block: 10 * time.Millisecond}}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	tee.sub = subscribe(t, h, "run")
	go h.Run(ctx)
	batch := make([]event.Event, 10)
	for k := range batch {
		batch[k] = portstest.Event("run", fmt.Sprintf("l%d", k))
	}
	if _, err := log.Append(ctx, "run", batch); err != nil {
		t.Fatal(err)
	}
	select {
	case queued := <-tee.offered:
		if !queued {
			t.Fatal("the batch was offered to the Tee before the viewer had it")
		}
	case <-time.After(10 * time.Second):
		t.Fatal("no batch offered")
	}
}

// A round's deliveries share one buffer for their JSON, yet each is its event's JSON
// alone: appending to one (as a writer adding its frame's end might) leaves the next
// as it was.
func TestEachDeliveryIsItsOwnJSON(t *testing.T) {
	log := portstest.NewEventLog(0)
	h := &Hub{Log: log, Tail: log, Statuses: portstest.NewJobDirectory(), Config: HubConfig{Buffer: 64}}
	sub := subscribe(t, h, "run")
	batch := make([]event.Event, 5)
	for k := range batch {
		batch[k] = portstest.Event("run", strings.Repeat("é\"x", 50*k)) // escapes outgrow the estimate
		batch[k].ID = event.ID{MS: 1, Seq: uint64(k)}
	}
	h.broadcast("run", batch)
	var ds []*Delivery
	for range batch {
		ds = append(ds, <-sub.C)
	}
	for k, d := range ds {
		_ = append(d.JSON, "\n\n"...)
		if want := string(batch[k].AppendJSON(nil)); string(d.JSON) != want {
			t.Fatalf("delivery %d: %s, want %s", k, d.JSON, want)
		}
	}
	for k, d := range ds {
		if want := string(batch[k].AppendJSON(nil)); string(d.JSON) != want {
			t.Fatalf("delivery %d after the others were appended to: %s", k, d.JSON)
		}
	}
}

// BenchmarkBroadcast is one round of a run with ten viewers: a batch of b.N-sized
// rounds' encoding and queueing, allocations included.
func BenchmarkBroadcast(b *testing.B) {
	for _, n := range []int{1, 20} {
		b.Run(fmt.Sprint(n, "events"), func(b *testing.B) {
			log := portstest.NewEventLog(0)
			h := &Hub{Log: log, Tail: log, Statuses: portstest.NewJobDirectory(), Config: HubConfig{Buffer: 1 << 20}}
			for range 10 {
				sub := subscribe(b, h, "run")
				go func() {
					for range sub.C {
					}
				}()
			}
			batch := make([]event.Event, n)
			for k := range batch {
				batch[k] = portstest.Event("run", "t=1796670361427 s=12 "+strings.Repeat("x", 200))
				batch[k].ID = event.ID{MS: 1796670361427, Seq: uint64(k)}
			}
			b.ReportAllocs()
			for b.Loop() {
				h.broadcast("run", batch)
			}
		})
	}
}

// subscribe is a viewer of run on h, closed when the test ends.
func subscribe(tb testing.TB, h *Hub, run string) *Subscription {
	tb.Helper()
	sub, err := h.Subscribe(context.Background(), run)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(sub.Close)
	return sub
}
