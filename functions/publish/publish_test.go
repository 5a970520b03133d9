package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"go.uber.org/fx"

	"github.com/blastlog/blastlog/adapters/redisstore/redistest"
	"github.com/blastlog/blastlog/core/event"
	"github.com/blastlog/blastlog/functions/internal/envconf"
)

var binary string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "blastlog-publish")
	if err != nil {
		panic(err)
	}
	binary = filepath.Join(dir, "blastlog-publish")
	if out, err := exec.Command("go", "build", "-o", binary, ".").CombinedOutput(); err != nil {
		fmt.Fprintf(os.Stderr, "building blastlog-publish: %v\n%s", err, out)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

type result struct {
	code           int
	stdout, stderr string
	maxRSSKiB      int64
}

func runCLI(t *testing.T, redisURL string, stdin io.Reader, args ...string) result {
	t.Helper()
	return runCLIEnv(t, []string{"BLASTLOG_REDIS_URL=" + redisURL, "BLASTLOG_SPOOL_DIR=" + t.TempDir()}, stdin, args...)
}

// runCLIEnv runs the binary with env added to the test's environment.
func runCLIEnv(t *testing.T, env []string, stdin io.Reader, args ...string) result {
	t.Helper()
	cmd := exec.Command(binary, args...)
	cmd.Env = append(append(os.Environ(), "CELERY_BROKER_URL="), env...)
	var out, errb bytes.Buffer
	cmd.Stdin, cmd.Stdout, cmd.Stderr = stdin, &out, &errb
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	hwm := watchPeakRSS(cmd.Process.Pid)
	err := cmd.Wait()
	r := result{stdout: out.String(), stderr: errb.String(), maxRSSKiB: hwm()}
	if ee, ok := err.(*exec.ExitError); ok {
		r.code = ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	return r
}

// watchPeakRSS samples VmHWM of a running process until it exits and returns a func
// giving the last value seen, in KiB. (wait4's ru_maxrss is no use here: it carries
// the forking test process's own high-water mark across exec.)
func watchPeakRSS(pid int) func() int64 {
	var last atomic.Int64
	stop := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		path := fmt.Sprintf("/proc/%d/status", pid)
		for {
			if b, err := os.ReadFile(path); err == nil {
				for _, l := range strings.Split(string(b), "\n") {
					if v, ok := strings.CutPrefix(l, "VmHWM:"); ok {
						var kib int64
						fmt.Sscan(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), &kib)
						last.Store(kib)
					}
				}
			}
			select {
			case <-stop:
				return
			case <-time.After(2 * time.Millisecond):
			}
		}
	}()
	return func() int64 { close(stop); <-done; return last.Load() }
}

type stored struct {
	ID  string
	Evt event.Event
}

// readStream is the run's stream without the command_ended notice: the lines.
func readStream(t *testing.T, srv *redistest.Server, job string) []event.Event {
	t.Helper()
	var lines []event.Event
	for _, e := range readAll(t, srv, job) {
		if e.Notice != event.NoticeCommandEnded {
			lines = append(lines, e)
		}
	}
	return lines
}

func readAll(t *testing.T, srv *redistest.Server, job string) []event.Event {
	t.Helper()
	msgs, err := srv.Client(t).XRange(context.Background(), "joblogs:"+job, "-", "+").Result()
	if err != nil {
		t.Fatal(err)
	}
	var evs []event.Event
	for _, m := range msgs {
		e, err := event.Decode([]byte(m.Values["event"].(string)))
		if err != nil {
			t.Fatal(err)
		}
		evs = append(evs, e)
	}
	return evs
}

func byStream(evs []event.Event) map[event.Stream][]string {
	out := map[event.Stream][]string{}
	for _, e := range evs {
		out[e.Stream] = append(out[e.Stream], e.Line)
	}
	return out
}

