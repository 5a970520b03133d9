package httpapi

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/blastlog/blastlog/core/app"
	"github.com/blastlog/blastlog/core/app/fanout"
	"github.com/blastlog/blastlog/core/app/history"
	"github.com/blastlog/blastlog/core/event"
	"github.com/blastlog/blastlog/core/job"
	"github.com/blastlog/blastlog/ports"
	"github.com/blastlog/blastlog/ports/portstest"
)

// stack is every route of the streaming container over the portstest fakes: run-a is
// alice's and holds three lines, run-b is bob's.
type stack struct {
	srv     *httptest.Server
	handler http.Handler // srv's, for servers of a test's own
	server  *Server
	log     *portstest.EventLog
	jobs    *portstest.JobDirectory
	ids     []string // run-a's event ids
}

type stackOption func(*Server)

func newStack(t *testing.T, opts ...stackOption) *stack {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	st := &stack{log: portstest.NewEventLog(0), jobs: portstest.NewJobDirectory()}
	for id, owner := range map[string]string{"run-a": "alice", "run-b": "bob"} {
		if err := st.jobs.Register(ctx, job.Record{JobID: id, OwnerOID: owner}); err != nil {
			t.Fatal(err)
		}
	}
	st.append(t, "run-a", "first line", "second line", "third line")
	access := &app.Access{Auth: portstest.Authenticator{"tok-alice": {OID: "alice"}, "tok-bob": {OID: "bob"}}, Jobs: st.jobs}
	hub := &fanout.Hub{Log: st.log, Tail: st.log, Statuses: st.jobs,
		Config: fanout.HubConfig{Block: 10 * time.Millisecond, StatusEvery: 20 * time.Millisecond}}
	go hub.Run(ctx)
	tickets := &app.Tickets{Access: access, Store: portstest.NewTicketStore(), Limiter: portstest.NewRateLimiter()}
	st.server = &Server{
		Tickets:      tickets,
		IssueTickets: true,
		Streams:      &app.Streams{Tickets: tickets, Hub: hub},
		Reads:        &app.Reads{Access: access, History: &history.Reader{Log: st.log}},
		Ready:        func(context.Context) error { return nil },
		Logger:       slog.New(slog.DiscardHandler),
	}
	for _, o := range opts {
		o(st.server)
	}
	st.handler = st.server.Handler()
	st.srv = httptest.NewServer(st.handler)
	t.Cleanup(st.srv.Close)
	t.Cleanup(func() { // every stream closed, those on detached connections too
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := st.server.StreamsEnded(ctx); err != nil {
			t.Error(err)
		}
	})
	return st
}

func (st *stack) append(t *testing.T, jobID string, lines ...string) {
	t.Helper()
	evs := make([]event.Event, len(lines))
	for i, l := range lines {
		evs[i] = portstest.Event(jobID, l)
	}
	ids, err := st.log.Append(context.Background(), jobID, evs)
	if err != nil {
		t.Fatal(err)
	}
	if jobID == "run-a" {
		for _, id := range ids {
			st.ids = append(st.ids, id.String())
		}
	}
}

// do sends a request to the stack (see send).
func (st *stack) do(t *testing.T, method, path, token string, header ...string) (*http.Response, string) {
	t.Helper()
	return send(t, method, st.srv.URL+path, token, header...)
}

