package testio

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

// Buffer is an output buffer that several goroutines, or a process's two streams,
// may write at once.
type Buffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

// Write appends p.
func (s *Buffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

// String returns what was written so far.
func (s *Buffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// Tool is the path of a test tool built by go tool task tools (tools/<name>/build.sh
// says where it is). A test without it skips, saying how to build it; under CI=true
// it fails.
func Tool(t testing.TB, name string) string {
	t.Helper()
	dir, err := os.Getwd()
	for err == nil {
		if _, serr := os.Stat(filepath.Join(dir, "tools", name, "build.sh")); serr == nil {
			break
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			err = fmt.Errorf("no tools/%s/build.sh above the test's directory", name)
		}
		dir = parent
	}
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("bash", filepath.Join(dir, "tools", name, "build.sh"))
	cmd.Env = append(os.Environ(), "BLASTLOG_TOOLS_PATH_ONLY=1") // where it is, not a build of minutes here
	out, err := cmd.Output()
	path := strings.TrimSpace(string(out))
	if _, serr := os.Stat(path); err != nil || serr != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("%s is not built (go tool task tools): %v %v", name, err, serr)
		}
		t.Skipf("%s is not built: go tool task tools", name)
	}
	return path
}
