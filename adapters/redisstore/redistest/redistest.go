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
	"syscall"
	"testing"
	"time"

	"github.com/alicebob/miniredis/v2"
	"github.com/redis/go-redis/v9"
)

// Server is one private Redis.
type Server struct {
	Addr string
	Real bool // a redis-server process, not miniredis

	cmd   *exec.Cmd
	mini  *miniredis.Miniredis
	bin   string
	dir   string
	extra []string // more redis-server arguments (a cluster node's)
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

// Shutdown stops the server cleanly, saving its data set (SHUTDOWN SAVE), as a Redis
// restarted for maintenance does: Restart loads it back.
func (s *Server) Shutdown(t testing.TB) {
	t.Helper()
	s.RequireReal(t)
	c := redis.NewClient(&redis.Options{Addr: s.Addr, MaxRetries: -1})
	defer c.Close()
	c.ShutdownSave(context.Background()) // the connection closing is its answer
	s.cmd.Wait()
	s.cmd = nil
}

// Restart starts the stopped server again on the same address: with the data set
// Shutdown saved, else empty (a Redis that died without persistence).
func (s *Server) Restart(t testing.TB) {
	t.Helper()
	s.RequireReal(t)
	s.Stop()
	_, port, _ := net.SplitHostPort(s.Addr)
	var err error
	for attempt := 0; attempt < 10; attempt++ {
		if err = s.launch(port); err == nil {
			return
		}
		time.Sleep(100 * time.Millisecond) // the port may not be free again yet
	}
	t.Fatalf("restarting redis-server on %s: %v", s.Addr, err)
}

// Pause stops the server's process (SIGSTOP): connections are accepted by the kernel
// and never answered, as a hung Redis does. Resume continues it.
func (s *Server) Pause(t testing.TB) {
	t.Helper()
	s.RequireReal(t)
	if err := s.cmd.Process.Signal(syscall.SIGSTOP); err != nil {
		t.Fatal(err)
	}
}

// Resume continues a paused server.
func (s *Server) Resume(t testing.TB) {
	t.Helper()
	if err := s.cmd.Process.Signal(syscall.SIGCONT); err != nil {
		t.Fatal(err)
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
	return StartWith(t)
}

// StartWith starts a real redis-server with more arguments (persistence, for one:
// "--appendonly", "yes"); Restart keeps them. It needs redis-server: the embedded
// fallback could not honour them.
func StartWith(t testing.TB, args ...string) *Server {
	t.Helper()
	if len(args) > 0 {
		bin, err := exec.LookPath("redis-server")
		if err != nil {
			if os.Getenv("CI") != "" {
				t.Fatalf("redis-server is not on PATH; CI must install it: %v", err)
			}
			t.Skip("needs a real redis-server (the redis-server package)")
		}
		return startRetrying(t, bin, args)
	}
	bin, err := exec.LookPath("redis-server")
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("redis-server is not on PATH; CI must install it (apt-get install -y redis-server): %v", err)
		}
		m := miniredis.RunT(t)
		t.Logf("no redis-server on PATH: using embedded miniredis")
		return &Server{Addr: m.Addr(), mini: m}
	}
	return startRetrying(t, bin, nil)
}

func startRetrying(t testing.TB, bin string, args []string) *Server {
	var lastErr error
	for attempt := 0; attempt < 5; attempt++ {
		s, err := startReal(t, bin, args)
		if err == nil {
			t.Cleanup(s.Stop)
			return s
		}
		lastErr = err
	}
	t.Fatalf("starting redis-server: %v", lastErr)
	return nil
}

func startReal(t testing.TB, bin string, args []string) (*Server, error) {
	port, err := freePort()
	if err != nil {
		return nil, err
	}
	s := &Server{Addr: fmt.Sprintf("127.0.0.1:%d", port), Real: true, bin: bin, dir: t.TempDir(), extra: args}
	if err := s.launch(fmt.Sprint(port)); err != nil {
		return nil, err
	}
	return s, nil
}

// launch starts redis-server on port and waits until it answers.
func (s *Server) launch(port string) error {
	dir := s.dir
	args := append([]string{"--port", port, "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
		"--dir", dir, "--logfile", filepath.Join(dir, "redis.log")}, s.extra...)
	cmd := exec.Command(s.bin, args...)
	if err := cmd.Start(); err != nil {
		return err
	}
	s.cmd = cmd
	var err error
	c := redis.NewClient(&redis.Options{Addr: s.Addr, MaxRetries: -1})
	defer c.Close()
	deadline := time.Now().Add(5 * time.Second)
	for time.Now().Before(deadline) {
		ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
		err = c.Ping(ctx).Err()
		cancel()
		if err == nil {
			return nil
		}
		time.Sleep(20 * time.Millisecond)
	}
	s.Stop()
	return fmt.Errorf("redis-server on %s did not answer: %v; log: %s", s.Addr, err, tail(filepath.Join(dir, "redis.log")))
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
