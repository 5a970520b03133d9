// Package redistest starts a private redis-server for a test: on a free loopback port,
// without persistence, stopped when the test ends. Where no redis-server binary exists
// it falls back to an embedded miniredis — except under CI (CI set), where the
// fallback would hide a missing install, and the test fails instead.
package redistest

import (
	"bufio"
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/alicebob/miniredis/v2"
	"github.com/redis/go-redis/v9"
)

// Server is one private Redis.
type Server struct {
	Addr string
	Real bool // a redis-server process, not miniredis

	cmd  *exec.Cmd
	mini *miniredis.Miniredis
}

// URL is the redis:// URL of the server.
func (s *Server) URL() string { return "redis://" + s.Addr + "/0" }

// Client returns a client closed when the test ends.
func (s *Server) Client(t testing.TB) *redis.Client {
	c := redis.NewClient(&redis.Options{Addr: s.Addr})
	t.Cleanup(func() { c.Close() })
	return c
}

// Stop ends the server now (for tests of an unreachable Redis). Safe to call twice.
func (s *Server) Stop() {
	if s.mini != nil {
		s.mini.Close()
		return
	}
	if s.cmd != nil && s.cmd.Process != nil {
		s.cmd.Process.Kill()
		s.cmd.Wait()
		s.cmd = nil
	}
}

// RequireReal fails (or, outside CI, skips) a test that needs a real redis-server.
func (s *Server) RequireReal(t testing.TB) {
	t.Helper()
	if !s.Real {
		t.Skip("needs a real redis-server; none on PATH (install the redis-server package)")
	}
}

// Start starts a server for t.
func Start(t testing.TB) *Server {
	t.Helper()
	bin, err := exec.LookPath("redis-server")
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("redis-server is not on PATH; CI must install it (apt-get install -y redis-server): %v", err)
		}
		m := miniredis.RunT(t)
		t.Logf("no redis-server on PATH: using embedded miniredis")
		return &Server{Addr: m.Addr(), mini: m}
	}
	var lastErr error
	for attempt := 0; attempt < 5; attempt++ {
		s, err := startReal(t, bin)
		if err == nil {
			t.Cleanup(s.Stop)
			return s
		}
		lastErr = err
	}
	t.Fatalf("starting redis-server: %v", lastErr)
	return nil
}

func startReal(t testing.TB, bin string) (*Server, error) {
	port, err := freePort()
	if err != nil {
		return nil, err
	}
	dir := t.TempDir()
	cmd := exec.Command(bin, "--port", fmt.Sprint(port), "--bind", "127.0.0.1", "--save", "",
		"--appendonly", "no", "--dir", dir, "--logfile", filepath.Join(dir, "redis.log"))
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	s := &Server{Addr: fmt.Sprintf("127.0.0.1:%d", port), Real: true, cmd: cmd}
	c := redis.NewClient(&redis.Options{Addr: s.Addr, MaxRetries: -1})
	defer c.Close()
	deadline := time.Now().Add(5 * time.Second)
	for time.Now().Before(deadline) {
		ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
		err = c.Ping(ctx).Err()
		cancel()
		if err == nil {
			return s, nil
		}
		time.Sleep(20 * time.Millisecond)
	}
	s.Stop()
	return nil, fmt.Errorf("redis-server on %s did not answer: %v; log: %s", s.Addr, err, tail(filepath.Join(dir, "redis.log")))
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

func tail(path string) string {
	f, err := os.Open(path)
	if err != nil {
		return ""
	}
	defer f.Close()
	var last []string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		last = append(last, sc.Text())
		if len(last) > 5 {
			last = last[1:]
		}
	}
	return strings.Join(last, " | ")
}
