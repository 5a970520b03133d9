package ports

import (
	"context"
	"time"
)

// RateLimiter counts uses of a key in fixed windows.
type RateLimiter interface {
	// Allow counts one use of key. Over limit uses in the current window it answers
	// false and how long until the window ends.
	Allow(ctx context.Context, key string, limit int, window time.Duration) (ok bool, retryAfter time.Duration, err error)
}
