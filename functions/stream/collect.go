package main

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"go.uber.org/fx"
	"golang.org/x/time/rate"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/blastlog/blastlog/adapters/azure"
	"github.com/blastlog/blastlog/adapters/kube"
	"github.com/blastlog/blastlog/core/app/collect"
	"github.com/blastlog/blastlog/functions/internal/wiring"
	"github.com/blastlog/blastlog/ports"
	"github.com/prometheus/client_golang/prometheus"
)

// collection runs the Kubernetes collector when BLASTLOG_K8S is not off.
func collection(c config) fx.Option {
	if c.K8s.Mode == "off" {
		return fx.Options()
	}
	opts := []fx.Option{fx.Invoke(runCollector)}
	switch c.K8s.Mode {
	case "aks":
		opts = append(opts, fx.Provide(fx.Annotate(newAKS, fx.As(new(ports.ClusterSource)))))
	case "incluster", "kubeconfig":
		opts = append(opts, fx.Provide(newCluster))
	}
	return fx.Options(opts...)
}

// newAKS finds each run's AKS cluster from its job record (ARM + azidentity).
func newAKS(c config) (*kube.AKS, error) {
	cred, err := azure.Credential(c.K8s.Credential)
	if err != nil {
		return nil, fmt.Errorf("BLASTLOG_K8S=aks: %w", err)
	}
	return &kube.AKS{Cred: cred}, nil
}

// collectorDeps are the collector's dependencies; in aks mode there is no one
// cluster but a lookup per run.
type collectorDeps struct {
	fx.In
	Clusters    ports.ClusterSource
	Log         ports.EventLog
	Jobs        ports.JobDirectory
	Statuses    ports.StatusReader
	Leases      ports.Leases
	Checkpoints ports.Checkpoints
	Active      ports.ActiveRuns
	Ended       ports.EndedRuns
	Logger      *slog.Logger
	Registry    *prometheus.Registry
}

func newCluster(c config) (ports.ClusterSource, error) {
	var cfg *rest.Config
	var err error
	switch c.K8s.Mode {
	case "incluster":
		cfg, err = rest.InClusterConfig()
	case "kubeconfig":
		cfg, err = clientcmd.BuildConfigFromFlags("", c.K8s.Kubeconfig)
	default:
		return nil, fmt.Errorf("BLASTLOG_K8S=%s: no cluster", c.K8s.Mode)
	}
	if err != nil {
		return nil, fmt.Errorf("BLASTLOG_K8S=%s: %w", c.K8s.Mode, err)
	}
	return kube.New(cfg)
}

// runCollector collects active runs between the app's start and stop.
func runCollector(lc fx.Lifecycle, c config, d collectorDeps) {
	col := &collect.Collector{Clusters: d.Clusters, Log: d.Log, Jobs: d.Jobs, Statuses: d.Statuses, Leases: d.Leases,
		Checkpoints: d.Checkpoints, Active: d.Active, Ended: d.Ended, Prices: c.Prices,
		Config: collect.Config{Holder: wiring.HolderID(), MaxFollows: c.K8s.MaxFollows,
			TailLines: c.K8s.TailLines, MetricsEvery: c.K8s.MetricsEvery, StallAfter: c.K8s.StallAfter, IdleAfter: c.K8s.IdleAfter},
		Pacer: meter(d.Registry, rate.NewLimiter(rate.Limit(c.K8s.QPS), int(c.K8s.QPS)))}
	d.Registry.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "blastlog_collector_poll_interval_seconds",
		Help: "How long the last round over a run's polled containers (beyond the follow cap) took."},
		func() float64 { return col.PollInterval().Seconds() }))
	d.Logger.Info("collecting pod logs", "mode", c.K8s.Mode, "max_follows", c.K8s.MaxFollows, "qps", c.K8s.QPS)
	wiring.Background(lc, col.Run)
}

// meteredPacer counts the collector's API requests and the time they waited for the
// budget (BLASTLOG_K8S_QPS): a budget that is spent shows as waiting.
type meteredPacer struct {
	p              ports.Pacer
	requests, wait prometheus.Counter
}

func meter(reg *prometheus.Registry, p ports.Pacer) ports.Pacer {
	m := &meteredPacer{p: p,
		requests: prometheus.NewCounter(prometheus.CounterOpts{Name: "blastlog_collector_api_requests_total",
			Help: "Kubernetes API requests of the collector (log follows' opens, pod reads, polls)."}),
		wait: prometheus.NewCounter(prometheus.CounterOpts{Name: "blastlog_collector_api_wait_seconds_total",
			Help: "Time the collector's API requests waited for the request budget (BLASTLOG_K8S_QPS); near 1 s/s: the budget is spent."})}
	reg.MustRegister(m.requests, m.wait)
	return m
}

func (m *meteredPacer) Wait(ctx context.Context) error {
	t0 := time.Now()
	err := m.p.Wait(ctx)
	m.requests.Inc()
	m.wait.Add(time.Since(t0).Seconds())
	return err
}