// send sends a request with the given bearer token ("" for none) and header pairs,
// and returns the answer with its whole body.
func send(t *testing.T, method, url, token string, header ...string) (*http.Response, string) {
	t.Helper()
	req, err := http.NewRequest(method, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return res, string(b)
}

func errorCode(t *testing.T, body string) string {
	t.Helper()
	var e errorBody
	if err := json.Unmarshal([]byte(body), &e); err != nil || e.Message == "" {
		t.Fatalf("not an error body: %q", body)
	}
	return e.Error
}

// issue takes a ticket for jobID as token's owner.
func (st *stack) issue(t *testing.T, jobID, token string) ticketResponse {
	t.Helper()
	res, body := st.do(t, http.MethodPost, LogsPrefix+jobID+"/ticket", token)
	if res.StatusCode != http.StatusOK {
		t.Fatalf("ticket: %d %s", res.StatusCode, body)
	}
	var tr ticketResponse
	if err := json.Unmarshal([]byte(body), &tr); err != nil {
		t.Fatal(err)
	}
	return tr
}

func TestTicketAnswers(t *testing.T) {
	st := newStack(t)
	tr := st.issue(t, "run-a", "tok-alice")
	if len(tr.Ticket) < 43 || tr.TTLSeconds != 30 ||
		tr.EventsURL != LogsPrefix+"run-a/events?ticket="+tr.Ticket {
		t.Errorf("ticket answer: %+v", tr)
	}
	if exp, err := time.Parse(time.RFC3339, tr.ExpiresAt); err != nil || time.Until(exp) > 31*time.Second || time.Until(exp) < 25*time.Second {
		t.Errorf("expires_at %q: %v", tr.ExpiresAt, err)
	}
	for _, c := range []struct {
		name, method, path, token string
		status                    int
		code                      string
	}{
		{"no token", "POST", "run-a/ticket", "", 401, "unauthorized"},
		{"bad token", "POST", "run-a/ticket", "tok-nobody", 401, "unauthorized"},
		{"another owner's run", "POST", "run-b/ticket", "tok-alice", 404, "job_not_found"},
		{"unknown run", "POST", "run-z/ticket", "tok-alice", 404, "job_not_found"},
		{"control character", "POST", "run%01a/ticket", "tok-alice", 400, "bad_job_id"},
		{"too long", "POST", strings.Repeat("r", 129) + "/ticket", "tok-alice", 400, "bad_job_id"},
		{"empty id", "POST", "/ticket", "tok-alice", 400, "bad_job_id"},
		{"GET", "GET", "run-a/ticket", "tok-alice", 405, "method_not_allowed"},
	} {
		res, body := st.do(t, c.method, LogsPrefix+c.path, c.token)
		if res.StatusCode != c.status || errorCode(t, body) != c.code {
			t.Errorf("%s: %d %s, want %d %s", c.name, res.StatusCode, body, c.status, c.code)
		}
		if c.status == 401 && !strings.HasPrefix(res.Header.Get("WWW-Authenticate"), "Bearer") {
			t.Errorf("%s: WWW-Authenticate %q", c.name, res.Header.Get("WWW-Authenticate"))
		}
	}
}

func TestTicketRateLimitSaysWhenToRetry(t *testing.T) {
	st := newStack(t, func(s *Server) { s.Tickets.PerMinute = 2 })
	st.issue(t, "run-a", "tok-alice")
	st.issue(t, "run-a", "tok-alice")
	res, body := st.do(t, "POST", LogsPrefix+"run-a/ticket", "tok-alice")
	retry, _ := strconv.Atoi(res.Header.Get("Retry-After"))
	if res.StatusCode != 429 || errorCode(t, body) != "rate_limited" || retry < 1 || retry > 60 {
		t.Fatalf("third ticket: %d %s Retry-After %q", res.StatusCode, body, res.Header.Get("Retry-After"))
	}
	st.issue(t, "run-b", "tok-bob") // another owner is not held back
}

// downAuth is an identity provider that cannot be reached.
type downAuth struct{}

func (downAuth) Authenticate(context.Context, ports.Credentials) (ports.Caller, error) {
	return ports.Caller{}, ports.ErrUnavailable
}

// An identity provider that is down is a 503 to retry, never a 401.
func TestUnreachableIdentityIs503(t *testing.T) {
	st := newStack(t, func(s *Server) { s.Tickets.Access.Auth = downAuth{} })
	for _, c := range []struct{ method, path string }{{"POST", "run-a/ticket"}, {"GET", "run-a/snapshot"}, {"GET", "run-a/summary"}} {
		res, body := st.do(t, c.method, LogsPrefix+c.path, "tok-alice")
		if res.StatusCode != 503 || errorCode(t, body) != "unavailable" || res.Header.Get("Retry-After") == "" {
			t.Errorf("%s: %d %s", c.path, res.StatusCode, body)
		}
	}
}

// sse opens an event stream and reads its frames.
type sse struct {
	res *http.Response
	r   *bufio.Reader
}

func (st *stack) open(t *testing.T, url string, header ...string) *sse {
	t.Helper()
	return openAt(t, st.srv, url, header...)
}

// openAt opens an event stream on srv.
func openAt(t *testing.T, srv *httptest.Server, url string, header ...string) *sse {
	t.Helper()
	req, _ := http.NewRequest("GET", srv.URL+url, nil)
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	res, err := srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { res.Body.Close() })
	return &sse{res: res, r: bufio.NewReader(res.Body)}
}

type frame struct{ id, kind, data string }

