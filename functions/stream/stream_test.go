package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"go.uber.org/fx"
	"go.uber.org/goleak"

	"github.com/blastlog/blastlog/adapters/entra"
	"github.com/blastlog/blastlog/adapters/httpapi"
	"github.com/blastlog/blastlog/adapters/kube/kubetest"
	"github.com/blastlog/blastlog/adapters/redisstore"
	"github.com/blastlog/blastlog/adapters/redisstore/redistest"
	"github.com/blastlog/blastlog/core/app"
	"github.com/blastlog/blastlog/core/event"
	"github.com/blastlog/blastlog/core/job"
	"github.com/blastlog/blastlog/core/ticket"
	"github.com/blastlog/blastlog/ports"
)

var publishBin string

func TestMain(m *testing.M) {
	dir, _ := os.MkdirTemp("", "blastlog-stream-test")
	publishBin = filepath.Join(dir, "blastlog-publish")
	if out, err := exec.Command("go", "build", "-o", publishBin, "../publish").CombinedOutput(); err != nil {
		fmt.Fprintf(os.Stderr, "building blastlog-publish: %v\n%s", err, out)
		os.Exit(1)
	}
	code := m.Run()
	if plane != nil {
		plane.Stop()
	}
	os.RemoveAll(dir)
	if code == 0 {
		if err := goleak.Find(); err != nil {
			fmt.Fprintln(os.Stderr, "goleak:", err)
			code = 1
		}
	}
	os.Exit(code)
}

const owner = "0000000a-0000-4000-8000-00000000a11c" // an object id, as dev-bypass wants

var (
	planeOnce sync.Once
	plane     *kubetest.ControlPlane
	planeErr  error
)

// realPlane is etcd + kube-apiserver, started once for the package; it skips (or, in
// CI, fails) the test when the binaries are not built.
func realPlane(t testing.TB) *kubetest.ControlPlane {
	t.Helper()
	planeOnce.Do(func() {
		plane, planeErr = kubetest.Start()
		if planeErr == nil {
			fmt.Fprintf(os.Stderr, "control plane ready in %v\n", plane.Started)
		}
	})
	if errors.Is(planeErr, kubetest.ErrNoBinaries) && os.Getenv("CI") == "" {
		t.Skipf("%v", planeErr)
	}
	if planeErr != nil {
		t.Fatal(planeErr)
	}
	return plane
}

type stack struct {
	srv     *redistest.Server // nil on a cluster
	url     string            // BLASTLOG_REDIS_URL of the servers and publishers
	rdb     redis.UniversalClient
	tickets *app.Tickets
}

func newStack(t testing.TB) *stack {
	srv := redistest.Start(t)
	rdb := srv.Client(t)
	return &stack{srv: srv, url: srv.URL(), rdb: rdb, tickets: newTickets(rdb)}
}

// eachStack runs f on a stack over a single redis-server and on one over a real
// 3-master Redis Cluster (the servers and publishers get its redis+cluster:// URL).
func eachStack(t *testing.T, f func(t *testing.T, s *stack)) {
	t.Run("node", func(t *testing.T) { f(t, newStack(t)) })
	t.Run("cluster", func(t *testing.T) { f(t, newClusterStack(t)) })
}

// newClusterStack is a stack over a private 3-master Redis Cluster.
func newClusterStack(t testing.TB) *stack {
	c := redistest.StartCluster(t)
	rdb := c.Client(t)
	return &stack{url: c.URL(), rdb: rdb, tickets: newTickets(rdb)}
}

// newTickets issues dev-bypass tickets through rdb.
func newTickets(rdb redis.UniversalClient) *app.Tickets {
	cfg := redisstore.Config{}
	return &app.Tickets{Access: &app.Access{Auth: entra.DevBypass{User: owner}, Jobs: redisstore.NewJobDirectory(rdb, cfg)},
		Store:   redisstore.NewTicketStore(rdb, cfg),
		Limiter: redisstore.NewRateLimiter(rdb, cfg), PerMinute: 100_000} // benchmarks open 10,000 viewers as one owner
}