func TestRunPassesThroughAndPublishes(t *testing.T) {
	srv := redistest.Start(t)
	r := runCLI(t, srv.URL(), nil, "run", "--job", "j", "--", "sh", "-c", `echo a; echo b >&2; printf "50%%\r100%%\n"; exit 3`)
	if r.code != 3 {
		t.Fatalf("exit %d, stderr %q", r.code, r.stderr)
	}
	if r.stdout != "a\n50%\r100%\n" || r.stderr != "b\n" {
		t.Fatalf("pass-through changed the bytes: stdout %q stderr %q", r.stdout, r.stderr)
	}
	evs := readAll(t, srv, "j")
	// The command's exit comes last, as a command_ended notice (the run's diagnosis).
	if len(evs) != 5 {
		t.Fatalf("%d events", len(evs))
	}
	end := evs[4]
	if end.Notice != event.NoticeCommandEnded || end.Source != event.SourceSystem || end.Detail == nil ||
		end.Detail.ExitCode == nil || *end.Detail.ExitCode != 3 || end.Line != "sh exited with code 3" {
		t.Fatalf("last event %+v", end)
	}
	evs = evs[:4]
	got := byStream(evs)
	if fmt.Sprint(got[event.Stdout]) != "[a 50% 100%]" || fmt.Sprint(got[event.Stderr]) != "[b]" {
		t.Fatalf("stream holds %v", got)
	}
	for _, e := range evs {
		if e.Source != event.SourceTerminal || e.Phase != event.PhaseSubmitting || e.JobID != "j" || e.TS.IsZero() {
			t.Fatalf("event %+v", e)
		}
	}
}

func TestRunPublishesSanitisedAndOrdered(t *testing.T) {
	srv := redistest.Start(t)
	script := `i=0; while [ $i -lt 3000 ]; do printf '\033[33mline %d password=hunter2\033[0m\n' $i; i=$((i+1)); done`
	r := runCLI(t, srv.URL(), nil, "run", "--job", "order", "--phase", "staging_db", "--", "sh", "-c", script)
	if r.code != 0 || r.stderr != "" {
		t.Fatalf("exit %d stderr %q", r.code, r.stderr)
	}
	if !strings.Contains(r.stdout, "\x1b[33mline 0 password=hunter2") {
		t.Fatal("pass-through was sanitised; it must be byte for byte")
	}
	evs := readStream(t, srv, "order")
	if len(evs) != 3000 {
		t.Fatalf("%d events", len(evs))
	}
	for i, e := range evs {
		if want := fmt.Sprintf("line %d password=***", i); e.Line != want || e.Phase != "staging_db" {
			t.Fatalf("event %d: %q (phase %q)", i, e.Line, e.Phase)
		}
	}
}

func TestRunForwardsSIGTERM(t *testing.T) {
	srv := redistest.Start(t)
	cmd := exec.Command(binary, "run", "--job", "sig", "--", "sh", "-c", `trap 'echo got-term; exit 143' TERM; echo ready; while :; do sleep 0.05; done`)
	cmd.Env = append(os.Environ(), "BLASTLOG_REDIS_URL="+srv.URL(), "BLASTLOG_SPOOL_DIR="+t.TempDir())
	stdout, _ := cmd.StdoutPipe()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	sc := bufio.NewScanner(stdout)
	if !sc.Scan() || sc.Text() != "ready" {
		t.Fatalf("first line %q", sc.Text())
	}
	cmd.Process.Signal(syscall.SIGTERM)
	rest, _ := io.ReadAll(stdout)
	err := cmd.Wait()
	if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != 143 {
		t.Fatalf("exit: %v", err)
	}
	if !strings.Contains(string(rest), "got-term") {
		t.Fatalf("the child did not see SIGTERM: %q", rest)
	}
	if got := byStream(readStream(t, srv, "sig"))[event.Stdout]; fmt.Sprint(got) != "[ready got-term]" {
		t.Fatalf("lines before exit were not flushed: %v", got)
	}
}

func TestRunKilledBySignalExits128PlusSignal(t *testing.T) {
	srv := redistest.Start(t)
	r := runCLI(t, srv.URL(), nil, "run", "--job", "k", "--", "sh", "-c", `echo x; kill -TERM $$`)
	if r.code != 143 {
		t.Fatalf("exit %d", r.code)
	}
}

