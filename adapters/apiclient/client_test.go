package apiclient

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/blastlog/blastlog/adapters/httpapi"
	"github.com/blastlog/blastlog/core/app"
	"github.com/blastlog/blastlog/core/app/fanout"
	"github.com/blastlog/blastlog/core/app/history"
	"github.com/blastlog/blastlog/core/event"
	"github.com/blastlog/blastlog/core/job"
	"github.com/blastlog/blastlog/ports"
	"github.com/blastlog/blastlog/ports/portstest"
)

// api is blastlog's HTTP API over the portstest fakes, served on loopback: alice owns
// run-a and bob run-b.
type api struct {
	srv  *httptest.Server
	log  *portstest.EventLog
	jobs *portstest.JobDirectory
	// fail makes the next requests whose path contains its key answer 503 with a
	// Retry-After of 1 (retry) — a server restarting.
	mu   sync.Mutex
	fail map[string]int
	// resumes are the Last-Event-ID headers of the stream requests, in order.
	resumes []string
	// conns are every connection the server accepted: streams run on theirs apart from
	// net/http, which CloseClientConnections does not close.
	conns []net.Conn
}

// breakConnections closes every connection the server accepted, as a replica that is
// gone does.
func (a *api) breakConnections() {
	a.mu.Lock()
	defer a.mu.Unlock()
	for _, c := range a.conns {
		c.Close()
	}
	a.conns = nil
}

func newAPI(t *testing.T) *api {
	t.Helper()
	ctx := context.Background()
	a := &api{log: portstest.NewEventLog(0), jobs: portstest.NewJobDirectory(), fail: map[string]int{}}
	for run, owner := range map[string]string{"run-a": "alice", "run-b": "bob"} {
		if err := a.jobs.Register(ctx, job.Record{JobID: run, OwnerOID: owner, Status: job.Running}); err != nil {
			t.Fatal(err)
		}
	}
	tickets := &app.Tickets{Access: &app.Access{Auth: portstest.Authenticator{"tok-alice": {OID: "alice"}, "tok-bob": {OID: "bob"}}, Jobs: a.jobs},
		Store: portstest.NewTicketStore(), Limiter: portstest.NewRateLimiter()}
	hr := &history.Reader{Log: a.log}
	hub := &fanout.Hub{Log: a.log, Tail: a.log, Statuses: a.jobs, History: hr}
	s := &httpapi.Server{Tickets: tickets, IssueTickets: true, Streams: &app.Streams{Tickets: tickets, Hub: hub}, Reads: &app.Reads{Access: tickets.Access, History: hr},
		Heartbeat: time.Second}
	h := s.Handler()
	a.srv = httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		a.mu.Lock()
		if strings.HasSuffix(r.URL.Path, "/events") {
			a.resumes = append(a.resumes, r.Header.Get("Last-Event-ID"))
		}
		for k, n := range a.fail {
			if n > 0 && strings.Contains(r.URL.Path, k) {
				a.fail[k] = n - 1
				a.mu.Unlock()
				w.Header().Set("Retry-After", "1")
				http.Error(w, `{"error":"unavailable","message":"restarting"}`, http.StatusServiceUnavailable)
				return
			}
		}
		a.mu.Unlock()
		h.ServeHTTP(w, r)
	}))
	a.srv.Config.ConnState = func(c net.Conn, state http.ConnState) {
		if state == http.StateNew {
			a.mu.Lock()
			a.conns = append(a.conns, c)
			a.mu.Unlock()
		}
	}
	a.srv.Start()
	t.Cleanup(a.srv.Close)
	t.Cleanup(func() { // the streams too: they outlive a.srv.Close
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := s.StreamsEnded(ctx); err != nil {
			t.Error(err)
		}
	})
	return a
}

func (a *api) client(token string) *Client {
	return &Client{Base: a.srv.URL, Token: func(context.Context) (string, error) { return token, nil },
		BackoffMin: 10 * time.Millisecond, BackoffMax: 50 * time.Millisecond}
}

