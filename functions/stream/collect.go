package main

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"log/slog"
	"os"

	"go.uber.org/fx"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/blastlog/blastlog/adapters/kube"
	"github.com/blastlog/blastlog/core/app"
	"github.com/blastlog/blastlog/functions/internal/wiring"
	"github.com/blastlog/blastlog/ports"
)

// collection runs the Kubernetes collector when BLASTLOG_K8S is not off.
func collection(c config) fx.Option {
	if c.K8s.Mode == "off" {
		return fx.Options()
	}
	opts := []fx.Option{fx.Invoke(runCollector)}
	if c.K8s.Mode != "sim" {
		opts = append(opts, fx.Provide(newCluster))
	}
	return fx.Options(opts...)
}

func newCluster(c config) (ports.Cluster, error) {
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
func runCollector(lc fx.Lifecycle, c config, cl ports.Cluster, log ports.EventLog, jobs ports.JobDirectory,
	st ports.StatusReader, leases ports.Leases, ck ports.Checkpoints, active ports.ActiveRuns, logger *slog.Logger) {
	host, _ := os.Hostname()
	var b [4]byte
	rand.Read(b[:])
	col := &app.Collector{Cluster: cl, Log: log, Jobs: jobs, Statuses: st, Leases: leases, Checkpoints: ck, Active: active,
		Config: app.CollectorConfig{Holder: host + "-" + hex.EncodeToString(b[:]), MaxFollows: c.K8s.MaxFollows,
			TailLines: c.K8s.TailLines}}
	logger.Info("collecting pod logs", "mode", c.K8s.Mode, "max_follows", c.K8s.MaxFollows)
	wiring.Background(lc, col.Run)
}