// next reads one frame (or a comment, as kind "comment"); io.EOF at the end.
func (s *sse) next(t *testing.T) (frame, error) {
	t.Helper()
	var f frame
	for {
		line, err := s.r.ReadString('\n')
		if err != nil {
			return f, err
		}
		line = strings.TrimSuffix(line, "\n")
		switch {
		case line == "":
			if f != (frame{}) {
				return f, nil
			}
		case strings.HasPrefix(line, ": "):
			f.kind = "comment"
		case strings.HasPrefix(line, "retry: "):
			f.kind, f.data = "retry", strings.TrimPrefix(line, "retry: ")
		case strings.HasPrefix(line, "id: "):
			f.id = strings.TrimPrefix(line, "id: ")
		case strings.HasPrefix(line, "event: "):
			f.kind = strings.TrimPrefix(line, "event: ")
		case strings.HasPrefix(line, "data: "):
			f.data = strings.TrimPrefix(line, "data: ")
		default:
			t.Fatalf("not an SSE line: %q", line)
		}
	}
}

func TestEventsStreamFromTheResumePointToCompleted(t *testing.T) {
	st := newStack(t)
	tr := st.issue(t, "run-a", "tok-alice")
	s := st.open(t, tr.EventsURL, "Last-Event-ID", "") // from the start
	h := s.res.Header
	if s.res.StatusCode != 200 || h.Get("Content-Type") != "text/event-stream" ||
		h.Get("Cache-Control") != "no-store, no-transform" || h.Get("X-Accel-Buffering") != "no" ||
		h.Get("Referrer-Policy") != "no-referrer" {
		t.Fatalf("%d %v", s.res.StatusCode, h)
	}
	if f, err := s.next(t); err != nil || f.kind != "retry" || f.data != "2000" {
		t.Fatalf("first frame %+v %v", f, err)
	}
	for i, want := range []string{"first line", "second line", "third line"} {
		f, err := s.next(t)
		if err != nil {
			t.Fatal(err)
		}
		e, derr := event.Decode([]byte(f.data))
		if f.kind != "log" || f.id != st.ids[i] || derr != nil || e.Line != want || e.ID.String() != st.ids[i] {
			t.Fatalf("frame %d: %+v (%v)", i, f, derr)
		}
	}
	st.append(t, "run-a", "a live line")
	if f, err := s.next(t); err != nil || f.kind != "log" || f.id != st.ids[3] || !strings.Contains(f.data, `"line":"a live line"`) {
		t.Fatalf("live frame %+v %v", f, err)
	}
	if err := st.jobs.SetStatus(context.Background(), "run-a", job.Completed); err != nil {
		t.Fatal(err)
	}
	f, err := s.next(t)
	if err != nil || f.kind != "completed" || !strings.Contains(f.data, `"status":"completed"`) {
		t.Fatalf("end frame %+v %v", f, err)
	}
	if f, err := s.next(t); !errors.Is(err, io.EOF) {
		t.Fatalf("after completed: %+v %v", f, err)
	}

	// A resume sends only what follows its point: the header first, then the query.
	s = st.open(t, st.issue(t, "run-a", "tok-alice").EventsURL+"&last_event_id="+st.ids[0], "Last-Event-ID", st.ids[1])
	s.next(t) // retry
	if f, err := s.next(t); err != nil || f.id != st.ids[2] {
		t.Fatalf("resumed after %s: %+v %v", st.ids[1], f, err)
	}
	s = st.open(t, st.issue(t, "run-a", "tok-alice").EventsURL+"&last_event_id="+st.ids[2])
	s.next(t)
	if f, err := s.next(t); err != nil || f.id != st.ids[3] {
		t.Fatalf("resumed after %s: %+v %v", st.ids[2], f, err)
	}
}

