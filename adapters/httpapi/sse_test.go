package httpapi

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/blastlog/blastlog/core/app"
	"github.com/blastlog/blastlog/core/job"
)

// connStates records the states net/http reports for each connection of a server.
type connStates struct {
	mu   sync.Mutex
	seen map[net.Conn][]http.ConnState
}

func (c *connStates) hook(conn net.Conn, s http.ConnState) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.seen == nil {
		c.seen = map[net.Conn][]http.ConnState{}
	}
	c.seen[conn] = append(c.seen[conn], s)
}

func (c *connStates) hijacked() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	n := 0
	for _, states := range c.seen {
		if states[len(states)-1] == http.StateHijacked {
			n++
		}
	}
	return n
}

// An HTTP/1.1 stream is served on its own connection once its headers are sent
// (net/http lets go of it): it reads the same, a client that leaves ends it and gives
// its place back, and StreamsEnded returns once every such stream has closed.
func TestStreamsRunOnDetachedConnections(t *testing.T) {
	states := &connStates{}
	st := newStack(t, func(s *Server) { s.Streams.Limit = app.NewStreamLimit(2) })
	srv := httptest.NewUnstartedServer(st.handler)
	srv.Config.ConnState = states.hook
	srv.Start()
	t.Cleanup(srv.Close)

	first := openAt(t, srv, st.issue(t, "run-a", "tok-alice").EventsURL)
	for range 4 { // retry and the three lines
		if _, err := first.next(t); err != nil {
			t.Fatal(err)
		}
	}
	if n := states.hijacked(); n != 1 {
		t.Fatalf("%d connections detached, want 1", n)
	}
	second := openAt(t, srv, st.issue(t, "run-a", "tok-alice").EventsURL)
	second.next(t)
	if held := st.server.Streams.Limit.Held("alice"); held != 2 {
		t.Fatalf("alice holds %d streams, want 2", held)
	}

	first.res.Body.Close() // the client leaves: its place is free again
	deadline := time.Now().Add(5 * time.Second)
	for st.server.Streams.Limit.Held("alice") != 1 && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	if held := st.server.Streams.Limit.Held("alice"); held != 1 {
		t.Fatalf("alice holds %d streams after one left, want 1", held)
	}

	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := st.server.StreamsEnded(ctx); err != nil {
		t.Fatal(err)
	}
	// Once StreamsEnded returns, every stream has given its place back and is counted out.
	if held, open := st.server.Streams.Limit.Held("alice"), testutil.ToFloat64(st.server.m.OpenStreams); held != 0 || open != 0 {
		t.Fatalf("after StreamsEnded: alice holds %d, %v streams open", held, open)
	}
	for {
		if _, err := second.next(t); err != nil {
			if !errors.Is(err, io.EOF) {
				t.Fatalf("the stream ended with %v, want the end of its body", err)
			}
			break
		}
	}
}

// StreamsEnded says so when a detached stream has not closed in time.
func TestStreamsEndedSaysWhenStreamsOutlastIt(t *testing.T) {
	st := newStack(t)
	s := st.open(t, st.issue(t, "run-a", "tok-alice").EventsURL)
	s.next(t)
	st.server.detached.Add(1) // a stream that does not end
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	if err := st.server.StreamsEnded(ctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("StreamsEnded: %v, want the deadline", err)
	}
	st.server.detached.Done()
}

// Over HTTP/2 the connection is not the stream's to take: it is served within the
// handler, and reads the same to its completed frame.
func TestStreamsOverHTTP2(t *testing.T) {
	states := &connStates{}
	st := newStack(t)
	h2 := httptest.NewUnstartedServer(st.handler)
	h2.EnableHTTP2 = true
	h2.Config.ConnState = states.hook
	h2.StartTLS()
	t.Cleanup(h2.Close)
	s := openAt(t, h2, st.issue(t, "run-a", "tok-alice").EventsURL)
	if s.res.ProtoMajor != 2 || s.res.StatusCode != 200 {
		t.Fatalf("%s %d, want HTTP/2 200", s.res.Proto, s.res.StatusCode)
	}
	for range 4 {
		if _, err := s.next(t); err != nil {
			t.Fatal(err)
		}
	}
	if err := st.jobs.SetStatus(context.Background(), "run-a", job.Completed); err != nil {
		t.Fatal(err)
	}
	if f, err := s.next(t); err != nil || f.kind != "completed" {
		t.Fatalf("end frame %+v %v", f, err)
	}
	if n := states.hijacked(); n != 0 {
		t.Fatalf("%d HTTP/2 connections detached", n)
	}
}

// A client has nothing to send on its event stream: what it sends is dropped, and once
// it has sent more than maxClientBytes its stream ends, so it cannot keep the server
// reading for ever.
func TestAClientThatKeepsSendingIsCutOff(t *testing.T) {
	st := newStack(t)
	conn, err := net.Dial("tcp", st.srv.Listener.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if _, err := fmt.Fprintf(conn, "GET %s HTTP/1.1\r\nHost: blastlog\r\n\r\n", st.issue(t, "run-a", "tok-alice").EventsURL); err != nil {
		t.Fatal(err)
	}
	r := bufio.NewReader(conn)
	res, err := http.ReadResponse(r, nil)
	if err != nil || res.StatusCode != 200 {
		t.Fatalf("%v %v", res, err)
	}
	s := &sse{res: res, r: bufio.NewReader(res.Body)}
	for range 4 { // retry and the three lines
		if _, err := s.next(t); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := conn.Write(make([]byte, maxClientBytes/2)); err != nil {
		t.Fatal(err)
	}
	st.append(t, "run-a", "still streaming")
	if f, err := s.next(t); err != nil || f.kind != "log" {
		t.Fatalf("after %d bytes from the client: %+v %v", maxClientBytes/2, f, err)
	}
	if _, err := conn.Write(make([]byte, maxClientBytes)); err != nil {
		t.Fatal(err)
	}
	conn.SetReadDeadline(time.Now().Add(10 * time.Second))
	for {
		// The server closes with the client's bytes unread: an end or a reset.
		if _, err := s.next(t); err != nil {
			if errors.Is(err, os.ErrDeadlineExceeded) {
				t.Fatal("the stream is still open")
			}
			break
		}
	}
}
