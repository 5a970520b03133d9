package wiring

import (
	"log/slog"
	"math"
	"os"
	"runtime/debug"
	"testing"
)

// The limit given is taken at MemoryRatio; a GOMEMLIMIT set by hand wins.
func TestSetMemoryLimit(t *testing.T) {
	before := debug.SetMemoryLimit(-1)
	t.Cleanup(func() { debug.SetMemoryLimit(before) })
	t.Setenv("GOMEMLIMIT", "")
	t.Setenv("AUTOMEMLIMIT", "restored after the test")
	os.Unsetenv("AUTOMEMLIMIT") // unset, not empty: empty is a ratio that does not parse
	got, err := SetMemoryLimit(512<<20, slog.New(slog.DiscardHandler))
	ratio := MemoryRatio
	if want := int64(float64(512<<20) * ratio); err != nil || got != want || debug.SetMemoryLimit(-1) != want {
		t.Fatalf("512 MiB limit: GOMEMLIMIT %d (%v), want %d", got, err, want)
	}
	t.Setenv("GOMEMLIMIT", "300MiB")
	debug.SetMemoryLimit(math.MaxInt64)
	if _, err := SetMemoryLimit(512<<20, slog.New(slog.DiscardHandler)); err != nil || debug.SetMemoryLimit(-1) != math.MaxInt64 {
		t.Fatalf("a GOMEMLIMIT set by hand was overridden: %d (%v)", debug.SetMemoryLimit(-1), err)
	}
}
