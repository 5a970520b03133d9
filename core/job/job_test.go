package job

import (
	"errors"
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
