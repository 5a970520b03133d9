package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/http/pprof"
	"runtime"
	"time"

	"go.uber.org/fx"
)

// Profiling rates while BLASTLOG_PPROF_ADDR is set: one mutex contention event in
// mutexFraction is sampled, and a blocking event about every blockRate nanoseconds
// spent blocked. Both cost little and nothing when profiling is off.
const (
	mutexFraction = 10
	blockRate     = 10_000
)

// checkPprofAddr accepts a loopback address only: profiles show code paths and
// timings, which belong to whoever can reach the pod's loopback (kubectl port-forward).
func checkPprofAddr(addr string) error {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return fmt.Errorf("BLASTLOG_PPROF_ADDR=%q: %w", addr, err)
	}
	if ip := net.ParseIP(host); host != "localhost" && (ip == nil || !ip.IsLoopback()) {
		return fmt.Errorf("BLASTLOG_PPROF_ADDR=%q: want a loopback address such as 127.0.0.1:6060", addr)
	}
	return nil
}

// servePprof serves net/http/pprof on addr between the app's start and stop, with
// mutex and block profiling on.
func servePprof(lc fx.Lifecycle, addr string, log *slog.Logger) {
	mux := http.NewServeMux()
	mux.HandleFunc("/debug/pprof/", pprof.Index)
	mux.HandleFunc("/debug/pprof/cmdline", pprof.Cmdline)
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
	mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	lc.Append(fx.Hook{
		OnStart: func(context.Context) error {
			ln, err := net.Listen("tcp", addr)
			if err != nil {
				return err
			}
			runtime.SetMutexProfileFraction(mutexFraction)
			runtime.SetBlockProfileRate(blockRate)
			log.Info("profiling", "addr", ln.Addr().String())
			go func() {
				if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
					log.Warn("profiling server stopped", "error", err)
				}
			}()
			return nil
		},
		OnStop: func(ctx context.Context) error {
			runtime.SetMutexProfileFraction(0)
			runtime.SetBlockProfileRate(0)
			return srv.Shutdown(ctx)
		},
	})
}
