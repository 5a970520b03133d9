package main

import (
	"log/slog"
	"net/http"

	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/fx"

	"github.com/blastlog/blastlog/adapters/httpapi"
	"github.com/blastlog/blastlog/adapters/redisstore"
	"github.com/blastlog/blastlog/core/app"
	"github.com/blastlog/blastlog/functions/internal/envconf"
	"github.com/blastlog/blastlog/functions/internal/wiring"
)

// config is the whole configuration of the ticket function.
type config struct {
	Addr  string
	Redis envconf.Redis
	Auth  envconf.Auth
	// Archive: run records of runs Redis forgot are read from it (same variables as
	// the streaming container's).
	Archive envconf.Archive
	// MemoryLimit is the container's memory limit in bytes (0: the cgroup's).
	MemoryLimit uint64
}

func load(getenv func(string) string) (config, error) {
	g := envconf.Getenv(getenv)
	var c config
	var err error
	c.Addr = g.String("BLASTLOG_ADDR", ":8080")
	if c.MemoryLimit, err = envconf.LoadMemoryLimit(g); err != nil {
		return c, err
	}
	if c.Redis, err = envconf.LoadRedis(g, false); err != nil {
		return c, err
	}
	if c.Auth, err = envconf.LoadAuth(g); err != nil {
		return c, err
	}
	if c.Archive, err = envconf.LoadArchive(g, "off"); err != nil {
		return c, err
	}
	return c, nil
}

// options is the fx graph; serve mounts the HTTP server (not in Lambda mode).
func options(c config, serve bool) fx.Option {
	opts := []fx.Option{
		fx.NopLogger,
		fx.Supply(c.Redis, c.Redis.Layout, c.Redis.Cluster, c.Auth, c.Archive, wiring.Addr(c.Addr), wiring.DefaultTimeouts),
		fx.Provide(wiring.Logger, wiring.RedisOptions, wiring.Authenticator, wiring.OpenArchive, wiring.Access, wiring.Tickets, wiring.Ready, wiring.Metrics, handler),
		redisstore.Module,
	}
	if serve {
		opts = append(opts, fx.Provide(wiring.Serve), fx.Invoke(func(*http.Server) {}))
	}
	return fx.Options(opts...)
}

func handler(t *app.Tickets, ready wiring.ReadyFunc, log *slog.Logger, reg *prometheus.Registry, m *httpapi.Metrics) http.Handler {
	s := &httpapi.Server{Tickets: t, IssueTickets: true, Ready: ready, Logger: log, Registry: reg, Metrics: m}
	return s.Handler()
}
