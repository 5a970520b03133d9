package redisstore

import (
	"context"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/blastlog/blastlog/ports"
)

// RateLimiter is ports.RateLimiter over one counter per key and fixed window.
type RateLimiter struct {
	rdb redis.UniversalClient
	cfg Config
}

var _ ports.RateLimiter = (*RateLimiter)(nil)

// NewRateLimiter returns a limiter counting in rdb under <prefix>rate:<key>.
func NewRateLimiter(rdb redis.UniversalClient, cfg Config) *RateLimiter {
	return &RateLimiter{rdb: rdb, cfg: cfg}
}

// The counter and its window start together; a key that lost its TTL gets it back.
var allowScript = redis.NewScript(`
local n = redis.call('INCR', KEYS[1])
local ttl = redis.call('PTTL', KEYS[1])
if n == 1 or ttl < 0 then
  redis.call('PEXPIRE', KEYS[1], ARGV[1])
  ttl = tonumber(ARGV[1])
end
return {n, ttl}`)

// Allow implements ports.RateLimiter.
func (l *RateLimiter) Allow(ctx context.Context, key string, limit int, window time.Duration) (bool, time.Duration, error) {
	res, err := allowScript.Run(ctx, l.rdb, []string{l.cfg.keyPrefix() + "rate:" + key}, window.Milliseconds()).Int64Slice()
	if err != nil {
		return false, 0, unavailable("rate limit", err)
	}
	if res[0] > int64(limit) {
		return false, time.Duration(res[1]) * time.Millisecond, nil
	}
	return true, 0, nil
}