// A ticket opens one stream: used, unknown, absent or another run's, it is a 204 that
// tells EventSource to stop; a resume point that is not an id is a 400.
func TestEventsRejectsWhatATicketDoesNotAllow(t *testing.T) {
	st := newStack(t)
	tr := st.issue(t, "run-a", "tok-alice")
	first := st.open(t, tr.EventsURL)
	if first.res.StatusCode != 200 {
		t.Fatalf("first use: %d", first.res.StatusCode)
	}
	for name, url := range map[string]string{
		"used":        tr.EventsURL,
		"unknown":     LogsPrefix + "run-a/events?ticket=" + strings.Repeat("x", 43),
		"absent":      LogsPrefix + "run-a/events",
		"another run": LogsPrefix + "run-b/events?ticket=" + st.issue(t, "run-a", "tok-alice").Ticket,
	} {
		s := st.open(t, url)
		if b, _ := io.ReadAll(s.res.Body); s.res.StatusCode != 204 || len(b) != 0 {
			t.Errorf("%s ticket: %d %q", name, s.res.StatusCode, b)
		}
	}
	kept := st.issue(t, "run-a", "tok-alice")
	res, body := st.do(t, "GET", kept.EventsURL+"&last_event_id=yesterday", "")
	if res.StatusCode != 400 || errorCode(t, body) != "bad_last_event_id" {
		t.Errorf("bad resume point: %d %s", res.StatusCode, body)
	}
	res, body = st.do(t, "GET", kept.EventsURL, "", "Last-Event-ID", "12-x")
	if res.StatusCode != 400 || errorCode(t, body) != "bad_last_event_id" {
		t.Errorf("bad Last-Event-ID: %d %s", res.StatusCode, body)
	}
	// The refused resume point did not spend the ticket.
	if s := st.open(t, kept.EventsURL); s.res.StatusCode != 200 {
		t.Errorf("the ticket after a refused resume point: %d", s.res.StatusCode)
	}
}

// Over the owner's stream limit: 429 with Retry-After, and the ticket is not consumed,
// so it opens the stream once a place is free.
func TestEventsOverTheStreamLimitKeepsTheTicket(t *testing.T) {
	st := newStack(t, func(s *Server) {
		s.Streams.Limit = app.NewStreamLimit(1)
	})
	open := st.open(t, st.issue(t, "run-a", "tok-alice").EventsURL)
	open.next(t)
	second := st.issue(t, "run-a", "tok-alice")
	res, body := st.do(t, "GET", second.EventsURL, "")
	if res.StatusCode != 429 || errorCode(t, body) != "too_many_streams" || res.Header.Get("Retry-After") != "10" {
		t.Fatalf("second stream: %d %s %q", res.StatusCode, body, res.Header.Get("Retry-After"))
	}
	bob := st.issue(t, "run-b", "tok-bob")
	if s := st.open(t, bob.EventsURL); s.res.StatusCode != 200 {
		t.Errorf("another owner: %d", s.res.StatusCode)
	}
	open.res.Body.Close()
	deadline := time.Now().Add(5 * time.Second)
	for st.server.Streams.Limit.Held("alice") > 0 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if s := st.open(t, second.EventsURL); s.res.StatusCode != 200 {
		t.Fatalf("the refused ticket once a place is free: %d", s.res.StatusCode)
	}
}

// Shutting down ends every open stream and refuses new ones with a 503 to retry.
func TestEndStreamsClosesAndRefuses(t *testing.T) {
	st := newStack(t)
	s := st.open(t, st.issue(t, "run-a", "tok-alice").EventsURL)
	s.next(t)
	st.server.EndStreams()
	for {
		if _, err := s.next(t); err != nil {
			break
		}
	}
	res, body := st.do(t, "GET", st.issue(t, "run-a", "tok-alice").EventsURL, "")
	if res.StatusCode != 503 || errorCode(t, body) != "unavailable" || res.Header.Get("Retry-After") == "" {
		t.Fatalf("after EndStreams: %d %s", res.StatusCode, body)
	}
}

func TestHealthReadinessMetricsAndUnknownRoutes(t *testing.T) {
	ready := errors.New("redis: connection refused")
	st := newStack(t, func(s *Server) { s.Ready = func(context.Context) error { return ready } })
	if res, body := st.do(t, "GET", "/healthz", ""); res.StatusCode != 200 || !strings.Contains(body, `"ok"`) {
		t.Errorf("healthz: %d %s", res.StatusCode, body)
	}
	if res, body := st.do(t, "GET", "/readyz", ""); res.StatusCode != 503 || strings.Contains(body, "refused") {
		t.Errorf("readyz while Redis is down: %d %s (the cause stays in the log)", res.StatusCode, body)
	}
	res, body := st.do(t, "GET", "/metrics", "")
	for _, m := range []string{"blastlog_sse_open_streams", "blastlog_sse_events_delivered_total", "blastlog_ready 0"} {
		if res.StatusCode != 200 || !strings.Contains(body, m) {
			t.Errorf("metrics without %s: %d", m, res.StatusCode)
		}
	}
	ready = nil
	if res, _ := st.do(t, "GET", "/readyz", ""); res.StatusCode != 200 {
		t.Errorf("readyz: %d", res.StatusCode)
	}
	for _, path := range []string{LogsPrefix + "run-a/nope", LogsPrefix + "run-a", LogsPrefix} {
		if res, body := st.do(t, "GET", path, "tok-alice"); res.StatusCode != 404 || errorCode(t, body) != "not_found" {
			t.Errorf("%s: %d %s", path, res.StatusCode, body)
		}
	}
}

