package portstest

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/blastlog/blastlog/ports"
)

// TestRateLimiter is the conformance suite of ports.RateLimiter.
func TestRateLimiter(t *testing.T, newLimiter func(t *testing.T) ports.RateLimiter) {
	ctx := context.Background()
	t.Run("limit per key and window", func(t *testing.T) {
		l := newLimiter(t)
		for i := 0; i < 3; i++ {
			if ok, _, err := l.Allow(ctx, "owner-a", 3, time.Minute); !ok || err != nil {
				t.Fatalf("use %d refused: %v", i+1, err)
			}
		}
		ok, retry, err := l.Allow(ctx, "owner-a", 3, time.Minute)
		if ok || err != nil || retry <= 0 || retry > time.Minute {
			t.Fatalf("4th use: ok=%v retry=%v err=%v", ok, retry, err)
		}
		if ok, _, _ := l.Allow(ctx, "owner-b", 3, time.Minute); !ok {
			t.Fatal("another key was limited")
		}
	})
	t.Run("window ends", func(t *testing.T) {
		l := newLimiter(t)
		key := fmt.Sprintf("owner-%d", time.Now().UnixNano())
		l.Allow(ctx, key, 1, 300*time.Millisecond)
		if ok, _, _ := l.Allow(ctx, key, 1, 300*time.Millisecond); ok {
			t.Fatal("second use allowed")
		}
		time.Sleep(400 * time.Millisecond)
		if ok, _, _ := l.Allow(ctx, key, 1, 300*time.Millisecond); !ok {
			t.Fatal("new window still limited")
		}
	})
}
