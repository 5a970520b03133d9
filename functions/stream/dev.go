//go:build !nodev

package main

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"strings"
	"time"

	"github.com/alicebob/miniredis/v2"
	"github.com/redis/go-redis/v9"
	"go.uber.org/fx"
	"k8s.io/client-go/rest"

	"github.com/blastlog/blastlog/adapters/kube"
	"github.com/blastlog/blastlog/adapters/kube/kubesim"
	"github.com/blastlog/blastlog/adapters/redisstore"
	"github.com/blastlog/blastlog/functions/internal/envconf"
	"github.com/blastlog/blastlog/functions/stream/demo"
	"github.com/blastlog/blastlog/ports"
)

// devRedis is the embedded Redis of -dev, with the demo run played into it.
func devRedis(layout redisstore.Config) fx.Option {
	return fx.Options(
		fx.Supply(layout),
		fx.Provide(func(lc fx.Lifecycle) (*redis.Options, error) {
			mr := miniredis.NewMiniRedis()
			if err := mr.Start(); err != nil {
				return nil, err
			}
			lc.Append(fx.StopHook(mr.Close))
			return &redis.Options{Addr: mr.Addr()}, nil
		}),
		fx.Provide(func(lc fx.Lifecycle) (*kubesim.Sim, ports.ClusterSource, error) {
			sim := kubesim.New()
			lc.Append(fx.StopHook(sim.Close))
			cl, err := kube.New(&rest.Config{Host: sim.URL()})
			return sim, cl, err
		}),
		fx.Invoke(playDemo),
	)
}

// playDemo plays demo runs owned by the dev user, once the app has started: a new one
// every BLASTLOG_DEMO_PERIOD (a minute), each lasting longer, so that a live run is
// always there.
func playDemo(lc fx.Lifecycle, log ports.EventLog, jobs ports.JobDirectory, active ports.ActiveRuns, auth envconf.Auth,
	opts *redis.Options, sim *kubesim.Sim, c config, logger *slog.Logger) {
	ctx, cancel := context.WithCancel(context.Background())
	stopped := make(chan struct{})
	lc.Append(fx.Hook{
		OnStart: func(context.Context) error {
			base := "http://" + c.Addr
			if strings.HasPrefix(c.Addr, ":") {
				base = "http://localhost" + c.Addr
			}
			if len(c.DevIgnored) > 0 {
				fmt.Fprintf(os.Stdout, "blastlog dev: ignoring %s (-dev brings its own Redis, dev-bypass auth and the Kubernetes simulator)\n",
					strings.Join(c.DevIgnored, ", "))
			}
			fmt.Fprintf(os.Stdout, "blastlog dev: embedded Redis at redis://%s/0 (try BLASTLOG_REDIS_URL=... blastlog-publish)\n", opts.Addr)
			fmt.Fprintf(os.Stdout, "blastlog dev: archive (BLASTLOG_ARCHIVE=dir) in %s\n", c.Archive.Dir)
			fmt.Fprintf(os.Stdout, "blastlog dev: the Run details page is at %s/ ; a new demo run (%s, %s, ...) starts every %s\n",
				base, demoJob(1), demoJob(2), c.DemoPeriod)
			p := demo.Player{Log: log, Jobs: jobs, Active: active, Sim: sim, Owner: auth.DevUser, Pace: demoPace}
			go func() {
				defer close(stopped)
				p.Loop(ctx, c.DemoPeriod, demoJob, func(id string, err error) { logger.Error("demo run failed", "job", id, "error", err) })
			}()
			return nil
		},
		// The demo's runs stop before the embedded Redis they write to.
		OnStop: func(stop context.Context) error {
			cancel()
			select {
			case <-stopped:
				return nil
			case <-stop.Done():
				return stop.Err()
			}
		},
	})
}

// demoPace plays a demo run of 24 batch jobs in about 75 s.
const demoPace = 700 * time.Millisecond

// demoJob names the dev stack's n-th demo run.
// devPrices are the -dev stack's prices when BLASTLOG_PRICES is unset: the demo's
// example file.
var devPrices = demo.Prices

func demoJob(n int) string { return fmt.Sprintf("demo-run-%d", n) }