func TestRunWithRedisDown(t *testing.T) {
	srv := redistest.Start(t)
	url := srv.URL()
	srv.Stop()
	spoolDir := t.TempDir()
	env := []string{"BLASTLOG_REDIS_URL=" + url, "BLASTLOG_SPOOL_DIR=" + spoolDir, "BLASTLOG_FLUSH_TIMEOUT=300ms"}
	r := runCLIEnv(t, env, nil, "run", "--job", "down", "--", "sh", "-c", `for i in 1 2 3 4 5 6 7 8 9; do echo out$i; echo err$i >&2; done; exit 5`)
	if r.code != 5 {
		t.Fatalf("exit %d", r.code)
	}
	if r.stdout != "out1\nout2\nout3\nout4\nout5\nout6\nout7\nout8\nout9\n" {
		t.Fatalf("stdout %q", r.stdout)
	}
	var warnings, passed int
	for _, l := range strings.Split(strings.TrimSpace(r.stderr), "\n") {
		switch {
		case strings.HasPrefix(l, "blastlog-publish: warning:"):
			warnings++
		case strings.HasPrefix(l, "err"):
			passed++
		default:
			t.Errorf("unexpected stderr line %q", l)
		}
	}
	// 18 lines and the command's exit (its command_ended notice).
	if warnings != 1 || passed != 9 || !strings.Contains(r.stderr, "19 lines of run \"down\" are not stored yet") {
		t.Fatalf("%d warnings, %d passed lines: %q", warnings, passed, r.stderr)
	}
	// Another Redis is refused: the spool's lines were for the first one.
	other := redistest.Start(t)
	env[0] = "BLASTLOG_REDIS_URL=" + other.URL()
	if f := runCLIEnv(t, env, nil, "flush", "--wait", "2s"); f.code != 1 || !strings.Contains(f.stderr, "0 of 0 spools") ||
		!strings.Contains(f.stderr, "1 spools hold lines for another Redis (redis "+srv.Addr+"/0 joblogs:)") ||
		strings.Contains(f.stderr, "@") || len(readStream(t, other, "down")) != 0 {
		t.Fatalf("flush into another Redis: %d %q", f.code, f.stderr)
	}
	// Its Redis is back: flush stores the 18 lines and the exit, once, in per-stream order.
	srv.Restart(t)
	back := srv
	env[0] = "BLASTLOG_REDIS_URL=" + url
	if f := runCLIEnv(t, env, nil, "flush", "--wait", "10s"); f.code != 0 || !strings.Contains(f.stderr, "1 of 1 spools emptied, 19 lines stored") {
		t.Fatalf("flush: %d %q", f.code, f.stderr)
	}
	got := byStream(readStream(t, back, "down"))
	if strings.Join(got[event.Stdout], " ") != "out1 out2 out3 out4 out5 out6 out7 out8 out9" || len(got[event.Stderr]) != 9 {
		t.Fatalf("stored %v", got)
	}
	if all := readAll(t, back, "down"); all[len(all)-1].Notice != event.NoticeCommandEnded || *all[len(all)-1].Detail.ExitCode != 5 {
		t.Fatalf("the exit was not stored last: %+v", all[len(all)-1])
	}
	if f := runCLIEnv(t, env, nil, "flush"); f.code != 0 || !strings.Contains(f.stderr, "0 of 0 spools") {
		t.Fatalf("second flush: %d %q", f.code, f.stderr)
	}
}

func TestRunCannotStart(t *testing.T) {
	srv := redistest.Start(t)
	r := runCLI(t, srv.URL(), nil, "run", "--job", "x", "--", "/nonexistent/elastic-blast", "submit")
	if r.code != 127 || !strings.Contains(r.stderr, "cannot start") || strings.Count(r.stderr, "\n") != 1 {
		t.Fatalf("exit %d stderr %q", r.code, r.stderr)
	}
}

