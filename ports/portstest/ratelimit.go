package portstest

import (
	"context"
	"sync"
	"time"

	"github.com/blastlog/blastlog/ports"
)

// RateLimiter is an in-memory ports.RateLimiter with fixed windows.
type RateLimiter struct {
	mu  sync.Mutex
	m   map[string]window
	now func() time.Time
}

type window struct {
	n   int
	end time.Time
}

var _ ports.RateLimiter = (*RateLimiter)(nil)

// NewRateLimiter returns a limiter with no uses counted.
func NewRateLimiter() *RateLimiter { return &RateLimiter{m: map[string]window{}, now: time.Now} }

// Allow implements ports.RateLimiter.
func (l *RateLimiter) Allow(_ context.Context, key string, limit int, win time.Duration) (bool, time.Duration, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	now := l.now()
	w := l.m[key]
	if !now.Before(w.end) {
		w = window{end: now.Add(win)}
	}
	w.n++
	l.m[key] = w
	if w.n > limit {
		return false, w.end.Sub(now), nil
	}
	return true, 0, nil
}
