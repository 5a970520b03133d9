package main

import (
	"context"
	"errors"
	"log/slog"
	"net/http"

	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/fx"

	"github.com/blastlog/blastlog/adapters/httpapi"
	"github.com/blastlog/blastlog/adapters/redisstore"
	"github.com/blastlog/blastlog/adapters/web"
	"github.com/blastlog/blastlog/core/app"
	"github.com/blastlog/blastlog/functions/internal/envconf"
	"github.com/blastlog/blastlog/functions/internal/wiring"
	"github.com/blastlog/blastlog/ports"
)

// config is the whole configuration of the streaming container.
type config struct {
	Addr  string
	Dev   bool
	Redis envconf.Redis // unset in -dev: the embedded Redis is used
	Auth  envconf.Auth
	K8s   k8sConfig
	// Tickets mounts the ticket route here too (BLASTLOG_STREAM_TICKETS=on; always in
	// -dev): for one-container deployments, where no ingress sends it to the function.
	Tickets bool
}

// k8sConfig says whether and how pods are collected.
type k8sConfig struct {
	Mode       string // off, incluster, kubeconfig, aks; sim in -dev
	Kubeconfig string
	Credential string // aks: the azidentity credential (BLASTLOG_AZURE_CREDENTIAL)
	MaxFollows int
	TailLines  int64
}

func load(getenv func(string) string, dev bool) (config, error) {
	g := envconf.Getenv(getenv)
	c := config{Addr: g.String("BLASTLOG_ADDR", ":8080"), Dev: dev}
	var err error
	if dev {
		if g("BLASTLOG_ENV") == "production" {
			return c, errors.New("-dev (embedded Redis, dev-bypass) is refused when BLASTLOG_ENV=production")
		}
		getenv = overlay(getenv, map[string]string{"BLASTLOG_AUTH_MODE": "dev-bypass"})
		g = envconf.Getenv(getenv)
	} else if c.Redis, err = envconf.LoadRedis(g, false); err != nil {
		return c, err
	}
	if c.Auth, err = envconf.LoadAuth(g); err != nil {
		return c, err
	}
	if c.K8s, err = loadK8s(g, dev); err != nil {
		return c, err
	}
	t, err := g.OneOf("BLASTLOG_STREAM_TICKETS", "off", "off", "on")
	if err != nil {
		return c, err
	}
	c.Tickets = dev || t == "on"
	return c, nil
}

func loadK8s(g envconf.Getenv, dev bool) (k8sConfig, error) {
	k := k8sConfig{Kubeconfig: g("KUBECONFIG")}
	var err error
	if k.Mode, err = g.OneOf("BLASTLOG_K8S", "off", "off", "incluster", "kubeconfig", "aks"); err != nil {
		return k, err
	}
	if k.Mode == "aks" {
		if k.Credential, err = g.OneOf("BLASTLOG_AZURE_CREDENTIAL", "default", "default", "workload", "managed", "cli"); err != nil {
			return k, err
		}
	}
	if k.Mode == "kubeconfig" && k.Kubeconfig == "" {
		return k, errors.New("BLASTLOG_K8S=kubeconfig needs KUBECONFIG (the path of a kubeconfig file)")
	}
	if dev {
		k.Mode = "sim"
	}
	n, err := g.Int("BLASTLOG_K8S_MAX_FOLLOWS", 64, 1, 10_000)
	if err != nil {
		return k, err
	}
	k.MaxFollows = int(n)
	if k.TailLines, err = g.Int("BLASTLOG_K8S_TAIL_LINES", 2000, 1, 10_000); err != nil {
		return k, err
	}
	return k, nil
}

func overlay(getenv func(string) string, over map[string]string) func(string) string {
	return func(k string) string {
		if v, ok := over[k]; ok {
			return v
		}
		return getenv(k)
	}
}

// options is the fx graph of the streaming container.
func options(c config) fx.Option {
	redisOpts := fx.Options(fx.Supply(c.Redis, c.Redis.Layout), fx.Provide(wiring.RedisOptions))
	if c.Dev {
		redisOpts = devRedis()
	}
	return fx.Options(
		fx.NopLogger,
		fx.Supply(c.Auth, wiring.Addr(c.Addr), c),
		redisOpts,
		redisstore.Module,
		fx.Provide(wiring.Logger, wiring.Authenticator, wiring.Tickets, wiring.Ready, wiring.Metrics, newHub, newServer,
			handler, wiring.Serve),
		fx.Invoke(func(hs *http.Server, s *httpapi.Server) { hs.RegisterOnShutdown(s.EndStreams) }),
		collection(c),
	)
}

// newHub runs the shared reader between the app's start and stop.
func newHub(lc fx.Lifecycle, log ports.EventLog, tail ports.LogTail, st ports.StatusReader, m *httpapi.Metrics) *app.Hub {
	h := &app.Hub{Log: log, Tail: tail, Statuses: st, Metrics: app.HubMetrics{
		Readers: func(n int) { m.HubReaders.Set(float64(n)) },
	}}
	wiring.Background(lc, h.Run)
	return h
}

func newServer(c config, t *app.Tickets, h *app.Hub, l ports.EventLog, active ports.ActiveRuns, ready wiring.ReadyFunc,
	log *slog.Logger, reg *prometheus.Registry, m *httpapi.Metrics) *httpapi.Server {
	s := &httpapi.Server{Tickets: t, IssueTickets: c.Tickets, Hub: h, Snapshots: &app.Snapshots{Tickets: t, Log: l},
		Ready: ready, Logger: log, Registry: reg, Metrics: m, Extra: web.Routes(pageConfig(c))}
	if c.K8s.Mode != "off" {
		// A viewer's run is collected even if no publisher marked it active.
		s.Watching = func(ctx context.Context, jobID string) { active.Touch(ctx, jobID) }
	}
	return s
}

func handler(s *httpapi.Server, log *slog.Logger) http.Handler {
	return &httpapi.Inspector{Next: s.Handler(), Logger: log}
}
