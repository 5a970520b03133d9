package diagnose

import (
	"math/rand/v2"
	"testing"
)

// Memory is written as Kubernetes writes it, one decimal, and read back within the
// rounding: the figures of a peak against its limit stay comparable.
func TestMemoryText(t *testing.T) {
	for b, want := range map[int64]string{
		66355200000: "61.8Gi", 62 << 30: "62Gi", 512 << 20: "512Mi", 900 << 10: "900Ki", 1023: "1023",
		3 << 40: "3Ti", (1 << 30) - 1: "1024Mi", 0: "0",
	} {
		if got := MemoryText(b); got != want {
			t.Errorf("MemoryText(%d) = %q, want %q", b, got, want)
		}
	}
	for _, s := range []string{"", "Gi", "x1Gi", "1.5Xi"} {
		if memoryBytes(s) != 0 {
			t.Errorf("memoryBytes(%q) = %d", s, memoryBytes(s))
		}
	}
	for range 10_000 {
		b := rand.Int64N(1 << 44)
		back := memoryBytes(MemoryText(b))
		if d := float64(back-b) / float64(max(b, 1)); b >= 1<<10 && (d > 0.05 || d < -0.05) {
			t.Fatalf("%d → %q → %d", b, MemoryText(b), back)
		}
	}
}

// A batch's peak is the most any attempt used, memory and CPU each on its own.
func TestHigherPeak(t *testing.T) {
	a, b := &Peak{Memory: "61.8Gi", CPU: 2}, &Peak{Memory: "512Mi", CPU: 14.6}
	if h := higher(a, b); *h != (Peak{Memory: "61.8Gi", CPU: 14.6}) || *higher(b, a) != *h {
		t.Fatalf("%+v", h)
	}
	if higher(nil, nil) != nil || higher(a, nil) != a || higher(nil, b) != b {
		t.Fatal("a missing peak")
	}
	if *a != (Peak{Memory: "61.8Gi", CPU: 2}) {
		t.Fatal("higher changed its argument")
	}
}
