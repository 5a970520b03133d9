package redisstore

import (
	"context"

	"github.com/redis/go-redis/v9"
	"go.uber.org/fx"

	"github.com/blastlog/blastlog/ports"
)

// Module provides the Redis client (closed on stop) and the ports implemented over it.
// It needs *redis.Options and Config from the function that uses it, and a Cluster
// for a Redis Cluster.
var Module = fx.Module("redisstore",
	fx.Provide(
		newClient,
		fx.Annotate(NewEventLog, fx.As(new(ports.EventLog))),
		newTail,
		fx.Annotate(NewJobDirectory, fx.As(new(ports.JobDirectory)), fx.As(new(ports.StatusReader))),
		fx.Annotate(NewTicketStore, fx.As(new(ports.TicketStore))),
		fx.Annotate(NewRateLimiter, fx.As(new(ports.RateLimiter))),
		fx.Annotate(NewCoordination, fx.As(new(ports.Leases)), fx.As(new(ports.Checkpoints)), fx.As(new(ports.ActiveRuns)), fx.As(new(ports.EndedRuns))),
	),
)

type clientParams struct {
	fx.In
	Opts    *redis.Options
	Cluster Cluster `optional:"true"`
}

func newClient(lc fx.Lifecycle, p clientParams) redis.UniversalClient {
	c := NewClient(p.Opts, p.Cluster)
	lc.Append(fx.StopHook(func(context.Context) error { return c.Close() }))
	return c
}

// TailPoolSize is the pool of the blocking reads' own client (per node on a
// cluster): the hub's readers (fanout.DefaultReaders) and the archiver wait in XREAD
// BLOCK there, so a burst of requests never waits for a connection behind them, nor
// they behind it.
const TailPoolSize = 40

// newTail is ports.LogTail over a client of its own, of TailPoolSize connections.
func newTail(lc fx.Lifecycle, p clientParams, cfg Config) ports.LogTail {
	o := *p.Opts
	o.PoolSize, o.MinIdleConns, o.MaxIdleConns, o.MaxActiveConns = TailPoolSize, 0, TailPoolSize, 0
	c := NewClient(&o, p.Cluster)
	lc.Append(fx.StopHook(func(context.Context) error { return c.Close() }))
	return NewEventLog(c, cfg)
}

// NewClient is a single-node client of o, or with cl.On a cluster client that starts
// from cl.Seeds with o's credentials, TLS, timeouts and pool (o.Addr and o.DB unused).
// A cluster client follows MOVED/ASK redirects itself; o.MaxRetries still governs
// retries of a failed command.
func NewClient(o *redis.Options, cl Cluster) redis.UniversalClient {
	if !cl.On {
		return redis.NewClient(o)
	}
	return redis.NewClusterClient(&redis.ClusterOptions{
		Addrs: cl.Seeds, ClientName: o.ClientName, Protocol: o.Protocol,
		Username: o.Username, Password: o.Password, CredentialsProvider: o.CredentialsProvider,
		CredentialsProviderContext: o.CredentialsProviderContext, StreamingCredentialsProvider: o.StreamingCredentialsProvider,
		TLSConfig: o.TLSConfig, Dialer: o.Dialer, OnConnect: o.OnConnect,
		MaxRetries: o.MaxRetries, MinRetryBackoff: o.MinRetryBackoff, MaxRetryBackoff: o.MaxRetryBackoff,
		DialTimeout: o.DialTimeout, ReadTimeout: o.ReadTimeout, WriteTimeout: o.WriteTimeout,
		PoolFIFO: o.PoolFIFO, PoolSize: o.PoolSize, PoolTimeout: o.PoolTimeout,
		MinIdleConns: o.MinIdleConns, MaxIdleConns: o.MaxIdleConns, MaxActiveConns: o.MaxActiveConns,
		ConnMaxIdleTime: o.ConnMaxIdleTime, ConnMaxLifetime: o.ConnMaxLifetime,
	})
}