func TestReadsAnswerOwnersOnly(t *testing.T) {
	st := newStack(t)
	for _, path := range []string{"snapshot", "summary", "download", "search?q=line"} {
		for _, c := range []struct {
			job, token string
			status     int
			code       string
		}{
			{"run-a", "", 401, "unauthorized"},
			{"run-b", "tok-alice", 404, "job_not_found"},
			{"run-z", "tok-alice", 404, "job_not_found"},
		} {
			res, body := st.do(t, "GET", LogsPrefix+c.job+"/"+path, c.token)
			if res.StatusCode != c.status || errorCode(t, body) != c.code {
				t.Errorf("%s of %s as %q: %d %s", path, c.job, c.token, res.StatusCode, body)
			}
		}
		if res, body := st.do(t, "POST", LogsPrefix+"run-a/"+path, "tok-alice"); res.StatusCode != 405 {
			t.Errorf("POST %s: %d %s", path, res.StatusCode, body)
		}
	}
}

func TestSnapshotParameters(t *testing.T) {
	st := newStack(t)
	var snap struct {
		JobID     string        `json:"job_id"`
		Events    []event.Event `json:"events"`
		NextAfter string        `json:"next_after"`
		Completed bool          `json:"completed"`
	}
	res, body := st.do(t, "GET", LogsPrefix+"run-a/snapshot?after="+st.ids[0]+"&limit=1", "tok-alice")
	if err := json.Unmarshal([]byte(body), &snap); res.StatusCode != 200 || err != nil ||
		len(snap.Events) != 1 || snap.Events[0].Line != "second line" || snap.NextAfter != st.ids[1] || snap.Completed {
		t.Fatalf("after: %d %s", res.StatusCode, body)
	}
	if res.Header.Get("Cache-Control") != "no-store" {
		t.Errorf("Cache-Control %q", res.Header.Get("Cache-Control"))
	}
	for query, code := range map[string]string{
		"after=yesterday": "bad_after",
		"limit=0":         "bad_limit",
		"limit=ten":       "bad_limit",
		"limit=-3":        "bad_limit",
	} {
		res, body := st.do(t, "GET", LogsPrefix+"run-a/snapshot?"+query, "tok-alice")
		if res.StatusCode != 400 || errorCode(t, body) != code {
			t.Errorf("%s: %d %s", query, res.StatusCode, body)
		}
	}
	// Over the maximum is refused as below it is: nothing is capped silently.
	for _, l := range []string{"2001", "999999", "99999999999999999999"} {
		if res, body := st.do(t, "GET", LogsPrefix+"run-a/snapshot?limit="+l, "tok-alice"); res.StatusCode != 400 ||
			errorCode(t, body) != "bad_limit" || !strings.Contains(body, "1 to 2000") {
			t.Errorf("limit=%s: %d %s", l, res.StatusCode, body)
		}
	}
	if res, body := st.do(t, "GET", LogsPrefix+"run-a/snapshot?limit=2000", "tok-alice"); res.StatusCode != 200 {
		t.Errorf("limit=2000: %d %s", res.StatusCode, body)
	}
}

// Bad input gets the API's JSON error whatever it is: a path that is no endpoint, a
// job id that is a path, a method the route does not take.
func TestBadInputIsAJSONError(t *testing.T) {
	st := newStack(t)
	for _, c := range []struct{ method, path, status, code, msg string }{
		{"GET", "/api/nope", "404", "not_found", "no such endpoint"},
		{"GET", "/api/blast/nothing", "404", "not_found", "no such endpoint"},
		{"POST", "/api/blast/runs", "404", "not_found", "no such endpoint"},
		{"GET", LogsPrefix + "../summary", "400", "bad_job_id", "may not be . or .."},
		{"GET", LogsPrefix + "%2E%2E/summary", "400", "bad_job_id", "may not be . or .."},
		{"GET", LogsPrefix + strings.Repeat("x", 129) + "/summary", "400", "bad_job_id", "longer than 128"},
		{"GET", LogsPrefix + "a%01b/summary", "400", "bad_job_id", "control characters"},
		{"GET", "/api/blast/runs?limit=501", "400", "bad_limit", "1 to 500"},
	} {
		res, body := st.do(t, c.method, c.path, "tok-alice")
		if fmt.Sprint(res.StatusCode) != c.status || errorCode(t, body) != c.code || !strings.Contains(body, c.msg) ||
			res.Header.Get("Content-Type") != "application/json" {
			t.Errorf("%s %s: %d %s %s", c.method, c.path, res.StatusCode, res.Header.Get("Content-Type"), body)
		}
	}
}

