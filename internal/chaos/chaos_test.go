//go:build chaos

package chaos

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

var bins = map[string]string{} // stream, publish, ticket -> path

func TestMain(m *testing.M) {
	if spec := os.Getenv("CHAOS_GENERATOR"); spec != "" {
		generate(spec)
		return
	}
	dir, err := os.MkdirTemp("", "blastlog-chaos-")
	if err != nil {
		panic(err)
	}
	for _, name := range []string{"stream", "publish", "ticket"} {
		bins[name] = filepath.Join(dir, "blastlog-"+name)
		if out, err := exec.Command("go", "build", "-o", bins[name], "../../functions/"+name).CombinedOutput(); err != nil {
			fmt.Fprintf(os.Stderr, "building blastlog-%s: %v\n%s", name, err, out)
			os.Exit(1)
		}
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// generate prints N numbered lines at R lines/s ("N:R"): the command a publisher wraps.
func generate(spec string) {
	var n, rate int
	fmt.Sscanf(spec, "%d:%d", &n, &rate)
	w := bufio.NewWriter(os.Stdout)
	start := time.Now()
	for i := 0; i < n; i++ {
		fmt.Fprintf(w, "line %05d\n", i)
		if (i+1)%10 == 0 {
			w.Flush()
			time.Sleep(time.Until(start.Add(time.Duration(i+1) * time.Second / time.Duration(rate))))
		}
	}
	w.Flush()
}

const owner = "0000000d-0000-4000-8000-0000000000d0"

// replica is one blastlog-stream process.
type replica struct {
	cmd  *exec.Cmd
	base string
	log  *bytes.Buffer
}

var listening = regexp.MustCompile(`"msg":"listening","addr":"([^"]+)"`)

func startReplica(t *testing.T, env ...string) *replica {
	t.Helper()
	return startHTTP(t, "stream", append([]string{"BLASTLOG_STREAM_TICKETS=on"}, env...)...)
}

// startHTTP starts one of the HTTP binaries (stream, ticket) with dev-bypass auth on a
// free port.
func startHTTP(t *testing.T, name string, env ...string) *replica {
	t.Helper()
	cmd := exec.Command(bins[name])
	cmd.Env = append(os.Environ(), append([]string{"BLASTLOG_AUTH_MODE=dev-bypass", "BLASTLOG_ADDR=127.0.0.1:0"}, env...)...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	out, _ := cmd.StderrPipe()
	cmd.Stdout = cmd.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	r := &replica{cmd: cmd, log: &bytes.Buffer{}}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	addr := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			if m := listening.FindStringSubmatch(sc.Text()); m != nil {
				addr <- m[1]
			}
			if r.log.Len() < 1<<20 {
				r.log.WriteString(sc.Text() + "\n")
			}
		}
	}()
	select {
	case a := <-addr:
		r.base = "http://" + a
	case <-time.After(20 * time.Second):
		t.Fatalf("blastlog-%s did not listen: %s", name, r.log)
	}
	return r
}

func (r *replica) kill() {
	r.cmd.Process.Signal(syscall.SIGKILL)
	r.cmd.Wait()
}

// publish runs blastlog-publish with args.
func publish(t *testing.T, redisURL string, env []string, args ...string) {
	t.Helper()
	cmd := exec.Command(bins["publish"], args...)
	cmd.Env = append(append(os.Environ(), "BLASTLOG_REDIS_URL="+redisURL, "BLASTLOG_SPOOL_DIR="+t.TempDir()), env...)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("blastlog-publish %v: %v\n%s", args, err, out)
	}
}

// viewer reads a run over SSE like the page does: a ticket from a replica, the
// stream, and on any end before completed a new ticket from the next replica and a
// resume from the last id.
type viewer struct {
	mu         sync.Mutex
	tickets    string // the ticket function's base URL; "" asks the replica
	replicas   []*replica
	ids        []string
	lines      []string // pod/line of each log event, in order
	reconnects int
	done       chan struct{}
}

func watch(t *testing.T, job string, replicas ...*replica) *viewer {
	v := &viewer{replicas: replicas, done: make(chan struct{})}
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	go v.run(ctx, job)
	return v
}

func (v *viewer) setReplicas(rs ...*replica) {
	v.mu.Lock()
	v.replicas = rs
	v.mu.Unlock()
}

func (v *viewer) run(ctx context.Context, job string) {
	defer close(v.done)
	last := ""
	for i := 0; ctx.Err() == nil; i++ {
		v.mu.Lock()
		r := v.replicas[i%len(v.replicas)]
		v.mu.Unlock()
		v.mu.Lock()
		issuer := v.tickets
		v.mu.Unlock()
		if issuer == "" {
			issuer = r.base
		}
		completed, newLast := v.once(ctx, issuer, r.base, job, last)
		last = newLast
		if completed {
			return
		}
		v.mu.Lock()
		v.reconnects++
		v.mu.Unlock()
		time.Sleep(200 * time.Millisecond)
	}
}

func (v *viewer) once(ctx context.Context, issuer, base, job, last string) (completed bool, _ string) {
	req, _ := http.NewRequestWithContext(ctx, http.MethodPost, issuer+"/api/blast/logs/"+job+"/ticket", nil)
	req.Header.Set("X-Dev-User", owner)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		return false, last
	}
	var tk struct{ Ticket string }
	json.NewDecoder(res.Body).Decode(&tk)
	res.Body.Close()
	if tk.Ticket == "" {
		return false, last
	}
	req, _ = http.NewRequestWithContext(ctx, http.MethodGet, base+"/api/blast/logs/"+job+"/events?ticket="+tk.Ticket, nil)
	if last != "" {
		req.Header.Set("Last-Event-ID", last)
	}
	res, err = http.DefaultClient.Do(req)
	if err != nil {
		return false, last
	}
	defer res.Body.Close()
	if res.StatusCode != 200 {
		return false, last
	}
	sc := bufio.NewScanner(res.Body)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	var id, kind string
	for sc.Scan() {
		l := sc.Text()
		switch {
		case strings.HasPrefix(l, "id: "):
			id = l[4:]
		case strings.HasPrefix(l, "event: "):
			kind = l[7:]
		case strings.HasPrefix(l, "data: ") && kind == "completed":
			return true, last
		case strings.HasPrefix(l, "data: ") && kind == "log":
			var e struct{ Line, Pod, Source string }
			json.Unmarshal([]byte(l[6:]), &e)
			v.mu.Lock()
			if e.Source == "k8s" || e.Source == "terminal_exec" {
				v.ids, v.lines = append(v.ids, id), append(v.lines, e.Pod+"/"+e.Line)
			}
			v.mu.Unlock()
			last = id
		case l == "":
			id, kind = "", ""
		}
	}
	return false, last
}

// wait waits for completed, then returns the lines.
func (v *viewer) wait(t *testing.T, d time.Duration) []string {
	t.Helper()
	select {
	case <-v.done:
	case <-time.After(d):
		t.Fatalf("no completed within %v (%d lines so far)", d, len(v.lines))
	}
	seen := map[string]bool{}
	for _, id := range v.ids {
		if seen[id] {
			t.Fatalf("event %s delivered twice", id)
		}
		seen[id] = true
	}
	return v.lines
}

// expect checks that got holds want, in order, each once.
func expect(t *testing.T, got []string, want []string) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%d lines, want %d", len(got), len(want))
	}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("line %d: %q, want %q", i, got[i], want[i])
		}
	}
}

func numbered(prefix string, n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = prefix + "line " + fmt.Sprintf("%05d", i)
	}
	return out
}