type streamServer struct {
	base string
	app  *fx.App
	api  *httpapi.Server
}

func (s *stack) server(t testing.TB, env map[string]string, opts ...fx.Option) *streamServer {
	t.Helper()
	return s.serverLogging(t, io.Discard, env, opts...)
}

// serverLogging is server with its log (JSON) written to w.
func (s *stack) serverLogging(t testing.TB, w io.Writer, env map[string]string, opts ...fx.Option) *streamServer {
	t.Helper()
	vars := map[string]string{"BLASTLOG_REDIS_URL": s.url, "BLASTLOG_AUTH_MODE": "dev-bypass", "BLASTLOG_ADDR": "127.0.0.1:0"}
	for k, v := range env {
		vars[k] = v
	}
	cfg, err := load(func(k string) string { return vars[k] }, false)
	if err != nil {
		t.Fatal(err)
	}
	ss := &streamServer{}
	var hs *http.Server
	ss.app = fx.New(options(cfg), fx.Populate(&hs, &ss.api),
		fx.Decorate(func() *slog.Logger { return slog.New(slog.NewJSONHandler(w, nil)) }), fx.Options(opts...))
	if err := ss.app.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ss.app.Stop(context.Background()) })
	ss.base = "http://" + hs.Addr
	return ss
}

// register and ticket panic when t is nil (benchmark set-up), else fail t.
func (s *stack) register(t testing.TB, jobID, ownerOID string) {
	if err := s.tickets.Access.Jobs.Register(context.Background(), job.Record{JobID: jobID, OwnerOID: ownerOID}); err != nil {
		fail(t, err)
	}
}

func (s *stack) ticket(t testing.TB, jobID string) string {
	is, err := s.tickets.Issue(context.Background(), ports.Credentials{}, jobID)
	if err != nil {
		fail(t, err)
	}
	return is.Ticket
}

func fail(t testing.TB, err error) {
	if t == nil {
		panic(err)
	}
	t.Helper()
	t.Fatal(err)
}

func freePort(t testing.TB) string {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return strconv.Itoa(l.Addr().(*net.TCPAddr).Port)
}

func (s *stack) publish(t *testing.T, stdin string, args ...string) {
	t.Helper()
	if err := s.run(stdin, args...); err != nil {
		t.Fatal(err)
	}
}

func (s *stack) run(stdin string, args ...string) error {
	cmd := exec.Command(publishBin, args...)
	cmd.Env = append(os.Environ(), "BLASTLOG_REDIS_URL="+s.url)
	cmd.Stdin = strings.NewReader(stdin)
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("blastlog-publish %v: %v %s", args, err, out)
	}
	return nil
}

// background publishes from another goroutine; the test checks the result at its end.
func (s *stack) background(t *testing.T, batches ...string) {
	errs := make(chan error, 1)
	go func() {
		for _, b := range batches {
			if err := s.run(b, "lines", "--job", jobOf(t), "--phase", "running"); err != nil {
				errs <- err
				return
			}
		}
		errs <- nil
	}()
	t.Cleanup(func() {
		if err := <-errs; err != nil {
			t.Error(err)
		}
	})
}

var jobs = map[string]string{}

func jobOf(t *testing.T) string { return jobs[t.Name()] }

func numbered(n, from int) string {
	var b strings.Builder
	for i := from; i < from+n; i++ {
		fmt.Fprintf(&b, "line %05d\n", i)
	}
	return b.String()
}

// frame is one parsed SSE frame.
type frame struct {
	id, event, data, comment string
	retry                    string
}

type client struct {
	res *http.Response
	r   *bufio.Reader
}