func TestBadInput(t *testing.T) {
	srv := redistest.Start(t)
	cases := []struct {
		name  string
		url   string
		args  []string
		names string
	}{
		{"no subcommand", srv.URL(), nil, "no subcommand"},
		{"unknown subcommand", srv.URL(), []string{"frobnicate"}, `unknown subcommand "frobnicate"`},
		{"unknown job subcommand", srv.URL(), []string{"job", "delete"}, `"delete"`},
		{"empty job", srv.URL(), []string{"run", "--job", "", "--", "true"}, "--job is required"},
		{"long job", srv.URL(), []string{"run", "--job", strings.Repeat("j", 129), "--", "true"}, "longer than 128"},
		{"control job", srv.URL(), []string{"lines", "--job", "a\x1bb", "--phase", "p"}, "control characters"},
		{"no command", srv.URL(), []string{"run", "--job", "j"}, "no command"},
		{"unknown flag", srv.URL(), []string{"run", "--jobb", "j", "--", "true"}, "jobb"},
		{"bad stream", srv.URL(), []string{"lines", "--job", "j", "--phase", "p", "--stream", "stdin"}, `"stdin"`},
		{"lines without phase", srv.URL(), []string{"lines", "--job", "j"}, "--phase is required"},
		{"bad status", srv.URL(), []string{"job", "status", "--job", "j", "--status", "done"}, `"done"`},
		{"register without owner", srv.URL(), []string{"job", "register", "--job", "j"}, "--owner is required"},
		{"bad url", "amqp://guest:hunter2@rabbit//", []string{"run", "--job", "j", "--", "true"}, "BLASTLOG_REDIS_URL"},
		{"unparsable url", "redis://u:hunter2@[::1", []string{"lines", "--job", "j", "--phase", "p"}, "BLASTLOG_REDIS_URL"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := runCLI(t, c.url, strings.NewReader(""), c.args...)
			if r.code != 2 {
				t.Fatalf("exit %d, stderr %q", r.code, r.stderr)
			}
			if strings.Count(r.stderr, "\n") != 1 || !strings.Contains(r.stderr, c.names) || strings.Contains(r.stderr, "hunter2") {
				t.Fatalf("stderr %q should be one line naming %q", r.stderr, c.names)
			}
		})
	}
}

func TestUnknownPhaseKeptAndCapped(t *testing.T) {
	srv := redistest.Start(t)
	long := strings.Repeat("φ", 100)
	if r := runCLI(t, srv.URL(), strings.NewReader("x\n"), "lines", "--job", "ph", "--phase", long); r.code != 0 {
		t.Fatalf("exit %d %q", r.code, r.stderr)
	}
	if r := runCLI(t, srv.URL(), strings.NewReader("y\n"), "lines", "--job", "ph", "--phase", "db_warmup", "--stream", "stderr"); r.code != 0 {
		t.Fatalf("exit %d %q", r.code, r.stderr)
	}
	evs := readStream(t, srv, "ph")
	if evs[0].Phase != strings.Repeat("φ", 80) || evs[1].Phase != "db_warmup" || evs[1].Stream != event.Stderr {
		t.Fatalf("%+v", evs)
	}
}

// A 100 MB input made of 1 MB lines of binary garbage: every line is stored, sanitised
// and truncated, and the publisher's memory stays far below the input size.
func TestLinesGarbageAndHugeLinesBounded(t *testing.T) {
	srv := redistest.Start(t)
	garbage := bytes.Repeat([]byte("\x00\xff\x1b[31m\xc3(\x07 ACGT "), (1<<20)/16)
	pr, pw := io.Pipe()
	go func() {
		for i := 0; i < 100; i++ {
			pw.Write(garbage)
			pw.Write([]byte("\n"))
		}
		pw.Close()
	}()
	r := runCLI(t, srv.URL(), pr, "lines", "--job", "huge", "--phase", "submitting")
	if r.code != 0 {
		t.Fatalf("exit %d %q", r.code, r.stderr)
	}
	evs := readStream(t, srv, "huge")
	if len(evs) != 100 {
		t.Fatalf("%d events", len(evs))
	}
	for _, e := range evs {
		if n := len([]rune(e.Line)); n != event.MaxLineChars || !strings.HasSuffix(e.Line, "…") || strings.ContainsAny(e.Line, "\x00\x1b\x07") {
			t.Fatalf("line of %d characters: %q", n, e.Line[:40])
		}
	}
	if r.maxRSSKiB == 0 || r.maxRSSKiB > 64<<10 {
		t.Fatalf("peak RSS %d KiB for a 100 MB input", r.maxRSSKiB)
	}
	t.Logf("peak RSS %d KiB for 100 MB of input", r.maxRSSKiB)
}

