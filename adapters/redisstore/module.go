package redisstore

import (
	"context"

	"github.com/redis/go-redis/v9"
	"go.uber.org/fx"

	"github.com/blastlog/blastlog/ports"
)

// Module provides the Redis client (closed on stop) and the ports implemented over it.
// It needs *redis.Options and Config from the function that uses it.
var Module = fx.Module("redisstore",
	fx.Provide(
		fx.Annotate(newClient, fx.As(new(redis.UniversalClient))),
		fx.Annotate(NewEventLog, fx.As(new(ports.EventLog)), fx.As(new(ports.LogTail))),
		fx.Annotate(NewJobDirectory, fx.As(new(ports.JobDirectory)), fx.As(new(ports.StatusReader))),
		fx.Annotate(NewTicketStore, fx.As(new(ports.TicketStore))),
		fx.Annotate(NewRateLimiter, fx.As(new(ports.RateLimiter))),
		fx.Annotate(NewCoordination, fx.As(new(ports.Leases)), fx.As(new(ports.Checkpoints)), fx.As(new(ports.ActiveRuns))),
	),
)

func newClient(lc fx.Lifecycle, opts *redis.Options) *redis.Client {
	c := redis.NewClient(opts)
	lc.Append(fx.StopHook(func(context.Context) error { return c.Close() }))
	return c
}