func dial(t *testing.T, base, jobID, tk, lastEventID string, viaHeader bool, hc *http.Client) (*client, int) {
	t.Helper()
	u := base + "/api/blast/logs/" + jobID + "/events?ticket=" + tk
	if lastEventID != "" && !viaHeader {
		u += "&last_event_id=" + lastEventID
	}
	req, _ := http.NewRequest(http.MethodGet, u, nil)
	if lastEventID != "" && viaHeader {
		req.Header.Set("Last-Event-ID", lastEventID)
	}
	if hc == nil {
		hc = http.DefaultClient
	}
	res, err := hc.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	if res.StatusCode != 200 {
		res.Body.Close()
		return nil, res.StatusCode
	}
	c := &client{res: res, r: bufio.NewReader(res.Body)}
	t.Cleanup(func() { res.Body.Close() })
	return c, 200
}

func (c *client) next() (frame, error) {
	var f frame
	seen := false
	for {
		line, err := c.r.ReadString('\n')
		if err != nil {
			return f, err
		}
		line = strings.TrimSuffix(line, "\n")
		if line == "" {
			if seen {
				return f, nil
			}
			continue
		}
		seen = true
		k, v, _ := strings.Cut(line, ":")
		v = strings.TrimPrefix(v, " ")
		switch k {
		case "":
			f.comment = v
		case "id":
			f.id = v
		case "event":
			f.event = v
		case "data":
			f.data += v
		case "retry":
			f.retry = v
		}
	}
}

// logs reads frames until n log events, returning them and the other frames seen.
func (c *client) logs(t *testing.T, n int, timeout time.Duration) ([]event.Event, []frame) {
	t.Helper()
	var evs []event.Event
	var others []frame
	deadline := time.AfterFunc(timeout, func() { c.res.Body.Close() })
	defer deadline.Stop()
	for len(evs) < n {
		f, err := c.next()
		if err != nil {
			t.Fatalf("after %d of %d events: %v (others %v)", len(evs), n, err, others)
		}
		if f.event != "log" {
			others = append(others, f)
			continue
		}
		e, err := event.Decode([]byte(f.data))
		if err != nil || e.ID.String() != f.id {
			t.Fatalf("frame %+v: %v", f, err)
		}
		evs = append(evs, e)
	}
	return evs, others
}

func checkSequence(t *testing.T, evs []event.Event, from, n int) {
	t.Helper()
	if len(evs) != n {
		t.Fatalf("%d events, want %d", len(evs), n)
	}
	var prev event.ID
	for i, e := range evs {
		if want := fmt.Sprintf("line %05d", from+i); e.Line != want {
			t.Fatalf("event %d is %q, want %q", i, e.Line, want)
		}
		id, _ := event.ParseID(e.ID.String())
		if i > 0 && id.Compare(prev) <= 0 {
			t.Fatalf("ids not increasing at %d", i)
		}
		prev = id
	}
}

