package app

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/blastlog/blastlog/core/ticket"
	"github.com/blastlog/blastlog/ports"
)

func TestOwnerLimit(t *testing.T) {
	l := &OwnerLimit{Max: 2, What: "streams", RetryAfter: 3 * time.Second}
	r1, err1 := l.Acquire("alice")
	r2, err2 := l.Acquire("alice")
	if err1 != nil || err2 != nil {
		t.Fatal(err1, err2)
	}
	var lim *LimitedError
	if _, err := l.Acquire("alice"); !errors.As(err, &lim) || lim.What != "streams" || lim.RetryAfter != 3*time.Second {
		t.Fatalf("third: %v", err)
	}
	if r, err := l.Acquire("bob"); err != nil {
		t.Fatalf("another owner: %v", err)
	} else {
		r()
	}
	r1()
	r1() // a second release gives nothing back
	if l.Held("alice") != 1 {
		t.Fatalf("held %d after one release", l.Held("alice"))
	}
	r2()
	if len(l.held) != 0 {
		t.Fatalf("entries left: %v", l.held)
	}
	var none *OwnerLimit
	if r, err := none.Acquire("x"); err != nil {
		t.Fatal(err)
	} else {
		r()
	}
}

// Many goroutines racing for the places of one owner: never more than Max held.
func TestOwnerLimitUnderContention(t *testing.T) {
	l := &OwnerLimit{Max: 3}
	var wg sync.WaitGroup
	var mu sync.Mutex
	most := 0
	for i := 0; i < 64; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := 0; j < 200; j++ {
				r, err := l.Acquire("alice")
				if err != nil {
					continue
				}
				mu.Lock()
				most = max(most, l.Held("alice"))
				mu.Unlock()
				r()
			}
		}()
	}
	wg.Wait()
	if most > 3 || l.Held("alice") != 0 {
		t.Fatalf("most held %d, left %d", most, l.Held("alice"))
	}
}

func TestRedeemWithinLeavesARefusedTicketUsable(t *testing.T) {
	ts, _ := newTickets(t)
	ctx := context.Background()
	l := &OwnerLimit{Max: 1, What: "streams"}
	issue := func() string {
		is, err := ts.Issue(ctx, ports.Credentials{Bearer: "tok-alice"}, "run-a")
		if err != nil {
			t.Fatal(err)
		}
		return is.Ticket
	}
	_, release, err := ts.RedeemWithin(ctx, l, issue(), "run-a")
	if err != nil {
		t.Fatal(err)
	}
	second := issue()
	var lim *LimitedError
	if _, _, err := ts.RedeemWithin(ctx, l, second, "run-a"); !errors.As(err, &lim) {
		t.Fatalf("over the limit: %v", err)
	}
	release()
	rec, release2, err := ts.RedeemWithin(ctx, l, second, "run-a")
	if err != nil || rec.OwnerOID != "alice" {
		t.Fatalf("the refused ticket once a place is free: %+v %v", rec, err)
	}
	release2()
	// Refused tickets are still consumed: one for another job does not open its own.
	other := issue()
	if _, _, err := ts.RedeemWithin(ctx, l, other, "run-b"); !errors.Is(err, ticket.ErrRejected) {
		t.Fatalf("another job: %v", err)
	}
	if _, _, err := ts.RedeemWithin(ctx, l, other, "run-a"); !errors.Is(err, ticket.ErrRejected) {
		t.Fatalf("a ticket refused for another job was not consumed: %v", err)
	}
	if l.Held("alice") != 0 {
		t.Fatalf("%d places left held", l.Held("alice"))
	}
}

// The replica's limit refuses past Max after its wait, whoever asks, and a release
// (once, however often it is called) frees a place.
func TestServerLimit(t *testing.T) {
	ctx := context.Background()
	l := &ServerLimit{Max: 2, Wait: time.Millisecond}
	r1, err1 := l.Acquire(ctx)
	r2, err2 := l.Acquire(ctx)
	if err1 != nil || err2 != nil || l.Held() != 2 {
		t.Fatalf("%v %v %d", err1, err2, l.Held())
	}
	_, err := l.Acquire(ctx)
	var lim *LimitedError
	if !errors.As(err, &lim) || !lim.Server || lim.RetryAfter != time.Second || !strings.Contains(err.Error(), "on this server") {
		t.Fatalf("the third: %v", err)
	}
	r1()
	r1()
	if l.Held() != 1 {
		t.Fatalf("held %d after one release twice", l.Held())
	}
	if _, err := l.Acquire(ctx); err != nil {
		t.Fatal(err)
	}
	r2()
	var none *ServerLimit
	if release, err := none.Acquire(ctx); err != nil || release == nil {
		t.Fatal("a nil limit refused")
	}
}

// A read past the limit waits its turn: it gets the place a release frees within its
// wait, in the order asked; one whose caller goes away gives up without a place.
func TestServerLimitWaitsItsTurn(t *testing.T) {
	ctx := context.Background()
	l := &ServerLimit{Max: 1, Wait: time.Minute}
	held, err := l.Acquire(ctx)
	if err != nil {
		t.Fatal(err)
	}
	got := make(chan error, 1)
	go func() {
		release, err := l.Acquire(ctx)
		if err == nil {
			release()
		}
		got <- err
	}()
	gone, cancel := context.WithCancel(ctx)
	cancel()
	if _, err := l.Acquire(gone); !errors.Is(err, context.Canceled) {
		t.Fatalf("a caller gone: %v", err)
	}
	select {
	case err := <-got:
		t.Fatalf("took a held place: %v", err)
	case <-time.After(20 * time.Millisecond):
	}
	held()
	if err := <-got; err != nil {
		t.Fatalf("after the release: %v", err)
	}
	if l.Held() != 0 {
		t.Fatalf("%d held at the end", l.Held())
	}
	if l := (&ServerLimit{}); cap(func() chan struct{} { l.init(); return l.slots }()) != DefaultHeavyReads {
		t.Fatal("the default")
	}
}
