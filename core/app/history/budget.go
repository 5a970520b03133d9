package history

import (
	"context"
	"sync"
)

// DefaultBudget is Reader.Budget's default size: the bytes the replica's scans
// (downloads and searches) hold at once for chunks, whatever their number.
const DefaultBudget = 96 << 20

// loadBytes is what one chunk being loaded may hold at worst: its stored bytes (at most
// chunk.MaxBytes, 1 MiB) and its decoded events (the bytes again, plus ~450 bytes for
// each of up to 5,000 events).
const loadBytes = 4 << 20

// scanBytes is what a scan holds for as long as it runs: its own cache of chunks and
// one load of its own, so that it always moves on, whatever the other scans hold.
const scanBytes = scanCacheBytes + loadBytes

// Budget is a replica's bytes for the chunks its scans hold and load: each scan takes
// scanBytes when it starts (waiting while others hold the budget), and each chunk it
// fetches ahead takes loadBytes more while it loads, only when they are free (else it
// is loaded when needed, in the scan's own place). So memory for reads never grows with
// the number of readers. A nil *Budget bounds nothing.
type Budget struct {
	mu    sync.Mutex
	max   int64
	used  int64
	freed chan struct{} // closed when bytes are given back
}

// NewBudget is a budget of size bytes (at least one scan's).
func NewBudget(size int64) *Budget {
	return &Budget{max: max(size, scanBytes), freed: make(chan struct{})}
}

// take waits until n bytes are free and takes them, or returns ctx's error.
func (b *Budget) take(ctx context.Context, n int64) error {
	if b == nil {
		return nil
	}
	for {
		b.mu.Lock()
		if b.used+n <= b.max {
			b.used += n
			b.mu.Unlock()
			return nil
		}
		freed := b.freed
		b.mu.Unlock()
		select {
		case <-freed:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// tryTake takes n bytes if they are free.
func (b *Budget) tryTake(n int64) bool {
	if b == nil {
		return true
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.used+n > b.max {
		return false
	}
	b.used += n
	return true
}

// give gives n bytes back.
func (b *Budget) give(n int64) {
	if b == nil {
		return
	}
	b.mu.Lock()
	b.used -= n
	close(b.freed)
	b.freed = make(chan struct{})
	b.mu.Unlock()
}

// Used is how many bytes are taken.
func (b *Budget) Used() int64 {
	if b == nil {
		return 0
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.used
}
