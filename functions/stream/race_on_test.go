//go:build race

package main

// raceEnabled: this test binary runs under the race detector, which slows the
// collector five to ten times; throughput tests run in the test task's second pass.
const raceEnabled = true
