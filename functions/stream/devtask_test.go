package main

import (
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/blastlog/blastlog/internal/testio"
)

// TestDevTaskStopsWhenAsked runs `go tool task dev` as a newcomer does and stops it
// as an IDE's stop button or a script does: one signal to the process that was
// started, not to its process group. Every process of the stack must be gone within
// seconds, and the archive directory -dev made for itself with it.
func TestDevTaskStopsWhenAsked(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the dev stack through go tool task (-short)")
	}
	for _, c := range []struct {
		name string
		sig  syscall.Signal
		dir  bool // BLASTLOG_ARCHIVE_DIR given: kept
	}{
		{"SIGTERM", syscall.SIGTERM, false},
		{"SIGINT", syscall.SIGINT, false},
		{"SIGTERM keeps BLASTLOG_ARCHIVE_DIR", syscall.SIGTERM, true},
	} {
		// One after another: each builds ./bin/blastlog-stream in the checkout.
		t.Run(c.name, func(t *testing.T) {
			tmp := t.TempDir()
			addr := "127.0.0.1:" + freePort(t)
			keep := filepath.Join(tmp, "kept-archive")
			env := append(os.Environ(), "TMPDIR="+tmp, "BLASTLOG_ADDR="+addr)
			if c.dir {
				env = append(env, "BLASTLOG_ARCHIVE=dir", "BLASTLOG_ARCHIVE_DIR="+keep)
			}
			var out testio.Buffer
			cmd := exec.Command("go", "tool", "task", "dev")
			cmd.Dir, cmd.Env, cmd.Stdout, cmd.Stderr = "../..", env, &out, &out
			cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true} // a group of its own, to check that it is empty
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			pgid := cmd.Process.Pid
			t.Cleanup(func() { syscall.Kill(-pgid, syscall.SIGKILL) })
			exited := make(chan error, 1)
			go func() { exited <- cmd.Wait() }()

			// The first start may build task and the server from nothing.
			deadline := time.Now().Add(3 * time.Minute)
			for !answers("http://" + addr + "/healthz") {
				select {
				case err := <-exited:
					t.Fatalf("go tool task dev ended before serving: %v\n%s", err, out.String())
				default:
				}
				if time.Now().After(deadline) {
					t.Fatalf("no answer on %s after 3 minutes:\n%s", addr, out.String())
				}
				time.Sleep(100 * time.Millisecond)
			}
			made, _ := filepath.Glob(filepath.Join(tmp, "blastlog-archive-*"))
			if c.dir == (len(made) != 0) {
				t.Fatalf("archive directories made: %v (BLASTLOG_ARCHIVE_DIR given: %v)", made, c.dir)
			}

			if err := cmd.Process.Signal(c.sig); err != nil {
				t.Fatal(err)
			}
			stop := time.Now()
			select {
			case <-exited:
			case <-time.After(10 * time.Second):
				t.Fatalf("go tool task dev still running 10 s after %v:\n%s", c.sig, out.String())
			}
			// The server is in the same group: the group is empty once it has stopped.
			for syscall.Kill(-pgid, 0) == nil {
				if time.Since(stop) > 10*time.Second {
					t.Fatalf("a process of the dev stack still runs 10 s after %v:\n%s", c.sig, out.String())
				}
				time.Sleep(50 * time.Millisecond)
			}
			t.Logf("%v: every process gone after %v", c.sig, time.Since(stop).Round(time.Millisecond))
			if answers("http://" + addr + "/healthz") {
				t.Fatal("something still answers on", addr)
			}
			if left, _ := filepath.Glob(filepath.Join(tmp, "blastlog-archive-*")); len(left) != 0 {
				t.Errorf("the -dev archive directory was left behind: %v", left)
			}
			if _, err := os.Stat(keep); c.dir && err != nil {
				t.Errorf("BLASTLOG_ARCHIVE_DIR was removed: %v", err)
			}
		})
	}
}

func answers(url string) bool {
	c := http.Client{Timeout: time.Second}
	resp, err := c.Get(url)
	if err != nil {
		return false
	}
	resp.Body.Close()
	return resp.StatusCode == http.StatusOK
}
