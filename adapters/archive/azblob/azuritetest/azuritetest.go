package azuritetest

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"
	"time"
)

// Version is the Azurite release the tests use (and .ci/run installs).
const Version = "3.37.0"

// Azurite's well-known development account (its documentation publishes the key).
const (
	Account = "devstoreaccount1"
	Key     = "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=="
)

// Server is one Azurite Blob service.
type Server struct {
	Port int
	bin  string
	dir  string
	cmd  *exec.Cmd
}

// Bin finds azurite-blob, or says why it cannot.
func Bin() (string, error) {
	if p := os.Getenv("BLASTLOG_AZURITE"); p != "" {
		return p, nil
	}
	cache, err := os.UserCacheDir()
	if err != nil {
		return "", err
	}
	p := filepath.Join(cache, "blastlog", "azurite-"+Version, "node_modules", ".bin", "azurite-blob")
	if _, err := os.Stat(p); err != nil {
		return "", fmt.Errorf("azurite-blob not found at %s (npm install --prefix %s azurite@%s, as .ci/run does)",
			p, filepath.Dir(filepath.Dir(filepath.Dir(p))), Version)
	}
	return p, nil
}

// Start starts Azurite for t and stops it when t ends.
func Start(t testing.TB) *Server {
	t.Helper()
	bin, err := Bin()
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("Azurite is required in CI: %v", err)
		}
		t.Skipf("needs Azurite: %v", err)
	}
	s := &Server{bin: bin, dir: t.TempDir()}
	var lastErr error
	for attempt := 0; attempt < 3; attempt++ {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		s.Port = l.Addr().(*net.TCPAddr).Port
		l.Close()
		if lastErr = s.start(); lastErr == nil {
			t.Cleanup(s.kill)
			return s
		}
	}
	t.Fatalf("starting Azurite: %v", lastErr)
	return nil
}

func (s *Server) start() error {
	cmd := exec.Command(s.bin, "--blobHost", "127.0.0.1", "--blobPort", fmt.Sprint(s.Port),
		"--location", s.dir, "--silent", "--skipApiVersionCheck", "--loose")
	cmd.Stdout, cmd.Stderr = nil, nil
	if err := cmd.Start(); err != nil {
		return err
	}
	s.cmd = cmd
	deadline := time.Now().Add(15 * time.Second)
	for time.Now().Before(deadline) {
		c, err := net.DialTimeout("tcp", fmt.Sprintf("127.0.0.1:%d", s.Port), 200*time.Millisecond)
		if err == nil {
			c.Close()
			return nil
		}
		time.Sleep(50 * time.Millisecond)
	}
	s.kill()
	return fmt.Errorf("azurite-blob did not listen on port %d within 15 s", s.Port)
}

// ConnectionString is the development account's connection string for this server.
func (s *Server) ConnectionString() string {
	return fmt.Sprintf("DefaultEndpointsProtocol=http;AccountName=%s;AccountKey=%s;BlobEndpoint=http://127.0.0.1:%d/%s;",
		Account, Key, s.Port, Account)
}

// Stop ends the server (an outage); its data stays for Restart: Azurite saves its
// metadata on SIGTERM (a SIGKILL would lose what it had not saved yet). Safe to call
// twice.
func (s *Server) Stop() {
	if s.cmd == nil || s.cmd.Process == nil {
		return
	}
	done := make(chan struct{})
	go func() { s.cmd.Wait(); close(done) }()
	s.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		s.cmd.Process.Kill()
		<-done
	}
	s.cmd = nil
}

// Restart starts the server again on the same port and data.
func (s *Server) Restart(t testing.TB) {
	t.Helper()
	if err := s.start(); err != nil {
		t.Fatal(err)
	}
}

// kill ends the server at once (the test is over: its data does not matter).
func (s *Server) kill() {
	if s.cmd != nil && s.cmd.Process != nil {
		s.cmd.Process.Kill()
		s.cmd.Wait()
		s.cmd = nil
	}
}
