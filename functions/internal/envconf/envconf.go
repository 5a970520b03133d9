package envconf

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Getenv is os.Getenv or a stand-in in tests.
type Getenv func(string) string

// String returns the variable or def when it is unset or empty.
func (g Getenv) String(name, def string) string {
	if v := g(name); v != "" {
		return v
	}
	return def
}

// Int parses a whole number within [min, max].
func (g Getenv) Int(name string, def, min, max int64) (int64, error) {
	v := g(name)
	if v == "" {
		return def, nil
	}
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil || n < min || n > max {
		return 0, fmt.Errorf("%s=%q: want a whole number from %d to %d", name, v, min, max)
	}
	return n, nil
}

// Duration parses a Go duration (30s, 168h) within [min, max].
func (g Getenv) Duration(name string, def, min, max time.Duration) (time.Duration, error) {
	v := g(name)
	if v == "" {
		return def, nil
	}
	d, err := time.ParseDuration(v)
	if err != nil || d < min || d > max {
		return 0, fmt.Errorf("%s=%q: want a duration from %v to %v (like 30s or 168h)", name, v, min, max)
	}
	return d, nil
}

// OneOf returns the variable if it is one of allowed, else an error naming them.
func (g Getenv) OneOf(name, def string, allowed ...string) (string, error) {
	v := g.String(name, def)
	for _, a := range allowed {
		if v == a {
			return v, nil
		}
	}
	return "", fmt.Errorf("%s=%q: want one of %v", name, v, allowed)
}

// Bytes parses a size in bytes with an optional KiB, MiB or GiB suffix (256MiB)
// within [min, max].
func (g Getenv) Bytes(name string, def, min, max int64) (int64, error) {
	v := g(name)
	if v == "" {
		return def, nil
	}
	num, unit := v, int64(1)
	for suffix, u := range map[string]int64{"KiB": 1 << 10, "MiB": 1 << 20, "GiB": 1 << 30} {
		if n, ok := strings.CutSuffix(v, suffix); ok {
			num, unit = n, u
		}
	}
	n, err := strconv.ParseInt(num, 10, 64)
	if err != nil || n < 0 || n > max/unit || n*unit < min {
		return 0, fmt.Errorf("%s=%q: want a size from %d to %d bytes (like 256MiB)", name, v, min, max)
	}
	return n * unit, nil
}

// LoadMemoryLimit reads BLASTLOG_MEMORY_LIMIT: the container's memory limit in bytes
// (optionally KiB, MiB, GiB), 0 when unset — the cgroup's is read then.
func LoadMemoryLimit(g Getenv) (uint64, error) {
	n, err := g.Bytes("BLASTLOG_MEMORY_LIMIT", 0, 0, 1<<50)
	return uint64(n), err
}
