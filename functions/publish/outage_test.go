package main

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/blastlog/blastlog/adapters/redisstore/redistest"
	"github.com/blastlog/blastlog/core/event"
)

// The generator is this test binary run as the wrapped command: it writes
// outageLines lines at outageRate a second, stdout and stderr in turn, and ends with
// how long it took, so a stalled pass-through shows in its own run time.
const (
	outageLines = 3000
	outageRate  = 250
	genEnv      = "BLASTLOG_TEST_GENERATOR"
)

func init() {
	if os.Getenv(genEnv) == "" {
		return
	}
	start := time.Now()
	tick := time.NewTicker(time.Second / outageRate)
	for i := 1; i <= outageLines; i++ {
		<-tick.C
		w := os.Stdout
		if i%2 == 0 {
			w = os.Stderr
		}
		fmt.Fprintf(w, "line %d of the run\n", i)
	}
	os.WriteFile(os.Getenv(genEnv), []byte(strconv.FormatInt(time.Since(start).Milliseconds(), 10)), 0o600)
	os.Exit(0)
}

func generatorOutput() (stdout, stderr string) {
	var out, errb strings.Builder
	for i := 1; i <= outageLines; i++ {
		if i%2 == 0 {
			fmt.Fprintf(&errb, "line %d of the run\n", i)
		} else {
			fmt.Fprintf(&out, "line %d of the run\n", i)
		}
	}
	return out.String(), errb.String()
}

// runGenerator runs the generator under `blastlog-publish run` while outage does its
// worst to srv, and returns the result with the generator's own run time.
func runGenerator(t *testing.T, srv *redistest.Server, env []string, outage func()) (result, time.Duration) {
	t.Helper()
	cmd := exec.Command(binary, "run", "--job", "outage", "--", os.Args[0], "-test.run=^$")
	took := t.TempDir() + "/took"
	cmd.Env = append(append(os.Environ(), "CELERY_BROKER_URL=", genEnv+"="+took, "BLASTLOG_REDIS_URL="+srv.URL()), env...)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go outage()
	err := cmd.Wait()
	r := result{stdout: out.String(), stderr: errb.String()}
	if ee, ok := err.(*exec.ExitError); ok {
		r.code = ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	b, _ := os.ReadFile(took)
	ms, perr := strconv.Atoi(string(b))
	if perr != nil {
		t.Fatalf("no run time from the generator (%v): %s", perr, r.stderr)
	}
	return r, time.Duration(ms) * time.Millisecond
}

// checkAllOnce fails unless the run's stream holds every generator line exactly once,
// in order within each stream, and the pass-through carried the command's exact bytes.
func checkAllOnce(t *testing.T, srv *redistest.Server, r result) {
	t.Helper()
	wantOut, wantErr := generatorOutput()
	if r.stdout != wantOut {
		t.Errorf("stdout passed through differs (%d bytes, want %d)", len(r.stdout), len(wantOut))
	}
	var passedErr strings.Builder
	for _, l := range strings.SplitAfter(r.stderr, "\n") {
		if !strings.HasPrefix(l, "blastlog-publish:") {
			passedErr.WriteString(l)
		}
	}
	if passedErr.String() != wantErr {
		t.Errorf("stderr passed through differs (%d bytes, want %d)", passedErr.Len(), len(wantErr))
	}
	got := byStream(readStream(t, srv, "outage"))
	if o, e := strings.Join(got[event.Stdout], "\n")+"\n", strings.Join(got[event.Stderr], "\n")+"\n"; o != wantOut || e != wantErr {
		t.Fatalf("stored %d stdout and %d stderr lines, want %d each, once and in order",
			len(got[event.Stdout]), len(got[event.Stderr]), outageLines/2)
	}
}

// healthyRunTime is the generator's run time with Redis healthy, measured once.
func healthyRunTime(t *testing.T) time.Duration {
	srv := redistest.Start(t)
	_, d := runGenerator(t, srv, []string{"BLASTLOG_SPOOL_DIR=" + t.TempDir()}, func() {})
	return d
}

func TestOutages(t *testing.T) {
	probe := redistest.Start(t)
	probe.RequireReal(t)
	base := healthyRunTime(t)
	t.Logf("healthy run: the command took %v", base)
	for _, c := range []struct {
		name    string
		outage  func(t *testing.T, srv *redistest.Server)
		flushed bool // the publisher exits before Redis is back: flush stores the rest
	}{
		{"StoppedFor6s", func(t *testing.T, srv *redistest.Server) {
			srv.Shutdown(t)
			time.Sleep(6 * time.Second)
			srv.Restart(t)
		}, false},
		{"HungFor6s", func(t *testing.T, srv *redistest.Server) {
			srv.Pause(t)
			time.Sleep(6 * time.Second)
			srv.Resume(t)
		}, false},
		{"StoppedFor60s", func(t *testing.T, srv *redistest.Server) {
			srv.Shutdown(t)
			time.Sleep(60 * time.Second)
			srv.Restart(t)
		}, true},
	} {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			srv := redistest.Start(t)
			spoolDir := t.TempDir()
			env := []string{"BLASTLOG_SPOOL_DIR=" + spoolDir, "BLASTLOG_FLUSH_TIMEOUT=5s"}
			back := make(chan struct{})
			start := time.Now()
			r, took := runGenerator(t, srv, env, func() {
				defer close(back)
				time.Sleep(3 * time.Second)
				c.outage(t, srv)
			})
			exited := time.Since(start)
			t.Logf("command took %v (healthy %v); publisher exited after %v", took, base, exited)
			if r.code != 0 {
				t.Fatalf("exit %d: %s", r.code, r.stderr)
			}
			if took > base+base/10 {
				t.Errorf("the command took %v, more than 10%% over the healthy %v: the pass-through held it up", took, base)
			}
			if c.flushed {
				if exited > base+5*time.Second+3*time.Second {
					t.Errorf("the publisher exited after %v: BLASTLOG_FLUSH_TIMEOUT is 5s", exited)
				}
				if !strings.Contains(r.stderr, "are not stored yet") {
					t.Errorf("leftovers not said: %q", r.stderr)
				}
				<-back
				f := runCLIEnv(t, append(env, "BLASTLOG_REDIS_URL="+srv.URL()), nil, "flush", "--wait", "30s")
				if f.code != 0 {
					t.Fatalf("flush: %d %s", f.code, f.stderr)
				}
			}
			<-back
			checkAllOnce(t, srv, r)
		})
	}
}
