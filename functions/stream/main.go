// Command blastlog-stream is the streaming container. This version has only the
// embedded dev stack (-dev): an in-process Redis, the demo run published through the
// real publisher, and the run's log printed as it is stored. The SSE endpoint, the
// Kubernetes collector and the Run details page are built on top of it.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/alicebob/miniredis/v2"
	"github.com/redis/go-redis/v9"

	"github.com/blastlog/blastlog/adapters/redisstore"
	"github.com/blastlog/blastlog/functions/stream/demo"
)

func main() {
	dev := flag.Bool("dev", false, "run the embedded dev stack")
	flag.Parse()
	if !*dev {
		fmt.Fprintln(os.Stderr, "blastlog-stream: only -dev is available in this version")
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := runDev(ctx); err != nil {
		fmt.Fprintln(os.Stderr, "blastlog-stream:", err)
		os.Exit(1)
	}
}

func runDev(ctx context.Context) error {
	mr, err := miniredis.Run()
	if err != nil {
		return err
	}
	defer mr.Close()
	rdb := redis.NewClient(&redis.Options{Addr: mr.Addr()})
	defer rdb.Close()
	log := redisstore.NewEventLog(rdb, redisstore.Config{})
	jobs := redisstore.NewJobDirectory(rdb, redisstore.Config{})
	const jobID = "demo-run"
	fmt.Printf("blastlog dev: embedded Redis at redis://%s/0 (BLASTLOG_REDIS_URL for blastlog-publish)\n", mr.Addr())
	fmt.Printf("blastlog dev: replaying `elastic-blast submit` of run %q through the publisher; Ctrl-C stops\n", jobID)

	done := make(chan error, 1)
	go func() {
		done <- demo.Submit(ctx, log, jobs, jobID, "00000000-0000-0000-0000-000000000000", 400*time.Millisecond)
	}()
	after, finished := "", false
	for {
		evs, err := log.Read(ctx, jobID, after, 100)
		if err != nil {
			return err
		}
		for _, e := range evs {
			fmt.Printf("%s  %-10s %-6s %s\n", e.ID, e.Phase, e.Stream, e.Line)
			after = e.ID
		}
		if finished && len(evs) == 0 {
			r, err := jobs.Get(context.WithoutCancel(ctx), jobID)
			if err != nil {
				return err
			}
			fmt.Printf("blastlog dev: run %q is %s; Ctrl-C stops the embedded Redis\n", jobID, r.Status)
			<-ctx.Done()
			return nil
		}
		select {
		case err := <-done:
			if err != nil && ctx.Err() == nil {
				return err
			}
			finished = true
		case <-ctx.Done():
			fmt.Println("blastlog dev: stopped")
			return nil
		case <-time.After(100 * time.Millisecond):
		}
	}
}
