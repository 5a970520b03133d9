package redisstore

import (
	"bytes"
	"runtime"
	"strings"
	"testing"
)

// A summary's compression reuses its writer: a new gzip writer is hundreds of
// kilobytes of tables, and every run rewrites its summary every few seconds (200
// runs made it most of the streaming container's garbage, and its p99 latency 30
// times Centrifugo's). What one call allocates stays near the output's size.
func TestGzippedReusesItsWriter(t *testing.T) {
	summary := []byte(strings.Repeat(`{"batch":"013","state":"succeeded","attempts":[{"pod":"blastn-batch-s01-job-013"}]},`, 200))
	gzipped(summary) // the pool's first writer
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	const calls = 100
	var out []byte
	for range calls {
		out = gzipped(summary)
	}
	runtime.ReadMemStats(&after)
	perCall := (after.TotalAlloc - before.TotalAlloc) / calls
	if perCall > 64<<10 {
		t.Fatalf("%d bytes allocated per summary written (its gzip is %d bytes): a writer per call?", perCall, len(out))
	}
	back, err := gunzip(string(out))
	if err != nil || !bytes.Equal(back, summary) {
		t.Fatalf("round trip: %v", err)
	}
}
