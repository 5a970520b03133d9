package version

import (
	"strings"
	"testing"
)

// A build says which code it is: the version set at build time, else what Go stamped
// (a test binary has neither, so "dev"), never an empty string.
func TestString(t *testing.T) {
	if got := String(); got == "" || !strings.HasPrefix(got, "dev") && !strings.HasPrefix(got, "v") {
		t.Fatalf("%q", got)
	}
	Version = "v1.2.3"
	defer func() { Version = "" }()
	if got := String(); got != "v1.2.3" {
		t.Fatalf("%q", got)
	}
}