func TestPublishedLinesArriveInOrderAndResumeExactly(t *testing.T) {
	eachStack(t, func(t *testing.T, s *stack) {
		srv := s.server(t, nil)
		s.register(t, "run-1", owner)
		s.publish(t, numbered(300, 0), "lines", "--job", "run-1", "--phase", "submitting")

		c, status := dial(t, srv.base, "run-1", s.ticket(t, "run-1"), "", false, nil)
		if status != 200 {
			t.Fatalf("status %d", status)
		}
		first, err := c.next()
		if err != nil || first.retry != "2000" {
			t.Fatalf("first frame %+v %v", first, err)
		}
		if ct := c.res.Header.Get("Content-Type"); ct != "text/event-stream" || c.res.Header.Get("Cache-Control") != "no-store, no-transform" ||
			c.res.Header.Get("X-Accel-Buffering") != "no" || c.res.Header.Get("Referrer-Policy") != "no-referrer" {
			t.Fatalf("headers %v", c.res.Header)
		}
		// Not chunked: the body runs to the connection's close, as the SSE spec
		// recommends (no chunk framing per flush).
		if len(c.res.TransferEncoding) != 0 || !c.res.Close || c.res.ContentLength != -1 {
			t.Fatalf("framing: transfer-encoding %v, close %v, length %d", c.res.TransferEncoding, c.res.Close, c.res.ContentLength)
		}
		// Backlog, then live lines published while the client is connected.
		jobs[t.Name()] = "run-1"
		s.background(t, numbered(200, 300))
		evs, _ := c.logs(t, 500, 20*time.Second)
		checkSequence(t, evs, 0, 500)
		c.res.Body.Close()

		// Reconnect after event 123 (header, then query): exactly the events after it.
		for _, viaHeader := range []bool{true, false} {
			c2, _ := dial(t, srv.base, "run-1", s.ticket(t, "run-1"), evs[123].ID.String(), viaHeader, nil)
			got, _ := c2.logs(t, 376, 20*time.Second)
			checkSequence(t, got, 124, 376)
			c2.res.Body.Close()
		}
		// The header wins over the query.
		u := srv.base + "/api/blast/logs/run-1/events?ticket=" + s.ticket(t, "run-1") + "&last_event_id=" + evs[10].ID.String()
		req, _ := http.NewRequest(http.MethodGet, u, nil)
		req.Header.Set("Last-Event-ID", evs[498].ID.String())
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		c3 := &client{res: res, r: bufio.NewReader(res.Body)}
		got, _ := c3.logs(t, 1, 10*time.Second)
		checkSequence(t, got, 499, 1)
		res.Body.Close()
	})
}

func TestRejectedTicketsGet204(t *testing.T) {
	s := newStack(t)
	srv := s.server(t, nil)
	s.register(t, "run-a", owner)
	s.register(t, "run-b", owner)
	used := s.ticket(t, "run-a")
	if c, st := dial(t, srv.base, "run-a", used, "", false, nil); st != 200 {
		t.Fatalf("first use %d", st)
	} else {
		c.res.Body.Close()
	}
	otherJob := s.ticket(t, "run-b")
	// An expired record still in Redis (its TTL outlives its expiry here).
	expired, hash, _ := ticket.Mint()
	rec, _ := ticket.New("run-a", owner, "dev", time.Now().Add(-time.Minute), 30*time.Second)
	s.tickets.Store.Put(context.Background(), hash, rec, time.Minute)
	for name, tk := range map[string]string{"missing": "", "unknown": strings.Repeat("A", 43), "reused": used,
		"expired": expired, "other job": otherJob, "garbage": "%3Cscript%3E"} {
		res, err := http.Get(srv.base + "/api/blast/logs/run-a/events?ticket=" + tk)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(res.Body)
		res.Body.Close()
		if res.StatusCode != 204 || len(body) != 0 {
			t.Errorf("%s: %d %q", name, res.StatusCode, body)
		}
	}
	// The ticket presented for the wrong job was consumed: it no longer opens its own.
	if _, st := dial(t, srv.base, "run-b", otherJob, "", false, nil); st != 204 {
		t.Fatalf("other-job ticket still usable: %d", st)
	}
}

func TestNoFrameCanBeForged(t *testing.T) {
	s := newStack(t)
	srv := s.server(t, nil)
	s.register(t, "run-f", owner)
	evil := "x\n\nevent: completed\ndata: {}\n\nid: 9999999999999-0\r\n\u2028data: y"
	// A producer that only XADDs (and does not sanitise) writes it raw.
	raw := event.Event{SchemaVersion: 1, JobID: "run-f", Source: event.SourceTerminal, Phase: "running", Stream: event.Stdout,
		Line: evil, TS: time.Now()}
	if err := s.rdb.XAdd(context.Background(), &redis.XAddArgs{Stream: "joblogs:run-f", Values: []any{"event", raw.AppendJSON(nil)}}).Err(); err != nil {
		t.Fatal(err)
	}
	s.publish(t, "after\n", "lines", "--job", "run-f", "--phase", "running")
	c, _ := dial(t, srv.base, "run-f", s.ticket(t, "run-f"), "", false, nil)
	evs, others := c.logs(t, 2, 10*time.Second)
	if evs[0].Line != evil || evs[1].Line != "after" {
		t.Fatalf("events %q", []string{evs[0].Line, evs[1].Line})
	}
	for _, f := range others {
		if f.event != "" || f.retry == "" {
			t.Fatalf("forged frame %+v", f)
		}
	}
}