func TestJobRegisterAndStatus(t *testing.T) {
	srv := redistest.Start(t)
	rdb := srv.Client(t)
	ctx := context.Background()
	r := runCLI(t, srv.URL(), nil, "job", "register", "--job", "run-9", "--owner", "oid-1", "--elb-job-id", "job-42",
		"--subscription", "sub", "--resource-group", "rg", "--cluster", "c1")
	if r.code != 0 {
		t.Fatalf("register: %d %q", r.code, r.stderr)
	}
	h := rdb.HGetAll(ctx, "blastlog:job:run-9").Val()
	want := map[string]string{"owner_oid": "oid-1", "elb_job_id": "job-42", "status": "queued", "subscription_id": "sub",
		"resource_group": "rg", "cluster_name": "c1", "namespace": "default"}
	for k, v := range want {
		if h[k] != v {
			t.Errorf("%s = %q want %q", k, h[k], v)
		}
	}
	if h["created_at"] == "" || h["updated_at"] == "" {
		t.Errorf("times missing: %v", h)
	}
	runCLI(t, srv.URL(), strings.NewReader("l\n"), "lines", "--job", "run-9", "--phase", "running")
	if r := runCLI(t, srv.URL(), nil, "job", "status", "--job", "run-9", "--status", "completed"); r.code != 0 {
		t.Fatalf("status: %d %q", r.code, r.stderr)
	}
	if rdb.HGet(ctx, "blastlog:job:run-9", "status").Val() != "completed" {
		t.Fatal("status not stored")
	}
	if rdb.ZScore(ctx, "blastlog:active", "run-9").Val() == 0 {
		t.Fatal("the run was not marked active for collection")
	}
	if ttl := rdb.TTL(ctx, "joblogs:run-9").Val(); ttl < 167*time.Hour {
		t.Fatalf("retention TTL %v", ttl)
	}
	r = runCLI(t, srv.URL(), nil, "job", "status", "--job", "never", "--status", "running")
	if r.code != 1 || !strings.Contains(r.stderr, "not registered") {
		t.Fatalf("unregistered: %d %q", r.code, r.stderr)
	}
}

func TestCeleryBrokerURLFallback(t *testing.T) {
	srv := redistest.Start(t)
	cmd := exec.Command(binary, "lines", "--job", "cel", "--phase", "p")
	cmd.Env = append(os.Environ(), "BLASTLOG_REDIS_URL=", "CELERY_BROKER_URL="+srv.URL()+"?ssl_cert_reqs=none", "BLASTLOG_SPOOL_DIR="+t.TempDir())
	cmd.Stdin = strings.NewReader("hello\n")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("%v %s", err, out)
	}
	if evs := readStream(t, srv, "cel"); len(evs) != 1 || evs[0].Line != "hello" {
		t.Fatalf("%+v", evs)
	}
	raw, _ := json.Marshal(evsOrNil(readStream(t, srv, "cel")))
	if strings.Contains(string(raw), `"id"`) {
		t.Fatal("an id was stored inside the entry")
	}
}

func evsOrNil(e []event.Event) any { return e }

func TestFxGraph(t *testing.T) {
	cfg, err := envconf.LoadRedis(func(k string) string {
		return map[string]string{"BLASTLOG_REDIS_URL": "redis://127.0.0.1:1/0"}[k]
	}, true)
	if err != nil {
		t.Fatal(err)
	}
	if err := fx.ValidateApp(options(cfg)); err != nil {
		t.Fatal(err)
	}
}

// A second register of a run keeps its owner: another owner is refused (exit 2, one
// line) unless --owner-change says so; the same owner may register again.
func TestJobRegisterKeepsTheOwner(t *testing.T) {
	srv := redistest.Start(t)
	rdb := srv.Client(t)
	reg := func(owner string, extra ...string) result {
		return runCLI(t, srv.URL(), nil, append([]string{"job", "register", "--job", "run-o", "--owner", owner}, extra...)...)
	}
	if r := reg("oid-1"); r.code != 0 {
		t.Fatalf("first: %d %q", r.code, r.stderr)
	}
	if r := reg("oid-1", "--cluster", "c2"); r.code != 0 {
		t.Fatalf("again by its owner: %d %q", r.code, r.stderr)
	}
	r := reg("oid-2")
	if r.code != 2 || !strings.Contains(r.stderr, "--owner-change") || strings.Count(r.stderr, "\n") != 1 {
		t.Fatalf("another owner: %d %q", r.code, r.stderr)
	}
	if got := rdb.HGet(context.Background(), "blastlog:job:run-o", "owner_oid").Val(); got != "oid-1" {
		t.Fatalf("owner changed to %q", got)
	}
	if r := reg("oid-2", "--owner-change"); r.code != 0 {
		t.Fatalf("--owner-change: %d %q", r.code, r.stderr)
	}
	if got := rdb.HGet(context.Background(), "blastlog:job:run-o", "owner_oid").Val(); got != "oid-2" {
		t.Fatalf("owner %q after --owner-change", got)
	}
}
