package main

import (
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/redis/go-redis/v9"
	"go.uber.org/fx"

	"github.com/blastlog/blastlog/adapters/httpapi"
	"github.com/blastlog/blastlog/adapters/redisstore"
	"github.com/blastlog/blastlog/adapters/web"
	"github.com/blastlog/blastlog/core/app"
	"github.com/blastlog/blastlog/core/app/archive"
	"github.com/blastlog/blastlog/core/app/collect"
	"github.com/blastlog/blastlog/core/app/fanout"
	"github.com/blastlog/blastlog/core/app/history"
	"github.com/blastlog/blastlog/core/diagnose"
	"github.com/blastlog/blastlog/functions/internal/envconf"
	"github.com/blastlog/blastlog/functions/internal/wiring"
	"github.com/blastlog/blastlog/ports"
)

// config is the whole configuration of the streaming container.
type config struct {
	Addr string
	Dev  bool
	// MemoryLimit is the container's memory limit in bytes (0: the cgroup's).
	MemoryLimit uint64
	// DemoPeriod: -dev starts a demo run this often.
	DemoPeriod time.Duration
	// DevIgnored: the variables set in the environment that -dev overrides.
	DevIgnored []string
	Redis      envconf.Redis // in -dev only its Layout: the embedded Redis is used
	Auth       envconf.Auth
	K8s        k8sConfig
	Archive    envconf.Archive
	// TempArchive: -dev made Archive.Dir itself (no BLASTLOG_ARCHIVE_DIR); a clean stop
	// removes it.
	TempArchive bool
	// Tickets mounts the ticket route here too (BLASTLOG_STREAM_TICKETS=on; always in
	// -dev): for one-container deployments, where no ingress sends it to the function.
	Tickets bool
	// ActiveTTL is BLASTLOG_ACTIVE_TTL: runs idle this long leave blastlog:active.
	ActiveTTL time.Duration
	// MaxStreams and MaxRequests are BLASTLOG_OWNER_MAX_STREAMS and
	// BLASTLOG_OWNER_MAX_REQUESTS: what one owner may hold open on this replica.
	MaxStreams, MaxRequests int
	// MaxHeavyReads is BLASTLOG_MAX_HEAVY_READS: searches and downloads in progress on
	// this replica, all owners together.
	MaxHeavyReads int
	// ReadMemory is BLASTLOG_READ_MEMORY: the bytes this replica's searches and
	// downloads hold for chunks, all together (history.Budget).
	ReadMemory int64
	// PprofAddr is BLASTLOG_PPROF_ADDR: net/http/pprof on this loopback address ("" off).
	PprofAddr string
	// StuckAfter is BLASTLOG_STUCK_AFTER: a run without progress this long, with a pod
	// waiting or a Warning event since, is stuck (its diagnosis).
	StuckAfter time.Duration
	Prices     ports.PriceBook // BLASTLOG_PRICES (the demo's in -dev; nil: node-hours only)
	// Notify is BLASTLOG_NOTIFY_*: webhooks told when a run fails, is stuck, ...
	Notify envconf.Notify
}

// k8sConfig says whether and how pods are collected.
type k8sConfig struct {
	Mode       string // off, incluster, kubeconfig, aks; sim in -dev
	Kubeconfig string
	Credential string // aks: the azidentity credential (BLASTLOG_AZURE_CREDENTIAL)
	MaxFollows int
	TailLines  int64
	QPS        int64
	// MetricsEvery: how often a run's PodMetrics are listed; negative: off.
	MetricsEvery time.Duration
	StallAfter   time.Duration // a running batch without CPU and lines this long has stalled
	IdleAfter    time.Duration // a finished run's nodes still up this long: cluster_idle
}