func TestTwoServersGiveTheSameSequence(t *testing.T) {
	eachStack(t, func(t *testing.T, s *stack) {
		a, b := s.server(t, nil), s.server(t, nil)
		s.register(t, "run-2", owner)
		ca, _ := dial(t, a.base, "run-2", s.ticket(t, "run-2"), "", false, nil)
		cb, _ := dial(t, b.base, "run-2", s.ticket(t, "run-2"), "", false, nil)
		jobs[t.Name()] = "run-2"
		s.background(t, numbered(100, 0), numbered(100, 100), numbered(100, 200), numbered(100, 300), numbered(100, 400))
		ea, _ := ca.logs(t, 500, 30*time.Second)
		eb, _ := cb.logs(t, 500, 30*time.Second)
		checkSequence(t, ea, 0, 500)
		for i := range ea {
			if ea[i].ID != eb[i].ID || ea[i].Line != eb[i].Line {
				t.Fatalf("sequences differ at %d: %s %s", i, ea[i].ID, eb[i].ID)
			}
		}
	})
}

// smallBuffers is a client whose socket receive buffer is tiny, so that a viewer who
// stops reading makes the server's writes block quickly. The size is set before the
// connection is made: shrinking it afterwards strands data in an advertised window.
func smallBuffers() *http.Client {
	d := &net.Dialer{Control: func(_, _ string, c syscall.RawConn) error {
		var serr error
		err := c.Control(func(fd uintptr) {
			serr = syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_RCVBUF, 4096)
		})
		return errors.Join(err, serr)
	}}
	return &http.Client{Transport: &http.Transport{DialContext: d.DialContext}}
}

func TestSlowViewerDoesNotSlowOthersAndGetsAGapWhenTrimmed(t *testing.T) {
	s := newStack(t)
	srv := s.server(t, nil)
	s.register(t, "run-s", owner)
	slow, _ := dial(t, srv.base, "run-s", s.ticket(t, "run-s"), "", false, smallBuffers())
	fast, _ := dial(t, srv.base, "run-s", s.ticket(t, "run-s"), "", false, nil)
	// 20,000 lines in batches of 1,000 into a stream capped at ~5,000, while the slow
	// viewer reads nothing.
	pad := strings.Repeat("x", 150)
	var batches []string
	for b := 0; b < 20; b++ {
		var sb strings.Builder
		for i := b * 1000; i < (b+1)*1000; i++ {
			fmt.Fprintf(&sb, "line %05d %s\n", i, pad)
		}
		batches = append(batches, sb.String())
	}
	// Each batch is published once the fast viewer has the previous one: it keeps
	// progressing while the slow viewer's connection sits full.
	start := time.Now()
	var evs []event.Event
	for _, b := range batches {
		s.publish(t, b, "lines", "--job", "run-s", "--phase", "running")
		got, others := fast.logs(t, 1000, 30*time.Second)
		for _, f := range others {
			if f.event == "gap" {
				t.Fatalf("the fast viewer lost lines: %s", f.data)
			}
		}
		evs = append(evs, got...)
	}
	for i, e := range evs {
		if !strings.HasPrefix(e.Line, fmt.Sprintf("line %05d ", i)) {
			t.Fatalf("fast viewer: event %d is %q", i, e.Line[:10])
		}
	}
	t.Logf("fast viewer: 20,000 events in %v, none lost", time.Since(start))
	// The summary's keeper trims the stream behind what it counted, at its next write.
	waitLen(t, s, "run-s", 6000)

	// The slow viewer resumes: what it had buffered, one gap, then the rest to the end.
	var got []string
	gaps := 0
	deadline := time.AfterFunc(20*time.Second, func() { slow.res.Body.Close() })
	defer deadline.Stop()
	for len(got) == 0 || !strings.HasPrefix(got[len(got)-1], "line 19999 ") {
		f, err := slow.next()
		if err != nil {
			tail := got[max(0, len(got)-3):]
			for i := range tail {
				tail[i] = tail[i][:10]
			}
			t.Fatalf("slow viewer after %d events (last %q), %d gaps: %v", len(got), tail, gaps, err)
		}
		switch f.event {
		case "gap":
			gaps++
			var g struct{ After, First_available, Reason string }
			json.Unmarshal([]byte(f.data), &g)
			if g.Reason != "trimmed" || g.After == "" || g.First_available == "" {
				t.Fatalf("gap %s", f.data)
			}
		case "log":
			e, _ := event.Decode([]byte(f.data))
			got = append(got, e.Line)
		}
	}
	if gaps != 1 {
		t.Fatalf("%d gap events", gaps)
	}
	last := -1
	for _, l := range got {
		var n int
		fmt.Sscanf(l, "line %05d", &n)
		if n <= last {
			t.Fatalf("duplicate or out of order: %q after %d", l[:10], last)
		}
		last = n
	}
	if len(got) < 5000 {
		t.Fatalf("the slow viewer got %d events: less than the stream still holds", len(got))
	}
	t.Logf("slow viewer: %d events with one gap, up to line 19999", len(got))
}

