package diagnose

// This file holds what a container may use (its limits) and was seen to use (its
// peak), and how memory is written for people.

import (
	"math"
	"strconv"
	"strings"

	"github.com/blastlog/blastlog/core/event"
)

// Limits are a container's resource limits from its pod spec.
type Limits struct {
	Memory string `json:"memory,omitempty"`
	CPU    string `json:"cpu,omitempty"`
}

// Peak is the most a container instance was seen to use (sampled from the metrics
// API: a short spike between two samples is missed).
type Peak struct {
	Memory string  `json:"memory,omitempty"` // "61.8Gi"
	CPU    float64 `json:"cpu,omitempty"`    // cores
}

// peakOf is the peak of what the container_ended notice says it used; nil without
// samples.
func peakOf(u *event.Usage) *Peak {
	if u == nil || u.Samples == 0 {
		return nil
	}
	return &Peak{Memory: MemoryText(u.PeakMemory), CPU: math.Round(u.CPUPeak*10) / 10}
}

// higher is the larger of two peaks, figure by figure (nil when both are).
func higher(a, b *Peak) *Peak {
	switch {
	case a == nil:
		return b
	case b == nil:
		return a
	}
	out := *a
	if memoryBytes(b.Memory) > memoryBytes(a.Memory) {
		out.Memory = b.Memory
	}
	out.CPU = max(a.CPU, b.CPU)
	return &out
}

// MemoryText says bytes in Kubernetes' binary units with one decimal: "61.8Gi",
// "512Mi", "900Ki".
func MemoryText(b int64) string {
	for _, u := range []struct {
		name string
		size float64
	}{{"Ti", 1 << 40}, {"Gi", 1 << 30}, {"Mi", 1 << 20}, {"Ki", 1 << 10}} {
		if float64(b) >= u.size {
			return strconv.FormatFloat(math.Round(float64(b)/u.size*10)/10, 'f', -1, 64) + u.name
		}
	}
	return strconv.FormatInt(b, 10)
}

// memoryBytes reads what MemoryText wrote (0 if it cannot).
func memoryBytes(s string) int64 {
	for _, u := range []struct {
		name string
		size float64
	}{{"Ti", 1 << 40}, {"Gi", 1 << 30}, {"Mi", 1 << 20}, {"Ki", 1 << 10}, {"", 1}} {
		if num, ok := strings.CutSuffix(s, u.name); ok {
			if f, err := strconv.ParseFloat(num, 64); err == nil {
				return int64(f * u.size)
			}
		}
	}
	return 0
}