// load reads the streaming container's configuration from the environment, each
// group of settings in a step of its own; -dev first replaces what it brings itself.
func load(getenv func(string) string, dev bool) (config, error) {
	c := config{Dev: dev}
	g := envconf.Getenv(getenv)
	if dev {
		var err error
		if g, err = c.loadDev(g); err != nil {
			return c, err
		}
	}
	for _, step := range []func(envconf.Getenv) error{c.loadStores, c.loadServing, c.loadNotify} {
		if err := step(g); err != nil {
			return c, err
		}
	}
	// Last, once nothing can fail: the directory is removed only by a clean stop.
	if dev && c.Archive.Mode == "dir" && c.Archive.Dir == "" {
		var err error
		if c.Archive.Dir, err = os.MkdirTemp("", "blastlog-archive-"); err != nil {
			return c, fmt.Errorf("-dev archive directory: %w", err)
		}
		c.TempArchive = true
	}
	return c, nil
}

// loadDev: -dev is refused in production; it names the variables it overrides that are
// set, turns dev-bypass on, and reads its demo's period.
func (c *config) loadDev(g envconf.Getenv) (envconf.Getenv, error) {
	if g("BLASTLOG_ENV") == "production" {
		return g, errors.New("-dev (embedded Redis, dev-bypass) is refused when BLASTLOG_ENV=production")
	}
	for _, name := range devOverrides {
		if g(name) != "" {
			c.DevIgnored = append(c.DevIgnored, name)
		}
	}
	g = envconf.Getenv(overlay(g, map[string]string{"BLASTLOG_AUTH_MODE": "dev-bypass"}))
	var err error
	c.DemoPeriod, err = g.Duration("BLASTLOG_DEMO_PERIOD", time.Minute, time.Second, time.Hour)
	return g, err
}

// loadStores: Redis (in -dev only its key layout), authentication, Kubernetes and the
// archive (a directory by default in -dev).
func (c *config) loadStores(g envconf.Getenv) error {
	var err error
	if c.Dev {
		c.Redis.Layout, err = envconf.LoadLayout(g)
	} else {
		c.Redis, err = envconf.LoadRedis(g, false)
	}
	if err != nil {
		return err
	}
	if c.Auth, err = envconf.LoadAuth(g); err != nil {
		return err
	}
	if c.K8s, err = loadK8s(g, c.Dev); err != nil {
		return err
	}
	archive := "off"
	if c.Dev {
		archive = "dir"
	}
	if c.Archive, err = envconf.LoadArchive(g, archive); err != nil {
		return err
	}
	if c.Archive.HardMax < c.Redis.Layout.MaxLen {
		return errors.New("BLASTLOG_STREAM_HARDMAX must be at least BLASTLOG_STREAM_MAXLEN")
	}
	return nil
}

// loadServing: the listener (loopback in -dev: dev-bypass is on), the ticket route,
// the active set's pruning, the per-owner limits, when a run is stuck and pprof.
func (c *config) loadServing(g envconf.Getenv) error {
	addr := ":8080"
	if c.Dev {
		addr = "127.0.0.1:8080"
	}
	c.Addr = g.String("BLASTLOG_ADDR", addr)
	var err error
	if c.MemoryLimit, err = envconf.LoadMemoryLimit(g); err != nil {
		return err
	}
	tickets, err := g.OneOf("BLASTLOG_STREAM_TICKETS", "off", "off", "on")
	if err != nil {
		return err
	}
	c.Tickets = c.Dev || tickets == "on"
	if c.ActiveTTL, err = g.Duration("BLASTLOG_ACTIVE_TTL", app.DefaultActiveTTL, time.Minute, 90*24*time.Hour); err != nil {
		return err
	}
	streams, err := g.Int("BLASTLOG_OWNER_MAX_STREAMS", app.DefaultOwnerStreams, 1, 100_000)
	if err != nil {
		return err
	}
	requests, err := g.Int("BLASTLOG_OWNER_MAX_REQUESTS", app.DefaultOwnerRequests, 1, 100_000)
	if err != nil {
		return err
	}
	heavy, err := g.Int("BLASTLOG_MAX_HEAVY_READS", app.DefaultHeavyReads, 1, 100_000)
	if err != nil {
		return err
	}
	c.MaxStreams, c.MaxRequests, c.MaxHeavyReads = int(streams), int(requests), int(heavy)
	if c.ReadMemory, err = g.Bytes("BLASTLOG_READ_MEMORY", history.DefaultBudget, 32<<20, 64<<30); err != nil {
		return err
	}
	if c.StuckAfter, err = g.Duration("BLASTLOG_STUCK_AFTER", diagnose.DefaultStuckAfter, time.Minute, 7*24*time.Hour); err != nil {
		return err
	}
	var fallback []byte
	if c.Dev {
		fallback = devPrices
	}
	if c.Prices, err = envconf.LoadPrices(g, fallback); err != nil {
		return err
	}
	if c.PprofAddr = g("BLASTLOG_PPROF_ADDR"); c.PprofAddr != "" {
		return checkPprofAddr(c.PprofAddr)
	}
	return nil
}