func TestCompletedClosesTheStream(t *testing.T) {
	eachStack(t, func(t *testing.T, s *stack) {
		srv := s.server(t, nil)
		s.publish(t, "", "job", "register", "--job", "run-c", "--owner", owner)
		s.publish(t, numbered(10, 0), "lines", "--job", "run-c", "--phase", "running")
		c, _ := dial(t, srv.base, "run-c", s.ticket(t, "run-c"), "", false, nil)
		evs, _ := c.logs(t, 10, 10*time.Second)
		checkSequence(t, evs, 0, 10)
		s.publish(t, numbered(5, 10), "lines", "--job", "run-c", "--phase", "running")
		s.publish(t, "", "job", "status", "--job", "run-c", "--status", "completed")
		evs, _ = c.logs(t, 5, 10*time.Second)
		checkSequence(t, evs, 10, 5)
		f, err := c.next()
		if err != nil || f.event != "completed" || f.data != `{"job_id":"run-c","status":"completed"}` {
			t.Fatalf("frame %+v %v", f, err)
		}
		if _, err := c.next(); !errors.Is(err, io.EOF) {
			t.Fatalf("stream not closed: %v", err)
		}
		// A finished run: the whole log, then completed at once.
		c2, _ := dial(t, srv.base, "run-c", s.ticket(t, "run-c"), evs[2].ID.String(), false, nil)
		evs, _ = c2.logs(t, 2, 10*time.Second)
		checkSequence(t, evs, 13, 2)
		if f, _ := c2.next(); f.event != "completed" {
			t.Fatalf("frame %+v", f)
		}
	})
}

func TestHeartbeat(t *testing.T) {
	s := newStack(t)
	srv := s.server(t, nil)
	srv.api.Heartbeat = 200 * time.Millisecond
	s.register(t, "run-h", owner)
	c, _ := dial(t, srv.base, "run-h", s.ticket(t, "run-h"), "", false, nil)
	c.next() // retry
	start := time.Now()
	f, err := c.next()
	if err != nil || f.comment != "heartbeat" || time.Since(start) > 2*time.Second {
		t.Fatalf("%+v %v after %v", f, err, time.Since(start))
	}
}