func (a *api) append(t *testing.T, run string, lines ...string) []event.ID {
	t.Helper()
	var evs []event.Event
	for _, l := range lines {
		e := portstest.Event(run, l)
		e.Phase = event.PhaseRunning
		evs = append(evs, e)
	}
	ids, err := a.log.Append(context.Background(), run, evs)
	if err != nil {
		t.Fatal(err)
	}
	return ids
}

// A follow hands on every event once and in order, through breaks of its connection,
// and returns the completed frame once the run is terminal.
func TestFollowResumesThroughBreaks(t *testing.T) {
	a := newAPI(t)
	c := a.client("tok-alice")
	var want []event.ID
	for i := 0; i < 50; i++ {
		want = append(want, a.append(t, "run-a", fmt.Sprintf("early %d", i))...)
	}
	var got []event.ID
	var connects atomic.Int32
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	done := make(chan error, 1)
	var res Completed
	go func() {
		var err error
		res, err = c.Follow(ctx, "run-a", event.ID{}, Handler{
			Event:     func(e *event.Event) error { got = append(got, e.ID); return nil },
			Connected: func(event.ID) { connects.Add(1) },
		})
		done <- err
	}()
	for i := 0; i < 5; i++ {
		time.Sleep(50 * time.Millisecond)
		for j := 0; j < 20; j++ {
			want = append(want, a.append(t, "run-a", fmt.Sprintf("live %d.%d", i, j))...)
		}
		a.breakConnections() // a replica gone: the follow resumes on a new connection
	}
	if err := a.jobs.SetStatus(context.Background(), "run-a", job.Completed); err != nil {
		t.Fatal(err)
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if res.Status != string(job.Completed) || res.JobID != "run-a" {
		t.Fatalf("completed %+v", res)
	}
	if !slices.Equal(got, want) {
		t.Fatalf("got %d events, want %d:\n%v\n%v", len(got), len(want), got, want)
	}
	if connects.Load() < 2 {
		t.Fatalf("%d connections: the breaks were not exercised", connects.Load())
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	for i, id := range a.resumes[1:] {
		if id == "" {
			t.Fatalf("connection %d did not resume: %q", i+2, a.resumes)
		}
	}
}

// A follow from an id gets only what follows it.
func TestFollowFromAnID(t *testing.T) {
	a := newAPI(t)
	ids := a.append(t, "run-a", "one", "two", "three")
	a.jobs.SetStatus(context.Background(), "run-a", job.Completed)
	var got []string
	if _, err := a.client("tok-alice").Follow(context.Background(), "run-a", ids[0], Handler{
		Event: func(e *event.Event) error { got = append(got, e.Line); return nil },
	}); err != nil {
		t.Fatal(err)
	}
	if strings.Join(got, ",") != "two,three" {
		t.Fatalf("%v", got)
	}
}

// The API's answers map to the ports' errors: a run not the caller's is not found,
// a bad token unauthenticated, a bad query a bad query; an error of the handler ends
// the follow with it.
func TestErrors(t *testing.T) {
	a := newAPI(t)
	ctx := context.Background()
	if _, err := a.client("tok-alice").Summary(ctx, "run-b"); !errors.Is(err, ports.ErrNotFound) {
		t.Errorf("another's run: %v", err)
	}
	if _, err := a.client("tok-alice").Follow(ctx, "run-b", event.ID{}, Handler{}); !errors.Is(err, ports.ErrNotFound) {
		t.Errorf("following another's run: %v", err)
	}
	if _, err := a.client("nobody").Runs(ctx, 0); !errors.Is(err, ports.ErrUnauthenticated) {
		t.Errorf("bad token: %v", err)
	}
	var e *Error
	if _, err := a.client("tok-alice").Search(ctx, "run-a", app.SearchQuery{Q: strings.Repeat("x", 201)}); !errors.Is(err, app.ErrBadQuery) || !errors.As(err, &e) || e.Code != "bad_request" {
		t.Errorf("long query: %v", err)
	}
	noToken := &Client{Base: a.srv.URL, Token: func(context.Context) (string, error) { return "", errors.New("no credential") }}
	if _, err := noToken.Runs(ctx, 0); !errors.Is(err, ports.ErrUnauthenticated) || !strings.Contains(err.Error(), "no credential") {
		t.Errorf("no credential: %v", err)
	}
	a.append(t, "run-a", "x")
	stop := errors.New("enough")
	if _, err := a.client("tok-alice").Follow(ctx, "run-a", event.ID{}, Handler{Event: func(*event.Event) error { return stop }}); !errors.Is(err, stop) {
		t.Errorf("handler's error: %v", err)
	}
}

// A 503 with Retry-After is waited for and tried again; a server that stays down is
// ports.ErrUnavailable after the retries, and so is one that does not listen.
func TestRetries(t *testing.T) {
	a := newAPI(t)
	ctx := context.Background()
	a.fail["/summary"] = 2
	start := time.Now()
	if _, err := a.client("tok-alice").Summary(ctx, "run-a"); err != nil {
		t.Fatal(err)
	}
	if el := time.Since(start); el < 2*time.Second {
		t.Errorf("two Retry-After: 1 took %v", el)
	}
	a.fail["/summary"] = 100
	c := a.client("tok-alice")
	c.Retries = 1
	if _, err := c.Summary(ctx, "run-a"); !errors.Is(err, ports.ErrUnavailable) {
		t.Errorf("down: %v", err)
	}
	down := &Client{Base: "http://127.0.0.1:1", Retries: 2, BackoffMin: time.Millisecond, BackoffMax: 2 * time.Millisecond}
	if _, err := down.Runs(ctx, 0); !errors.Is(err, ports.ErrUnavailable) {
		t.Errorf("not listening: %v", err)
	}
}

// The reads are the API's: runs only the caller's, snapshot pages, search, download
// with its trailer.
func TestReads(t *testing.T) {
	a := newAPI(t)
	ctx := context.Background()
	ids := a.append(t, "run-a", "alpha", "ERROR: beta", "gamma")
	a.append(t, "run-b", "bob's")
	c := a.client("tok-alice")
	runs, err := c.Runs(ctx, 10)
	if err != nil || len(runs) != 1 || runs[0].JobID != "run-a" {
		t.Fatalf("runs %+v %v", runs, err)
	}
	snap, err := c.Snapshot(ctx, "run-a", app.SnapshotQuery{After: ids[0].String(), Limit: 1})
	if err != nil || len(snap.Events) != 1 || snap.Events[0].Line != "ERROR: beta" || snap.NextAfter != ids[1] {
		t.Fatalf("snapshot %+v %v", snap, err)
	}
	found, err := c.Search(ctx, "run-a", app.SearchQuery{Issues: true})
	if err != nil || len(found.Matches) != 1 || found.Matches[0].LineNo != 2 {
		t.Fatalf("search %+v %v", found, err)
	}
	body, err := c.Download(ctx, "run-a", app.DownloadQuery{Format: app.FormatText})
	if err != nil {
		t.Fatal(err)
	}
	defer body.Close()
	var lines []string
	sc := bufio.NewScanner(body)
	for sc.Scan() {
		lines = append(lines, sc.Text())
	}
	if len(lines) != 4 || !strings.HasSuffix(lines[1], ": ERROR: beta") || lines[3] != "# 3 lines, partial" {
		t.Fatalf("download %q", lines)
	}
	sum, err := c.Summary(ctx, "run-a")
	if err != nil || sum.Count != 3 || sum.Steps[event.PhaseRunning].Errors != 1 {
		t.Fatalf("summary %+v %v", sum, err)
	}
}

// Readers of a line longer than the bound fail instead of growing without end.
func TestReadLineBound(t *testing.T) {
	rd := bufio.NewReaderSize(io.MultiReader(strings.NewReader("data: "+strings.Repeat("x", MaxFrameLine+10)+"\n")), 4096)
	if _, err := readLine(rd); !errors.Is(err, errLineTooLong) {
		t.Fatal(err)
	}
	rd = bufio.NewReaderSize(strings.NewReader("a: b\r\n\nc"), 16)
	for _, want := range []string{"a: b", ""} {
		if l, err := readLine(rd); err != nil || string(l) != want {
			t.Fatalf("%q %v", l, err)
		}
	}
	if _, err := readLine(rd); !errors.Is(err, io.ErrUnexpectedEOF) {
		t.Fatal(err)
	}
}