// loadNotify: the webhooks, which follow every run's diagnosis through the archiver
// (it keeps the diagnosis with or without an archive).
func (c *config) loadNotify(g envconf.Getenv) error {
	var err error
	c.Notify, err = envconf.LoadNotify(g)
	return err
}

// devOverrides are the variables -dev does not honour: it brings its own Redis,
// dev-bypass authentication, the Kubernetes simulator and the ticket route. Every
// other variable is read as without -dev.
var devOverrides = []string{"BLASTLOG_REDIS_URL", "BLASTLOG_REDIS_CLUSTER", "BLASTLOG_REDIS_AUTH",
	"BLASTLOG_AUTH_MODE", "BLASTLOG_K8S", "KUBECONFIG", "BLASTLOG_AZURE_CREDENTIAL", "BLASTLOG_STREAM_TICKETS"}

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
	n, err := g.Int("BLASTLOG_K8S_MAX_FOLLOWS", collect.DefaultMaxFollows, 1, 10_000)
	if err != nil {
		return k, err
	}
	k.MaxFollows = int(n)
	if k.TailLines, err = g.Int("BLASTLOG_K8S_TAIL_LINES", collect.DefaultTailLines, 1, 10_000); err != nil {
		return k, err
	}
	if k.QPS, err = g.Int("BLASTLOG_K8S_QPS", collect.DefaultQPS, 1, 100_000); err != nil {
		return k, err
	}
	every := collect.DefaultMetricsEvery
	if dev {
		every = 2 * time.Second // a demo batch runs for seconds
	}
	if k.MetricsEvery = -1; g("BLASTLOG_K8S_METRICS_EVERY") != "off" {
		if k.MetricsEvery, err = g.Duration("BLASTLOG_K8S_METRICS_EVERY", every, time.Second, 5*time.Minute); err != nil {
			return k, fmt.Errorf("%w (or off)", err)
		}
	}
	stall := collect.DefaultStallAfter
	if dev {
		stall = 10 * time.Second // the demo's stalled batch waits 25 s
	}
	if k.StallAfter, err = g.Duration("BLASTLOG_STALL_AFTER", stall, 10*time.Second, 24*time.Hour); err != nil {
		return k, err
	}
	idle := collect.DefaultIdleAfter
	if dev {
		idle = 20 * time.Second // one demo run's cluster stays up a minute after it
	}
	if k.IdleAfter, err = g.Duration("BLASTLOG_IDLE_AFTER", idle, 10*time.Second, 24*time.Hour); err != nil {
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
	redisOpts := fx.Options(fx.Supply(c.Redis, c.Redis.Layout, c.Redis.Cluster), fx.Provide(wiring.RedisOptions))
	if c.Dev {
		redisOpts = devRedis(c.Redis.Layout)
	}
	return fx.Options(
		fx.NopLogger,
		fx.Supply(c.Auth, wiring.Addr(c.Addr), wiring.DefaultTimeouts, c),
		redisOpts,
		redisstore.Module,
		fx.Supply(c.Archive),
		fx.Provide(wiring.Logger, wiring.Authenticator, wiring.OpenArchive, wiring.Access, wiring.Tickets, wiring.Ready, wiring.Metrics,
			newHistory, newHub, newViewing, newServer, handler, wiring.Serve),
		fx.Invoke(func(lc fx.Lifecycle, hs *http.Server, s *httpapi.Server) {
			hs.RegisterOnShutdown(s.EndStreams)
			lc.Append(fx.Hook{OnStop: s.StreamsEnded}) // stops before the server: streams first
		}),
		collection(c),
		archiving(c),
		profiling(c),
	)
}

