package main

import (
	"context"
	"os"

	"github.com/redis/go-redis/v9"

	"github.com/blastlog/blastlog/functions/internal/version"
)

// quiet drops go-redis's own log lines: they would interleave with the wrapped
// command's stderr, and every failure that matters is reported once, by us.
type quiet struct{}

func (quiet) Printf(context.Context, string, ...any) {}

func main() {
	if version.Requested(os.Args[1:]) {
		version.Print(os.Stdout, "blastlog-publish")
		return
	}
	redis.SetLogger(quiet{})
	os.Exit(cli{getenv: os.Getenv, stdin: os.Stdin, stdout: os.Stdout, stderr: os.Stderr}.main(os.Args[1:]))
}
