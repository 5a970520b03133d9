package main

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/blastlog/blastlog/adapters/redisstore/redistest"
	"github.com/blastlog/blastlog/core/event"
)

// alive reports whether pid exists and is not a zombie.
func alive(pid int) bool {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return false
	}
	_, rest, _ := strings.Cut(string(b), ") ")
	return !strings.HasPrefix(rest, "Z")
}

func waitGone(t *testing.T, pid int, what string) {
	t.Helper()
	for i := 0; i < 500 && alive(pid); i++ {
		time.Sleep(10 * time.Millisecond)
	}
	if alive(pid) {
		syscall.Kill(pid, syscall.SIGKILL)
		t.Fatalf("%s (pid %d) is still running", what, pid)
	}
}

// startRun starts `blastlog-publish run` around a shell script whose first stdout line
// is a pid it reports, and returns the command and that pid.
func startRun(t *testing.T, srv *redistest.Server, job, script string) (*exec.Cmd, io.Reader, int) {
	t.Helper()
	cmd := exec.Command(binary, "run", "--job", job, "--", "sh", "-c", script)
	cmd.Env = append(os.Environ(), "BLASTLOG_REDIS_URL="+srv.URL(), "BLASTLOG_SPOOL_DIR="+t.TempDir(), "BLASTLOG_FLUSH_TIMEOUT=1s")
	stdout, _ := cmd.StdoutPipe()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	r := bufio.NewReader(stdout)
	first, err := r.ReadString('\n')
	pid, perr := strconv.Atoi(strings.TrimSpace(first))
	if err != nil || perr != nil {
		cmd.Process.Kill()
		t.Fatalf("first line %q: %v %v", first, err, perr)
	}
	return cmd, r, pid
}

func TestSignalsReachTheCommandsProcessGroup(t *testing.T) {
	srv := redistest.Start(t)
	// The shell's background child is in the command's group: SIGTERM reaches it too.
	cmd, rest, pid := startRun(t, srv, "group", `sleep 1000 & echo $!; wait`)
	cmd.Process.Signal(syscall.SIGTERM)
	io.Copy(io.Discard, rest)
	cmd.Wait()
	waitGone(t, pid, "the command's background child")
}

func TestKilledPublisherTakesTheCommandDown(t *testing.T) {
	srv := redistest.Start(t)
	cmd, _, pid := startRun(t, srv, "orphan", `echo $$; exec sleep 1000`)
	cmd.Process.Signal(syscall.SIGKILL)
	cmd.Wait()
	waitGone(t, pid, "the command of a killed publisher")
}

func TestClosedStdoutDoesNotStopPublishing(t *testing.T) {
	srv := redistest.Start(t)
	cmd := exec.Command(binary, "run", "--job", "pipe", "--", "sh", "-c", `i=0; while [ $i -lt 2000 ]; do i=$((i+1)); echo line$i; done; echo done >&2`)
	cmd.Env = append(os.Environ(), "BLASTLOG_REDIS_URL="+srv.URL(), "BLASTLOG_SPOOL_DIR="+t.TempDir())
	stdout, _ := cmd.StdoutPipe()
	var stderr strings.Builder
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	first, _ := bufio.NewReader(stdout).ReadString('\n')
	stdout.(io.Closer).Close() // the reader goes away: writes to stdout now raise SIGPIPE
	err := cmd.Wait()
	if first != "line1\n" || err != nil {
		t.Fatalf("first %q, exit %v, stderr %q", first, err, stderr.String())
	}
	got := byStream(readStream(t, srv, "pipe"))
	if len(got[event.Stdout]) != 2000 || got[event.Stdout][1999] != "line2000" || fmt.Sprint(got[event.Stderr]) != "[done]" {
		t.Fatalf("stored %d stdout lines, stderr %v", len(got[event.Stdout]), got[event.Stderr])
	}
}

func TestFullSpoolIsCountedAndSaid(t *testing.T) {
	srv := redistest.Start(t)
	url := srv.URL()
	srv.Stop()
	var in strings.Builder
	for i := 1; i <= 5000; i++ {
		fmt.Fprintf(&in, "line %d %s\n", i, strings.Repeat("x", 100))
	}
	spoolDir := t.TempDir()
	env := []string{"BLASTLOG_REDIS_URL=" + url, "BLASTLOG_SPOOL_DIR=" + spoolDir, "BLASTLOG_SPOOL_MAX=64KiB", "BLASTLOG_FLUSH_TIMEOUT=200ms"}
	r := runCLIEnv(t, env, strings.NewReader(in.String()), "lines", "--job", "full", "--phase", "p")
	if r.code != 1 || strings.Count(r.stderr, "are being dropped") != 1 ||
		!strings.Contains(r.stderr, "were dropped") {
		t.Fatalf("exit %d, stderr %q", r.code, r.stderr)
	}
	var dropped int
	for _, l := range strings.Split(r.stderr, "\n") {
		if i := strings.Index(l, "warning: "); i >= 0 && strings.HasSuffix(l, "was full") {
			fmt.Sscanf(l[i+len("warning: "):], "%d", &dropped)
		}
	}
	srv.Restart(t) // the same Redis, back
	back := srv
	if f := runCLIEnv(t, env, nil, "flush", "--wait", "30s"); f.code != 0 {
		t.Fatalf("flush: %d %q", f.code, f.stderr)
	}
	stored := len(readStream(t, back, "full"))
	t.Logf("%d stored after the flush; stderr: %s", stored, r.stderr)
	if stored < 100 || dropped < 1000 || stored-1+dropped != 5000 {
		t.Fatalf("%d of 5000 lines stored (with the notice), %d said dropped, under a 64 KiB spool", stored, dropped)
	}
}
