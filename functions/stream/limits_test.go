package main

import (
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"go.uber.org/fx"

	"github.com/blastlog/blastlog/adapters/entra"
	"github.com/blastlog/blastlog/functions/internal/wiring"
)

// refusal opens the stream with tk and returns the status, error code and Retry-After.
func refusal(t *testing.T, base, jobID, tk string) (int, string, string) {
	t.Helper()
	res, err := http.Get(base + "/api/blast/logs/" + jobID + "/events?ticket=" + tk)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	var body struct{ Error string }
	json.NewDecoder(res.Body).Decode(&body)
	return res.StatusCode, body.Error, res.Header.Get("Retry-After")
}

// An owner's streams beyond BLASTLOG_OWNER_MAX_STREAMS get 429 before their ticket is
// consumed: the refused ticket opens the stream once a place is free. Other owners
// are not affected.
func TestOwnerStreamCapLeavesTheRefusedTicketUsable(t *testing.T) {
	s := newStack(t)
	srv := s.server(t, map[string]string{"BLASTLOG_OWNER_MAX_STREAMS": "2"})
	s.register(t, "run-a", owner)
	first, _ := dial(t, srv.base, "run-a", s.ticket(t, "run-a"), "", false, nil)
	dial(t, srv.base, "run-a", s.ticket(t, "run-a"), "", false, nil)
	third := s.ticket(t, "run-a")
	for i := 0; i < 3; i++ {
		if st, code, retry := refusal(t, srv.base, "run-a", third); st != 429 || code != "too_many_streams" || retry == "" {
			t.Fatalf("third stream: %d %q Retry-After %q", st, code, retry)
		}
	}
	// Another owner's stream on the same replica opens.
	s.register(t, "run-o", "0000000c-0000-4000-8000-0000000000c0")
	s.tickets.Access.Auth = entra.DevBypass{User: "0000000c-0000-4000-8000-0000000000c0"}
	other := s.ticket(t, "run-o")
	s.tickets.Access.Auth = entra.DevBypass{User: owner}
	if _, st := dial(t, srv.base, "run-o", other, "", false, nil); st != 200 {
		t.Fatalf("another owner: %d", st)
	}
	first.res.Body.Close() // a place frees once the server sees the viewer gone
	deadline := time.Now().Add(10 * time.Second)
	for {
		c, st := dial(t, srv.base, "run-a", third, "", false, nil)
		if st == 200 {
			c.res.Body.Close()
			break
		}
		if st != 429 || time.Now().After(deadline) {
			t.Fatalf("the refused ticket after a place freed: %d", st)
		}
		time.Sleep(50 * time.Millisecond)
	}
	// A ticket is still single-use.
	if st, _, _ := refusal(t, srv.base, "run-a", third); st != 204 {
		t.Fatalf("the ticket again: %d", st)
	}
}

// An owner's reads beyond BLASTLOG_OWNER_MAX_REQUESTS get 429 while one is held by a
// client that does not read its download.
func TestOwnerRequestCapAndASlowDownload(t *testing.T) {
	s := newStack(t)
	srv := s.server(t, map[string]string{"BLASTLOG_OWNER_MAX_REQUESTS": "1"})
	s.register(t, "run-d", owner)
	pad := strings.Repeat("x", 200)
	var sb strings.Builder
	for i := 0; i < 5000; i++ {
		fmt.Fprintf(&sb, "line %05d %s\n", i, pad)
	}
	s.publish(t, sb.String(), "lines", "--job", "run-d", "--phase", "running")
	req, _ := http.NewRequest(http.MethodGet, srv.base+"/api/blast/logs/run-d/download?format=ndjson", nil)
	req.Header.Set("X-Dev-User", owner)
	res, err := smallBuffers().Do(req) // reads the headers, then nothing
	if err != nil {
		t.Fatal(err)
	}
	if res.StatusCode != 200 {
		t.Fatalf("download %d", res.StatusCode)
	}
	st, body, hdr := get(t, srv.base+"/api/blast/logs/run-d/snapshot", owner)
	if st != 429 || !strings.Contains(string(body), `"too_many_requests"`) || hdr.Get("Retry-After") == "" {
		t.Fatalf("a second read while the download is held: %d %s", st, body)
	}
	if st, _, _ := get(t, srv.base+"/api/blast/logs/run-d/snapshot", "0000000c-0000-4000-8000-0000000000c0"); st != 404 {
		t.Fatalf("another owner is limited too: %d", st) // 404: not theirs, but not refused by the cap
	}
	res.Body.Close()
	deadline := time.Now().Add(10 * time.Second)
	for {
		st, _, _ := get(t, srv.base+"/api/blast/logs/run-d/snapshot", owner)
		if st == 200 {
			break
		}
		if st != 429 || time.Now().After(deadline) {
			t.Fatalf("after the download was closed: %d", st)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// With the server's read and write deadlines short, a stream outlives both (it keeps
// per-write deadlines), while a request whose body never arrives is cut.
func TestServerDeadlinesSpareStreamsAndCutStalledRequests(t *testing.T) {
	s := newStack(t)
	srv := s.server(t, map[string]string{"BLASTLOG_STREAM_TICKETS": "on"},
		fx.Replace(wiring.Timeouts{Read: time.Second, Write: time.Second}))
	s.register(t, "run-t", owner)
	c, st := dial(t, srv.base, "run-t", s.ticket(t, "run-t"), "", false, nil)
	if st != 200 {
		t.Fatalf("stream %d", st)
	}
	time.Sleep(2500 * time.Millisecond)
	s.publish(t, numbered(3, 0), "lines", "--job", "run-t", "--phase", "running")
	evs, _ := c.logs(t, 3, 10*time.Second)
	checkSequence(t, evs, 0, 3)

	conn, err := net.Dial("tcp", strings.TrimPrefix(srv.base, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	fmt.Fprintf(conn, "POST /api/blast/logs/run-t/ticket HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n{")
	conn.SetReadDeadline(time.Now().Add(20 * time.Second)) // ours: far beyond the server's
	if _, err := io.ReadAll(conn); err != nil {
		t.Fatalf("the server held a request whose body never came: %v", err)
	}
}
