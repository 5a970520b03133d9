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
	"github.com/blastlog/blastlog/functions/internal/wiring"
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
	if _, err := wiring.SetMemoryLimit(cfg.MemoryLimit, wiring.Logger()); err != nil {
		fmt.Fprintln(os.Stderr, "blastlog-stream: memory limit:", err)
	}
	a := fx.New(options(cfg))
	startCtx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	if err := a.Start(startCtx); err != nil {
		fmt.Fprintln(os.Stderr, "blastlog-stream: start:", err)
		if cfg.TempArchive {
			os.RemoveAll(cfg.Archive.Dir)
		}
		os.Exit(1)
	}
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, syscall.SIGTERM, os.Interrupt)
	var orphaned <-chan struct{} // nil: never
	if cfg.Dev {
		orphaned = parentGone(os.Getppid(), 250*time.Millisecond)
	}
	code := 0
	select {
	case <-sigs:
	case <-orphaned:
		fmt.Fprintln(os.Stderr, "blastlog-stream: the process that started -dev has ended; stopping")
	case sig := <-a.Wait():
		code = sig.ExitCode
	}
	// Stop accepting, end open streams (clients reconnect elsewhere), within 10 s.
	stopCtx, cancelStop := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancelStop()
	if err := a.Stop(stopCtx); err != nil {
		fmt.Fprintln(os.Stderr, "blastlog-stream: stop:", err)
		code = 1
	} else if cfg.TempArchive {
		// A clean stop leaves nothing behind; BLASTLOG_ARCHIVE_DIR is never removed.
		if err := os.RemoveAll(cfg.Archive.Dir); err != nil {
			fmt.Fprintln(os.Stderr, "blastlog-stream: removing the -dev archive:", err)
		}
	}
	os.Exit(code)
}

// parentGone is closed once this process's parent is no longer ppid: whoever started
// it has ended. `go tool task dev` needs it: go-task swallows SIGINT and SIGTERM
// without passing them on, and its watch mode, which the dev task uses, exits at once
// on them, leaving its command behind.
func parentGone(ppid int, every time.Duration) <-chan struct{} {
	gone := make(chan struct{})
	go func() {
		for os.Getppid() == ppid {
			time.Sleep(every)
		}
		close(gone)
	}()
	return gone
}
