// Command blastlog-stream is the streaming container: it redeems tickets and serves
// each run's log as Server-Sent Events (and snapshots), fanned in through one shared
// reader per container. -dev runs the whole system in one process: an embedded Redis,
// dev-bypass auth, the ticket route and a demo ElasticBLAST run.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"syscall"
	"time"

	"go.uber.org/fx"

	"github.com/blastlog/blastlog/functions/internal/version"
)

func main() {
	dev := flag.Bool("dev", false, "embedded dev stack: in-process Redis, dev-bypass auth, demo run")
	showVersion := flag.Bool("version", false, "print the version and exit")
	flag.Parse()
	if *showVersion {
		version.Print(os.Stdout, "blastlog-stream")
		return
	}
	cfg, err := load(os.Getenv, *dev)
	if err != nil {
		fmt.Fprintln(os.Stderr, "blastlog-stream:", err)
		os.Exit(2)
	}
	a := fx.New(options(cfg))
	startCtx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	if err := a.Start(startCtx); err != nil {
		fmt.Fprintln(os.Stderr, "blastlog-stream: start:", err)
		os.Exit(1)
	}
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, syscall.SIGTERM, os.Interrupt)
	code := 0
	select {
	case <-sigs:
	case sig := <-a.Wait():
		code = sig.ExitCode
	}
	// Stop accepting, end open streams (clients reconnect elsewhere), within 10 s.
	stopCtx, cancelStop := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancelStop()
	if err := a.Stop(stopCtx); err != nil {
		fmt.Fprintln(os.Stderr, "blastlog-stream: stop:", err)
		code = 1
	}
	os.Exit(code)
}