func profiling(c config) fx.Option {
	if c.PprofAddr == "" {
		return fx.Options()
	}
	return fx.Invoke(func(lc fx.Lifecycle, log *slog.Logger) { servePprof(lc, c.PprofAddr, log) })
}

// newHistory is the one read path: the archive (when configured), then the stream.
func newHistory(c config, log ports.EventLog, st wiring.ArchiveStore) *history.Reader {
	return &history.Reader{Log: log, Archive: st.Archive, Index: st.Index, Budget: history.NewBudget(c.ReadMemory)}
}

// newHub runs the shared reader between the app's start and stop.
// With collection, a terminal run completes once its collector drained it.
func newHub(lc fx.Lifecycle, c config, log ports.EventLog, tail ports.LogTail, st ports.StatusReader, hr *history.Reader,
	as wiring.ArchiveStore, active ports.ActiveRuns, m *httpapi.Metrics) *fanout.Hub {
	h := &fanout.Hub{Log: log, Tail: tail, Statuses: st, History: hr, Index: as.Index, Metrics: fanout.HubMetrics{
		Readers: func(n int) { m.HubReaders.Set(float64(n)) },
	}}
	if c.K8s.Mode != "off" {
		h.Collecting = active
	}
	wiring.Background(lc, h.Run)
	return h
}

type viewingDeps struct {
	fx.In
	Lifecycle fx.Lifecycle
	Statuses  ports.StatusReader
	Active    ports.ActiveRuns
	Archiver  *archive.Archiver `optional:"true"`
}

// newViewing is what opening a run starts, and the active set's upkeep between the
// app's start and stop.
func newViewing(c config, d viewingDeps) *app.Viewing {
	v := &app.Viewing{Statuses: d.Statuses, Active: d.Active, Collecting: c.K8s.Mode != "off", ActiveTTL: c.ActiveTTL}
	if d.Archiver != nil {
		v.Archiver = d.Archiver
	}
	wiring.Background(d.Lifecycle, v.PruneIdle)
	return v
}

type serverDeps struct {
	fx.In
	Tickets  *app.Tickets
	Hub      *fanout.Hub
	History  *history.Reader
	Store    wiring.ArchiveStore
	RDB      redis.UniversalClient
	Layout   redisstore.Config
	Viewing  *app.Viewing
	Ready    wiring.ReadyFunc
	Logger   *slog.Logger
	Registry *prometheus.Registry
	Metrics  *httpapi.Metrics
}

func newServer(c config, d serverDeps) *httpapi.Server {
	return &httpapi.Server{Tickets: d.Tickets, IssueTickets: c.Tickets,
		Streams: &app.Streams{Tickets: d.Tickets, Limit: app.NewStreamLimit(c.MaxStreams), Hub: d.Hub, Viewing: d.Viewing},
		Reads: &app.Reads{Access: d.Tickets.Access, History: d.History, Index: d.Store.Index,
			Kept:  redisstore.NewSummaries(d.RDB, d.Layout),
			Limit: app.NewRequestLimit(c.MaxRequests),
			Heavy: &app.ServerLimit{Max: c.MaxHeavyReads}, StuckAfter: c.StuckAfter, Prices: c.Prices},
		Ready: d.Ready, Logger: d.Logger, Registry: d.Registry, Metrics: d.Metrics, Extra: web.Routes(pageConfig(c))}
}

func handler(s *httpapi.Server, log *slog.Logger) http.Handler {
	return &httpapi.Inspector{Next: s.Handler(), Logger: log}
}

// pageConfig is what the Run details page is told. Without ?run= the page opens the
// caller's newest run (in -dev: the newest demo run, as the dev user).
func pageConfig(c config) web.Config {
	if c.Auth.DevBypass() {
		return web.Config{DevBypass: true, DevUser: c.Auth.DevUser}
	}
	e := c.Auth.Entra
	in := &web.SignIn{ClientID: c.Auth.PageClientID, Authority: e.Authority + "/" + e.TenantID,
		Scope: "api://" + e.ClientID + "/" + e.Scope}
	if c.Notify.PublicURL != "" {
		in.RedirectURI = c.Notify.PublicURL + "/"
	}
	return web.Config{SignIn: in}
}
