package wiring

import (
	"log/slog"

	"github.com/KimMachineGun/automemlimit/memlimit"
)

// MemoryRatio is the share of the container's memory limit the Go runtime is given as
// its soft limit (GOMEMLIMIT): the rest is headroom for stacks, buffers outside the
// heap and the collector's lag.
const MemoryRatio = 0.9

// SetMemoryLimit gives the Go runtime a soft memory limit of MemoryRatio of the
// container's: limit bytes when given (BLASTLOG_MEMORY_LIMIT, which the Helm chart
// sets from resources.limits.memory), else the cgroup's limit. A GOMEMLIMIT set by
// hand wins, and AUTOMEMLIMIT=off (or another ratio) is the library's own switch. It
// returns the limit in force; without any limit that is math.MaxInt64, Go's default.
func SetMemoryLimit(limit uint64, log *slog.Logger) (int64, error) {
	provider := memlimit.FromCgroup
	if limit > 0 {
		provider = memlimit.Limit(limit)
	}
	return memlimit.Set(memlimit.WithRatio(MemoryRatio), memlimit.WithProvider(provider), memlimit.WithLogger(log))
}
