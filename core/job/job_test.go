package job

import (
	"errors"
	"strings"
	"testing"

	"github.com/blastlog/blastlog/core/event"
)

func TestStatus(t *testing.T) {
	for _, s := range []string{"queued", "running", "completed", "failed", "cancelled"} {
		st, err := ParseStatus(s)
		if err != nil || string(st) != s {
			t.Fatalf("%s: %v", s, err)
		}
		if want := s == "completed" || s == "failed" || s == "cancelled"; st.Terminal() != want {
			t.Errorf("%s terminal = %v", s, st.Terminal())
		}
	}
	for _, s := range []string{"", "done", "Running", "completed "} {
		if _, err := ParseStatus(s); !errors.Is(err, event.ErrInvalid) {
			t.Errorf("%q accepted", s)
		}
	}
}

// FuzzSafeID: the fast path for ids that are already safe answers what the regexp
// does, and every answer is safe, non-empty and at most 160 bytes.
func FuzzSafeID(f *testing.F) {
	for _, s := range []string{"run-42", "a b/c", "", "x\n\ny", "ü", "job:1.2_3-4", strings.Repeat("a", 200)} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, id string) {
		got := SafeID(id)
		want := unsafeRun.ReplaceAllString(id, "_")
		if len(want) > 160 {
			want = want[:160]
		}
		if want == "" {
			want = "unknown"
		}
		if got != want || !safe(got) || len(got) > 160 {
			t.Fatalf("SafeID(%q) = %q want %q", id, got, want)
		}
	})
}
