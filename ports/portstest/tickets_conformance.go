package portstest

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/blastlog/blastlog/core/ticket"
	"github.com/blastlog/blastlog/ports"
)

// TestTicketStore is the conformance suite of ports.TicketStore.
func TestTicketStore(t *testing.T, newStore func(t *testing.T) ports.TicketStore) {
	ctx := context.Background()
	rec := func() (string, ticket.Record) {
		_, h, err := ticket.Mint()
		if err != nil {
			t.Fatal(err)
		}
		r, _ := ticket.New("run-1", "oid-1", "tid-1", time.Now(), 30*time.Second)
		return h, r
	}

	t.Run("put then take once", func(t *testing.T) {
		s := newStore(t)
		h, r := rec()
		if err := s.Put(ctx, h, r, 30*time.Second); err != nil {
			t.Fatal(err)
		}
		got, err := s.Take(ctx, h)
		if err != nil {
			t.Fatal(err)
		}
		if got.JobID != r.JobID || got.OwnerOID != r.OwnerOID || got.Tenant != r.Tenant ||
			!got.IssuedAt.Equal(r.IssuedAt) || !got.ExpiresAt.Equal(r.ExpiresAt) {
			t.Fatalf("got %+v want %+v", got, r)
		}
		if _, err := s.Take(ctx, h); !errors.Is(err, ports.ErrNotFound) {
			t.Fatalf("second take: %v", err)
		}
	})

	t.Run("unknown is ErrNotFound", func(t *testing.T) {
		if _, err := newStore(t).Take(ctx, ticket.Hash("never issued")); !errors.Is(err, ports.ErrNotFound) {
			t.Fatalf("%v", err)
		}
		if _, err := newStore(t).Peek(ctx, ticket.Hash("never issued")); !errors.Is(err, ports.ErrNotFound) {
			t.Fatalf("peek: %v", err)
		}
	})

	t.Run("peek leaves it to take", func(t *testing.T) {
		s := newStore(t)
		h, r := rec()
		if err := s.Put(ctx, h, r, 30*time.Second); err != nil {
			t.Fatal(err)
		}
		for i := 0; i < 2; i++ {
			if got, err := s.Peek(ctx, h); err != nil || got.OwnerOID != r.OwnerOID || got.JobID != r.JobID {
				t.Fatalf("peek %d: %+v, %v", i, got, err)
			}
		}
		if _, err := s.Take(ctx, h); err != nil {
			t.Fatalf("take after peek: %v", err)
		}
		if _, err := s.Peek(ctx, h); !errors.Is(err, ports.ErrNotFound) {
			t.Fatalf("peek after take: %v", err)
		}
	})

	t.Run("never overwritten", func(t *testing.T) {
		s := newStore(t)
		h, r := rec()
		if err := s.Put(ctx, h, r, 30*time.Second); err != nil {
			t.Fatal(err)
		}
		other := r
		other.OwnerOID = "attacker"
		if err := s.Put(ctx, h, other, 30*time.Second); err == nil {
			t.Fatal("a stored hash was overwritten")
		}
		if got, _ := s.Take(ctx, h); got.OwnerOID != "oid-1" {
			t.Fatalf("owner %q", got.OwnerOID)
		}
	})

	t.Run("100 concurrent takers, exactly one wins", func(t *testing.T) {
		s := newStore(t)
		h, r := rec()
		if err := s.Put(ctx, h, r, 30*time.Second); err != nil {
			t.Fatal(err)
		}
		var wins, misses atomic.Int64
		var wg sync.WaitGroup
		start := make(chan struct{})
		for i := 0; i < 100; i++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				<-start
				_, err := s.Take(ctx, h)
				switch {
				case err == nil:
					wins.Add(1)
				case errors.Is(err, ports.ErrNotFound):
					misses.Add(1)
				default:
					t.Error(err)
				}
			}()
		}
		close(start)
		wg.Wait()
		if wins.Load() != 1 || misses.Load() != 99 {
			t.Fatalf("%d wins, %d misses", wins.Load(), misses.Load())
		}
	})
}
