package main

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/blastlog/blastlog/adapters/redisstore"
	"github.com/blastlog/blastlog/adapters/redisstore/redistest"
	"github.com/blastlog/blastlog/core/event"
	"github.com/blastlog/blastlog/core/job"
	"github.com/blastlog/blastlog/internal/testio"
	"github.com/blastlog/blastlog/ports/portstest"
)

// The binaries under test, built once: the terminal client, the streaming container
// and the ticket function.
var bin = map[string]string{}

func TestMain(m *testing.M) {
	dir, _ := os.MkdirTemp("", "blastlog-cli-test")
	for name, pkg := range map[string]string{"blastlog": ".", "blastlog-stream": "../stream", "blastlog-ticket": "../ticket"} {
		bin[name] = filepath.Join(dir, name)
		if out, err := exec.Command("go", "build", "-o", bin[name], pkg).CombinedOutput(); err != nil {
			fmt.Fprintf(os.Stderr, "building %s: %v\n%s", name, err, out)
			os.Exit(1)
		}
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

const (
	alice = "00000000-0000-0000-0000-00000000a11c"
	bob   = "00000000-0000-0000-0000-0000000000b0"
)

// deployment is a real blastlog on a private redis-server: streaming containers and
// the ticket function as processes, in dev-bypass unless env says otherwise.
type deployment struct {
	t       *testing.T
	rdb     *redis.Client
	redis   string
	env     []string
	ticket  string // the ticket function's base URL
	streams []*process
	jobs    *redisstore.JobDirectory
	log     *redisstore.EventLog
}

type process struct {
	cmd  *exec.Cmd
	base string
}

func newDeployment(t *testing.T, replicas int, env ...string) *deployment {
	t.Helper()
	srv := redistest.Start(t)
	d := &deployment{t: t, rdb: srv.Client(t), redis: srv.URL(), env: env}
	d.jobs = redisstore.NewJobDirectory(d.rdb, redisstore.Config{})
	d.log = redisstore.NewEventLog(d.rdb, redisstore.Config{})
	d.ticket = d.start(bin["blastlog-ticket"]).base
	for i := 0; i < replicas; i++ {
		d.streams = append(d.streams, d.start(bin["blastlog-stream"]))
	}
	return d
}

func (d *deployment) start(path string) *process {
	d.t.Helper()
	port := freePort(d.t)
	cmd := exec.Command(path)
	cmd.Env = append(os.Environ(), "BLASTLOG_REDIS_URL="+d.redis, "BLASTLOG_ADDR=127.0.0.1:"+port)
	if len(d.env) == 0 {
		cmd.Env = append(cmd.Env, "BLASTLOG_AUTH_MODE=dev-bypass")
	}
	cmd.Env = append(cmd.Env, d.env...)
	var logs bytes.Buffer
	cmd.Stdout, cmd.Stderr = &logs, &logs
	if err := cmd.Start(); err != nil {
		d.t.Fatal(err)
	}
	d.t.Cleanup(func() {
		cmd.Process.Kill()
		cmd.Wait()
		if d.t.Failed() {
			d.t.Logf("%s:\n%s", filepath.Base(path), logs.String())
		}
	})
	p := &process{cmd: cmd, base: "http://127.0.0.1:" + port}
	for i := 0; ; i++ {
		if res, err := http.Get(p.base + "/healthz"); err == nil {
			res.Body.Close()
			return p
		}
		if i > 200 {
			d.t.Fatalf("%s did not start:\n%s", path, logs.String())
		}
		time.Sleep(25 * time.Millisecond)
	}
}

func freePort(t testing.TB) string {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return strconv.Itoa(l.Addr().(*net.TCPAddr).Port)
}

// register makes run owner's, running.
func (d *deployment) register(run, owner string) {
	d.t.Helper()
	if err := d.jobs.Register(context.Background(), job.Record{JobID: run, OwnerOID: owner, Status: job.Running}); err != nil {
		d.t.Fatal(err)
	}
}

func (d *deployment) setStatus(run string, s job.Status) {
	d.t.Helper()
	if err := d.jobs.SetStatus(context.Background(), run, s); err != nil {
		d.t.Fatal(err)
	}
}

// publish appends events made from lines (a line "pod|container|phase|text" is a
// pod's, else the submit process's) and returns their ids.
func (d *deployment) publish(run string, lines ...string) []string {
	d.t.Helper()
	var evs []event.Event
	for _, l := range lines {
		e := event.Event{SchemaVersion: 1, JobID: run, Source: event.SourceTerminal, Stream: event.Stdout, Phase: event.PhaseSubmitting,
			Line: l, TS: time.Now().UTC().Truncate(time.Millisecond)}
		if parts := strings.SplitN(l, "|", 4); len(parts) == 4 {
			e.Source, e.Pod, e.Container, e.Phase, e.Line = event.SourceK8s, parts[0], parts[1], parts[2], parts[3]
		}
		if strings.Contains(e.Line, "stderr") {
			e.Stream = event.Stderr
		}
		evs = append(evs, e)
	}
	ids, err := d.log.Append(context.Background(), run, evs)
	if err != nil {
		d.t.Fatal(err)
	}
	return portstest.Texts(ids)
}

// cli is one run of the blastlog binary.
type cli struct {
	cmd            *exec.Cmd
	stdout, stderr *output
}

// blastlog starts the client against base (the first streaming container when "")
// as alice, with env added.
func (d *deployment) blastlog(base string, env []string, args ...string) *cli {
	d.t.Helper()
	if base == "" {
		base = d.streams[0].base
	}
	c := &cli{cmd: exec.Command(bin["blastlog"], args...), stdout: &output{}, stderr: &output{}}
	c.cmd.Env = append(os.Environ(), "BLASTLOG_URL="+base, "BLASTLOG_TICKET_URL="+d.ticket, "NO_COLOR=", "HOME="+d.t.TempDir())
	if len(d.env) == 0 {
		c.cmd.Env = append(c.cmd.Env, "BLASTLOG_DEV_USER="+alice)
	}
	c.cmd.Env = append(c.cmd.Env, env...)
	c.cmd.Stdout, c.cmd.Stderr = c.stdout, c.stderr
	if err := c.cmd.Start(); err != nil {
		d.t.Fatal(err)
	}
	d.t.Cleanup(func() { c.cmd.Process.Kill(); c.cmd.Wait() })
	return c
}

// wait is the exit code, failing the test after timeout.
func (c *cli) wait(t *testing.T, timeout time.Duration) int {
	t.Helper()
	done := make(chan error, 1)
	go func() { done <- c.cmd.Wait() }()
	select {
	case err := <-done:
		if ee, ok := err.(*exec.ExitError); ok {
			return ee.ExitCode()
		}
		if err != nil {
			t.Fatal(err)
		}
		return 0
	case <-time.After(timeout):
		c.cmd.Process.Signal(syscall.SIGQUIT)
		<-done
		t.Fatalf("blastlog %v did not end in %v\nstdout: %s\nstderr: %s", c.cmd.Args[1:], timeout, c.stdout.tail(), c.stderr.String())
		return -1
	}
}

// run runs the client to its end: exit code, stdout, stderr.
func (d *deployment) run(env []string, args ...string) (int, string, string) {
	d.t.Helper()
	c := d.blastlog("", env, args...)
	code := c.wait(d.t, 60*time.Second)
	return code, c.stdout.String(), c.stderr.String()
}

// output is a command's stdout or stderr as the tests read it.
type output struct{ testio.Buffer }

func (s *output) lines() []string {
	out := strings.TrimSuffix(s.String(), "\n")
	if out == "" {
		return nil
	}
	return strings.Split(out, "\n")
}
func (s *output) tail() string {
	str := s.String()
	return str[max(0, len(str)-2000):]
}

// balancer spreads requests over replicas, round robin, skipping one that does not
// answer: what a Service in front of the streaming containers does.
type balancer struct {
	URL  string
	next atomic.Int64
}

func newBalancer(t *testing.T, backends ...*process) *balancer {
	b := &balancer{}
	rp := &httputil.ReverseProxy{
		Rewrite: func(r *httputil.ProxyRequest) {
			u, _ := url.Parse(backends[int(b.next.Add(1))%len(backends)].base)
			r.SetURL(u)
		},
		FlushInterval: -1,
		ErrorHandler: func(w http.ResponseWriter, _ *http.Request, _ error) {
			w.WriteHeader(http.StatusBadGateway)
		},
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: rp}
	go srv.Serve(l)
	t.Cleanup(func() { srv.Close() })
	b.URL = "http://" + l.Addr().String()
	return b
}