// Over the owner's request limit: 429 too_many_requests with Retry-After, for that
// owner alone.
func TestReadsOverTheRequestLimit(t *testing.T) {
	st := newStack(t, func(s *Server) {
		s.Reads.Limit = &app.OwnerLimit{Max: 1, What: "requests", RetryAfter: time.Second}
	})
	release, err := st.server.Reads.Limit.Acquire("alice") // a read in progress
	if err != nil {
		t.Fatal(err)
	}
	res, body := st.do(t, "GET", LogsPrefix+"run-a/summary", "tok-alice")
	if res.StatusCode != 429 || errorCode(t, body) != "too_many_requests" || res.Header.Get("Retry-After") != "1" {
		t.Fatalf("%d %s %q", res.StatusCode, body, res.Header.Get("Retry-After"))
	}
	release()
	if res, body := st.do(t, "GET", LogsPrefix+"run-a/summary", "tok-alice"); res.StatusCode != 200 {
		t.Fatalf("after the release: %d %s", res.StatusCode, body)
	}
}

// Over the replica's limit of heavy reads: a search or a download gets 429
// too_many_requests whoever asks, while the light reads (summary, snapshot) go on.
func TestHeavyReadsOverTheServersLimit(t *testing.T) {
	st := newStack(t, func(s *Server) { s.Reads.Heavy = &app.ServerLimit{Max: 1, Wait: 10 * time.Millisecond} })
	release, err := st.server.Reads.Heavy.Acquire(context.Background()) // someone's download in progress
	if err != nil {
		t.Fatal(err)
	}
	for _, path := range []string{"run-b/search?q=line", "run-b/download"} {
		res, body := st.do(t, "GET", LogsPrefix+path, "tok-bob")
		if res.StatusCode != 429 || errorCode(t, body) != "too_many_requests" || res.Header.Get("Retry-After") != "1" ||
			!strings.Contains(body, "this server") {
			t.Fatalf("%s: %d %s %q", path, res.StatusCode, body, res.Header.Get("Retry-After"))
		}
	}
	if res, body := st.do(t, "GET", LogsPrefix+"run-b/summary", "tok-bob"); res.StatusCode != 200 {
		t.Fatalf("a summary: %d %s", res.StatusCode, body)
	}
	if st.server.Reads.Limit.Held("bob") != 0 || st.server.Reads.Heavy.Held() != 1 {
		t.Fatalf("a refused read holds a place: owner %d, server %d", st.server.Reads.Limit.Held("bob"), st.server.Reads.Heavy.Held())
	}
	release()
	if res, body := st.do(t, "GET", LogsPrefix+"run-b/search?q=line", "tok-bob"); res.StatusCode != 200 {
		t.Fatalf("after the release: %d %s", res.StatusCode, body)
	}
}

func TestRunsListsTheCallersRuns(t *testing.T) {
	st := newStack(t)
	var got struct {
		Runs []struct {
			JobID string `json:"job_id"`
		} `json:"runs"`
	}
	res, body := st.do(t, "GET", "/api/blast/runs", "tok-alice")
	if err := json.Unmarshal([]byte(body), &got); res.StatusCode != 200 || err != nil || len(got.Runs) != 1 || got.Runs[0].JobID != "run-a" {
		t.Fatalf("%d %s", res.StatusCode, body)
	}
	if res, body := st.do(t, "GET", "/api/blast/runs", ""); res.StatusCode != 401 {
		t.Errorf("without a token: %d %s", res.StatusCode, body)
	}
	if res, body := st.do(t, "GET", "/api/blast/runs?limit=0", "tok-alice"); res.StatusCode != 400 || errorCode(t, body) != "bad_limit" {
		t.Errorf("limit=0: %d %s", res.StatusCode, body)
	}
}
