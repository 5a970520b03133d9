package main

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/aws/aws-lambda-go/lambda"
	"go.uber.org/fx"

	"github.com/blastlog/blastlog/adapters/awslambda"
	"github.com/blastlog/blastlog/functions/internal/version"
	"github.com/blastlog/blastlog/functions/internal/wiring"
)

func main() {
	if version.Requested(os.Args[1:]) {
		version.Print(os.Stdout, "blastlog-ticket")
		return
	}
	cfg, err := load(os.Getenv)
	if err != nil {
		fmt.Fprintln(os.Stderr, "blastlog-ticket:", err)
		os.Exit(2)
	}
	if _, err := wiring.SetMemoryLimit(cfg.MemoryLimit, wiring.Logger()); err != nil {
		fmt.Fprintln(os.Stderr, "blastlog-ticket: memory limit:", err)
	}
	lambdaMode := os.Getenv("AWS_LAMBDA_RUNTIME_API") != ""
	var h http.Handler
	a := fx.New(options(cfg, !lambdaMode), fx.Populate(&h))
	startCtx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	if err := a.Start(startCtx); err != nil {
		fmt.Fprintln(os.Stderr, "blastlog-ticket: start:", err)
		os.Exit(1)
	}
	stop := func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		a.Stop(ctx)
	}
	if lambdaMode {
		// Started in Lambda's init phase; the runtime calls stop on SIGTERM.
		lambda.StartWithOptions(awslambda.Handler(h), lambda.WithEnableSIGTERM(stop))
		return
	}
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, syscall.SIGTERM, os.Interrupt)
	select {
	case <-sigs:
	case sig := <-a.Wait():
		stop()
		os.Exit(sig.ExitCode)
	}
	stop()
}
