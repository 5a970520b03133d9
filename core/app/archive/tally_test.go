package archive

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/blastlog/blastlog/core/event"
	"github.com/blastlog/blastlog/ports"
	"github.com/blastlog/blastlog/ports/portstest"
)

// roundKeeper is a log whose tallies are counted in rounds: each call's runs.
type roundKeeper struct {
	ports.LogKeeper
	mu     sync.Mutex
	rounds [][]string
	fail   error
}

func (k *roundKeeper) Tally(ctx context.Context, jobIDs []string) ([]ports.LogTally, error) {
	k.mu.Lock()
	k.rounds = append(k.rounds, append([]string(nil), jobIDs...))
	fail := k.fail
	k.mu.Unlock()
	if fail != nil {
		return nil, fail
	}
	return k.LogKeeper.Tally(ctx, jobIDs)
}

func newRoundKeeper(t *testing.T, runs int) *roundKeeper {
	t.Helper()
	l := portstest.NewEventLog(0)
	for i := range runs {
		evs := make([]event.Event, i+1) // run i holds i+1 entries
		for j := range evs {
			evs[j] = portstest.Event(fmt.Sprint("run-", i), "x")
		}
		if _, err := l.Append(context.Background(), fmt.Sprint("run-", i), evs); err != nil {
			t.Fatal(err)
		}
	}
	return &roundKeeper{LogKeeper: l}
}

// Writers of several runs asking at once are answered together, each with its own
// run's tally: the first alone, as nobody asked before it, the others in a round.
func TestTalliesAskedTogetherTakeOneRound(t *testing.T) {
	k := newRoundKeeper(t, 40)
	ts := tallies{window: time.Second} // far longer than it takes 40 goroutines to ask
	var wg sync.WaitGroup
	got := make([]ports.LogTally, 40)
	errs := make([]error, 40)
	for i := range 40 {
		wg.Go(func() { got[i], errs[i] = ts.of(context.Background(), k, fmt.Sprint("run-", i)) })
	}
	wg.Wait()
	for i := range 40 {
		if errs[i] != nil || got[i].Held != int64(i+1) || got[i].First.IsZero() {
			t.Fatalf("run-%d: %+v %v", i, got[i], errs[i])
		}
	}
	if n := len(k.rounds); n > 3 {
		t.Fatalf("%d rounds for 40 writers asking at once: %v", n, k.rounds)
	}
}

// A writer alone does not wait for company: one busy run asks at once, every time.
func TestALoneWriterAsksAtOnce(t *testing.T) {
	k := newRoundKeeper(t, 1)
	ts := tallies{window: time.Hour} // a wait would outlast the test
	for range 3 {
		if got, err := ts.of(context.Background(), k, "run-0"); err != nil || got.Held != 1 {
			t.Fatalf("%+v %v", got, err)
		}
	}
	if len(k.rounds) != 3 {
		t.Fatalf("rounds %v", k.rounds)
	}
}

// A round holds at most its maximum of runs: the next writer opens a new one.
func TestATallyRoundIsBounded(t *testing.T) {
	k := newRoundKeeper(t, 10)
	ts := tallies{window: time.Second, max: 4}
	var wg sync.WaitGroup
	for i := range 10 {
		wg.Go(func() {
			if _, err := ts.of(context.Background(), k, fmt.Sprint("run-", i)); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	total := 0
	for _, r := range k.rounds {
		if len(r) > 4 {
			t.Fatalf("a round of %d runs", len(r))
		}
		total += len(r)
	}
	if total != 10 || len(k.rounds) < 3 {
		t.Fatalf("%d runs asked in rounds %v", total, k.rounds)
	}
}

// A round that fails fails for every writer in it, and the next round asks again.
func TestATallyRoundsFailureIsEveryWritersAndPasses(t *testing.T) {
	k := newRoundKeeper(t, 2)
	k.fail = errors.New("down")
	var ts tallies
	var wg sync.WaitGroup
	for i := range 2 {
		wg.Go(func() {
			if _, err := ts.of(context.Background(), k, fmt.Sprint("run-", i)); !errors.Is(err, k.fail) {
				t.Errorf("run-%d: %v", i, err)
			}
		})
	}
	wg.Wait()
	k.mu.Lock()
	k.fail = nil
	k.mu.Unlock()
	if got, err := ts.of(context.Background(), k, "run-1"); err != nil || got.Held != 2 {
		t.Fatalf("after the failure: %+v %v", got, err)
	}
}

// A writer whose context ends stops waiting for its round.
func TestATallyWaitEndsWithItsContext(t *testing.T) {
	k := newRoundKeeper(t, 1)
	var ts tallies
	slow := &slowKeeper{LogKeeper: k, asked: make(chan struct{}, 2), release: make(chan struct{})}
	leaderDone := make(chan struct{})
	go func() {
		defer close(leaderDone)
		ts.of(context.Background(), slow, "run-0")
	}()
	<-slow.asked // the first round is asking, and blocked
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { _, err := ts.of(ctx, slow, "run-0"); done <- err }()
	<-slow.asked // so is the second writer's own
	cancel()
	select {
	case err := <-done:
		if !errors.Is(err, context.Canceled) {
			t.Fatalf("got %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("a writer whose context ended still waits for its round")
	}
	close(slow.release)
	<-leaderDone
}

// slowKeeper answers once released (or when the context ends), and says when asked.
type slowKeeper struct {
	ports.LogKeeper
	asked   chan struct{}
	release chan struct{}
}

func (k *slowKeeper) Tally(ctx context.Context, jobIDs []string) ([]ports.LogTally, error) {
	k.asked <- struct{}{}
	select {
	case <-k.release:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	return k.LogKeeper.Tally(ctx, jobIDs)
}
