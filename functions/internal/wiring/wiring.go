package wiring

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"log/slog"
	"net"
	"net/http"
	"os"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/redis/go-redis/v9"
	"go.uber.org/fx"

	"github.com/blastlog/blastlog/adapters/azure"
	"github.com/blastlog/blastlog/adapters/entra"
	"github.com/blastlog/blastlog/adapters/httpapi"
	"github.com/blastlog/blastlog/core/app"
	"github.com/blastlog/blastlog/functions/internal/envconf"
	"github.com/blastlog/blastlog/ports"
)

// Logger is JSON on stderr. Nothing in blastlog logs tokens, tickets or query strings.
func Logger() *slog.Logger {
	return slog.New(slog.NewJSONHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelInfo}))
}

// Authenticator is Entra ID validation, or dev-bypass (with a warning at start).
func Authenticator(lc fx.Lifecycle, a envconf.Auth, log *slog.Logger) (ports.Authenticator, error) {
	if a.DevBypass() {
		log.Warn("dev-bypass authentication: every caller is accepted as X-Dev-User or BLASTLOG_DEV_USER; never use this in production",
			"dev_user", a.DevUser)
		return entra.DevBypass{User: a.DevUser}, nil
	}
	ctx, cancel := context.WithCancel(context.Background())
	lc.Append(fx.StopHook(cancel))
	cfg := a.Entra
	cfg.Logger = log
	v, err := entra.New(ctx, cfg)
	if err != nil {
		cancel()
		return nil, err
	}
	return v, nil
}

// Access is identity and ownership over the ports. With an archive, ownership is
// also checked against the records of runs Redis forgot.
func Access(auth ports.Authenticator, jobs ports.JobDirectory, as ArchiveStore) *app.Access {
	return &app.Access{Auth: auth, Jobs: jobs, Archived: as.Index}
}

// Tickets is the ticket use case over the ports.
func Tickets(a envconf.Auth, access *app.Access, store ports.TicketStore, lim ports.RateLimiter) *app.Tickets {
	return &app.Tickets{Access: access, Store: store, Limiter: lim, TTL: a.TicketTTL, PerMinute: a.PerMinute}
}

// ReadyFunc reports whether the services a function depends on answer.
type ReadyFunc func(context.Context) error

// Ready pings Redis for /readyz.
func Ready(rdb redis.UniversalClient) ReadyFunc {
	return func(ctx context.Context) error { return rdb.Ping(ctx).Err() }
}

// Addr is the listen address of an HTTP function.
type Addr string

// Timeouts are the HTTP server's deadlines: reading a request (headers and body),
// and writing a response that sets no deadline of its own (tickets, health,
// metrics). net/http lifts the read deadline once a request is read, so a stream is
// not cut by it; streams and reads set a write deadline per write.
type Timeouts struct{ Read, Write time.Duration }

// DefaultTimeouts are the deadlines of both HTTP functions.
var DefaultTimeouts = Timeouts{Read: 30 * time.Second, Write: 60 * time.Second}

// Serve runs h on addr between the app's start and stop. The listener is opened in
// the start hook so that a busy port fails the start; serving happens in a goroutine.
func Serve(lc fx.Lifecycle, addr Addr, to Timeouts, h http.Handler, log *slog.Logger, shutdown fx.Shutdowner) *http.Server {
	srv := &http.Server{Handler: h, ReadHeaderTimeout: min(10*time.Second, to.Read), ReadTimeout: to.Read,
		WriteTimeout: to.Write, IdleTimeout: 120 * time.Second,
		ErrorLog: slog.NewLogLogger(log.Handler(), slog.LevelWarn)}
	lc.Append(fx.Hook{
		OnStart: func(context.Context) error {
			ln, err := net.Listen("tcp", string(addr))
			if err != nil {
				return err
			}
			srv.Addr = ln.Addr().String()
			log.Info("listening", "addr", srv.Addr)
			go func() {
				if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
					log.Error("http server stopped", "error", err)
					shutdown.Shutdown(fx.ExitCode(1))
				}
			}()
			return nil
		},
		OnStop: func(ctx context.Context) error { return srv.Shutdown(ctx) },
	})
	return srv
}

// RedisOptions are the client options of BLASTLOG_REDIS_URL, with Entra ID
// authentication when BLASTLOG_REDIS_AUTH=entra: the token provider renews in the
// background between the app's start and stop.
func RedisOptions(lc fx.Lifecycle, r envconf.Redis, log *slog.Logger) (*redis.Options, error) {
	opts := *r.Options
	if r.Auth != "entra" {
		return &opts, nil
	}
	cred, err := azure.Credential(r.Credential)
	if err != nil {
		return nil, err
	}
	p := azure.NewRedisCredentials(cred, log)
	Background(lc, p.Run)
	opts.Username, opts.Password = "", ""
	opts.StreamingCredentialsProvider = p
	return &opts, nil
}

// Metrics is a fresh registry with the Go runtime's collectors and blastlog's metrics.
func Metrics() (*prometheus.Registry, *httpapi.Metrics) {
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return reg, httpapi.NewMetrics(reg)
}

// Background runs f between the app's start and stop; stop cancels f's context and
// waits for f to return (or for the stop deadline).
func Background(lc fx.Lifecycle, f func(ctx context.Context)) {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	lc.Append(fx.Hook{
		OnStart: func(context.Context) error {
			go func() { defer close(done); f(ctx) }()
			return nil
		},
		OnStop: func(stop context.Context) error {
			cancel()
			select {
			case <-done:
				return nil
			case <-stop.Done():
				return stop.Err()
			}
		},
	})
}

// HolderID names this process in leases: host name and 4 random bytes.
func HolderID() string {
	host, _ := os.Hostname()
	var b [4]byte
	rand.Read(b[:])
	return host + "-" + hex.EncodeToString(b[:])
}