func TestShutdownEndsStreamsQuickly(t *testing.T) {
	s := newStack(t)
	srv := s.server(t, nil)
	s.register(t, "run-x", owner)
	c, _ := dial(t, srv.base, "run-x", s.ticket(t, "run-x"), "", false, nil)
	c.next()
	start := time.Now()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := srv.app.Stop(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := c.next(); err == nil {
		t.Fatal("stream still open after stop")
	}
	if d := time.Since(start); d > 3*time.Second {
		t.Fatalf("stop took %v", d)
	}
}

func TestSnapshot(t *testing.T) {
	eachStack(t, func(t *testing.T, s *stack) {
		srv := s.server(t, nil)
		s.register(t, "run-p", owner)
		s.register(t, "run-q", "0000000b-0000-4000-8000-0000000000b0")
		s.publish(t, numbered(30, 0), "lines", "--job", "run-p", "--phase", "running")
		get := func(path, user string) (int, app.Snapshot, string) {
			st, b, _ := get(t, srv.base+path, user)
			var snap app.Snapshot
			json.Unmarshal(b, &snap)
			return st, snap, string(b)
		}
		st, snap, _ := get("/api/blast/logs/run-p/snapshot?limit=20", owner)
		if st != 200 || len(snap.Events) != 20 || snap.Completed || snap.Status != "queued" {
			t.Fatalf("%d %+v", st, snap)
		}
		st, snap2, _ := get("/api/blast/logs/run-p/snapshot?after="+snap.NextAfter.String(), owner)
		if st != 200 || len(snap2.Events) != 10 || snap2.Events[0].Line != "line 00020" {
			t.Fatalf("page 2 %d %+v", st, snap2)
		}
		s.tickets.Access.Jobs.SetStatus(context.Background(), "run-p", job.Completed)
		if _, snap3, _ := get("/api/blast/logs/run-p/snapshot?after="+snap2.NextAfter.String(), owner); !snap3.Completed || len(snap3.Events) != 0 || snap3.NextAfter != snap2.NextAfter {
			t.Fatalf("page 3 %+v", snap3)
		}
		_, _, other := get("/api/blast/logs/run-q/snapshot", owner)
		_, _, unknown := get("/api/blast/logs/run-zz/snapshot", owner)
		if other != unknown || !strings.Contains(other, "job_not_found") {
			t.Fatalf("other %q unknown %q", other, unknown)
		}
		for _, q := range []string{"?limit=0", "?limit=x", "?after=nope"} {
			if st, _, _ := get("/api/blast/logs/run-p/snapshot"+q, owner); st != 400 {
				t.Errorf("%s: %d", q, st)
			}
		}
		if st, _, _ := get("/api/blast/logs/run-p/snapshot?limit=99999", owner); st != 400 {
			t.Fatalf("limit over the max: %d", st)
		}
	})
}

func TestBadResumePoint(t *testing.T) {
	s := newStack(t)
	srv := s.server(t, nil)
	s.register(t, "run-r", owner)
	_, st := dial(t, srv.base, "run-r", s.ticket(t, "run-r"), "not-an-id", true, nil)
	if st != 400 {
		t.Fatalf("status %d", st)
	}
}

func TestFxGraph(t *testing.T) {
	for _, dev := range []bool{false, true} {
		cfg, err := load(func(k string) string {
			return map[string]string{"BLASTLOG_REDIS_URL": "redis://127.0.0.1:1/0", "BLASTLOG_AUTH_MODE": "dev-bypass"}[k]
		}, dev)
		if err != nil {
			t.Fatal(err)
		}
		if err := fx.ValidateApp(options(cfg)); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := load(func(k string) string { return map[string]string{"BLASTLOG_ENV": "production"}[k] }, true); err == nil {
		t.Fatal("-dev accepted in production")
	}
	base := map[string]string{"BLASTLOG_REDIS_URL": "redis://127.0.0.1:1/0", "BLASTLOG_AUTH_MODE": "dev-bypass"}
	env := func(kv ...string) func(string) string {
		m := map[string]string{}
		for k, v := range base {
			m[k] = v
		}
		for i := 0; i < len(kv); i += 2 {
			m[kv[i]] = kv[i+1]
		}
		return func(k string) string { return m[k] }
	}
	for _, c := range []struct {
		env  func(string) string
		want string
	}{
		{env("BLASTLOG_K8S", "aks", "BLASTLOG_AZURE_CREDENTIAL", "magic"), "BLASTLOG_AZURE_CREDENTIAL"},
		{env("BLASTLOG_K8S", "kubeconfig"), "KUBECONFIG"},
		{env("BLASTLOG_K8S", "magic"), "BLASTLOG_K8S"},
		{env("BLASTLOG_K8S", "incluster", "BLASTLOG_K8S_MAX_FOLLOWS", "0"), "BLASTLOG_K8S_MAX_FOLLOWS"},
		{env("BLASTLOG_K8S_TAIL_LINES", "20000"), "BLASTLOG_K8S_TAIL_LINES"},
		{env("BLASTLOG_ARCHIVE", "s3"), "BLASTLOG_ARCHIVE"},
		{env("BLASTLOG_ARCHIVE", "dir"), "BLASTLOG_ARCHIVE_DIR"},
		{env("BLASTLOG_ARCHIVE", "azblob"), "BLASTLOG_ARCHIVE_URL"},
		{env("BLASTLOG_ARCHIVE", "azblob", "BLASTLOG_ARCHIVE_URL", "https://a.blob.core.windows.net/c",
			"BLASTLOG_ARCHIVE_CONNECTION_STRING", "x"), "not both"},
		{env("BLASTLOG_ARCHIVE", "azblob", "BLASTLOG_ARCHIVE_URL", "http://a/c?sig=secret"), "BLASTLOG_ARCHIVE_URL"},
		{env("BLASTLOG_ARCHIVE_CHUNK", "6000"), "BLASTLOG_ARCHIVE_CHUNK"},
		{env("BLASTLOG_ARCHIVE_FLUSH", "1ms"), "BLASTLOG_ARCHIVE_FLUSH"},
		{env("BLASTLOG_ARCHIVE", "dir", "BLASTLOG_ARCHIVE_DIR", "/tmp/x", "BLASTLOG_STREAM_MAXLEN", "5000",
			"BLASTLOG_STREAM_HARDMAX", "2000"), "BLASTLOG_STREAM_HARDMAX"},
	} {
		_, err := load(c.env, false)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("want an error naming %s, got %v", c.want, err)
		}
		if err != nil && strings.Contains(err.Error(), "secret") {
			t.Errorf("an error shows a secret: %v", err)
		}
	}
	for _, c := range []struct{ env func(string) string }{
		{env("BLASTLOG_ARCHIVE", "dir", "BLASTLOG_ARCHIVE_DIR", t.TempDir())},
		{env("BLASTLOG_ARCHIVE", "azblob", "BLASTLOG_ARCHIVE_CONNECTION_STRING", "UseDevelopmentStorage=true")},
		{env("BLASTLOG_ARCHIVE", "azblob", "BLASTLOG_ARCHIVE_URL", "https://acct.blob.core.windows.net/job-artifacts")},
	} {
		cfg, err := load(c.env, false)
		if err != nil {
			t.Fatal(err)
		}
		if err := fx.ValidateApp(options(cfg)); err != nil {
			t.Fatalf("%+v: %v", cfg.Archive.Mode, err)
		}
	}
	for _, mode := range []string{"kubeconfig", "incluster", "aks"} {
		cfg, err := load(env("BLASTLOG_K8S", mode, "KUBECONFIG", "/nonexistent"), false)
		if err != nil {
			t.Fatal(err)
		}
		if err := fx.ValidateApp(options(cfg)); err != nil {
			t.Fatalf("%s: %v", mode, err)
		}
	}
}
