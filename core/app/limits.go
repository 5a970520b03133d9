package app

import (
	"cmp"
	"context"
	"fmt"
	"sync"
	"time"
)

// Defaults of the per-owner limits (BLASTLOG_OWNER_MAX_STREAMS, _REQUESTS).
const (
	DefaultOwnerStreams  = 20 // open SSE streams per owner per replica
	DefaultOwnerRequests = 8  // reads in progress per owner per replica
)

// NewRequestLimit is the limit of max reads in progress per owner
// (BLASTLOG_OWNER_MAX_REQUESTS): a read frees its place within seconds.
func NewRequestLimit(max int) *OwnerLimit {
	return &OwnerLimit{Max: max, What: "requests", RetryAfter: time.Second}
}

// OwnerLimit bounds what one owner holds at once on this replica — open streams, or
// reads in progress — so that one user's tabs or scripts cannot take a replica's
// memory and connections from everyone else. Its memory is one map entry per owner
// holding anything. A nil *OwnerLimit admits everything.
type OwnerLimit struct {
	Max        int           // places per owner
	What       string        // "streams" or "requests": the error's code is too_many_<What>
	RetryAfter time.Duration // what a refused caller is told to wait

	mu   sync.Mutex
	held map[string]int
}

// LimitedError refuses a caller over one of their limits: "tickets" a minute
// (Tickets.Issue), or "streams" or "requests" held at once (OwnerLimit); with
// Server, the replica's own limit of heavy reads (ServerLimit), whoever asks.
type LimitedError struct {
	What       string
	RetryAfter time.Duration // how long the caller should wait before asking again
	Server     bool
}

func (e *LimitedError) Error() string {
	if e.Server {
		return fmt.Sprintf("too many %s on this server; retry in %v", e.What, e.RetryAfter)
	}
	return fmt.Sprintf("too many %s for this owner; retry in %v", e.What, e.RetryAfter)
}

// DefaultHeavyReads is BLASTLOG_MAX_HEAVY_READS's default: searches and downloads in
// progress on one replica, all owners together (two per core of the 2-core replicas
// the chart asks for).
const DefaultHeavyReads = 4

// DefaultHeavyWait is how long a heavy read waits for a place before it is refused: a
// search's time budget, so that a burst of them is served in turn rather than refused.
const DefaultHeavyWait = SearchMaxTime

// ServerLimit bounds a replica's heavy reads in progress whoever asks, beside each
// owner's OwnerLimit: a few owners within their own limits cannot hold every core, and
// health checks and live streams keep theirs. A read past the limit waits its turn
// for up to Wait, then is refused. A nil ServerLimit admits everything.
type ServerLimit struct {
	Max        int           // 0: DefaultHeavyReads
	Wait       time.Duration // 0: DefaultHeavyWait
	RetryAfter time.Duration // what a refused caller is told to wait (0: a second)

	once  sync.Once
	slots chan struct{}
}

func (l *ServerLimit) init() {
	l.once.Do(func() { l.slots = make(chan struct{}, cmp.Or(l.Max, DefaultHeavyReads)) })
}

// Acquire takes a place, waiting up to Wait for one; release gives it back (calling
// it again does nothing). A *LimitedError (Server) when none came free in time, or
// ctx's error when it ended first.
func (l *ServerLimit) Acquire(ctx context.Context) (release func(), err error) {
	if l == nil {
		return func() {}, nil
	}
	l.init()
	select {
	case l.slots <- struct{}{}:
	default:
		t := time.NewTimer(cmp.Or(l.Wait, DefaultHeavyWait))
		defer t.Stop()
		select {
		case l.slots <- struct{}{}:
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-t.C:
			return nil, &LimitedError{What: "requests", RetryAfter: cmp.Or(l.RetryAfter, time.Second), Server: true}
		}
	}
	var once sync.Once
	return func() { once.Do(func() { <-l.slots }) }, nil
}

// Held is how many places are held.
func (l *ServerLimit) Held() int {
	l.init()
	return len(l.slots)
}

// Acquire takes one of owner's places; release gives it back (calling it again does
// nothing). A *LimitedError when all are held.
func (l *OwnerLimit) Acquire(owner string) (release func(), err error) {
	if l == nil {
		return func() {}, nil
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.held[owner] >= l.Max {
		return nil, &LimitedError{What: l.What, RetryAfter: l.RetryAfter}
	}
	if l.held == nil {
		l.held = map[string]int{}
	}
	l.held[owner]++
	var once sync.Once
	return func() {
		once.Do(func() {
			l.mu.Lock()
			defer l.mu.Unlock()
			if l.held[owner]--; l.held[owner] <= 0 {
				delete(l.held, owner)
			}
		})
	}, nil
}

// Held is how many places owner holds.
func (l *OwnerLimit) Held(owner string) int {
	if l == nil {
		return 0
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.held[owner]
}
