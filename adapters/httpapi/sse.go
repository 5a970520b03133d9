package httpapi

import (
	"cmp"
	"context"
	"errors"
	"net"
	"net/http"
	"sync"
	"time"

	"github.com/blastlog/blastlog/core/app"
	"github.com/blastlog/blastlog/core/ticket"
)

// SSE timings (docs/api.md §3).
const (
	DefaultHeartbeat = 15 * time.Second // a comment after this much silence
	writeTimeout     = 30 * time.Second // a client that takes longer to accept a batch is dropped
	deadlineSlack    = 5 * time.Second  // a write's deadline is moved once it is this much older
	maxBatch         = 256              // log frames per write and flush
	maxClientBytes   = 4 << 10          // what a client may send on its event stream
)

// events serves GET /api/blast/logs/{job_id}/events?ticket=T[&last_event_id=ID]:
// decode the request, open the stream (app.Streams.Open), write its frames.
func (s *Server) events(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet {
		w.Header().Set("Allow", http.MethodGet)
		writeJSON(w, http.StatusMethodNotAllowed, errorBody{Error: "method_not_allowed", Message: "use GET"})
		return
	}
	if s.ending.Err() != nil {
		w.Header().Set("Retry-After", "1")
		writeJSON(w, http.StatusServiceUnavailable, errorBody{Error: "unavailable", Message: "this server is shutting down; reconnect"})
		return
	}
	st, release := s.openStream(w, r)
	if st == nil {
		return // answered
	}
	st.OnCatchUp, st.OnGap, st.Idle = s.m.CatchUps.Inc, s.m.Gaps.Inc, s.heartbeat()
	s.m.OpenStreams.Inc()
	sseHeaders(w.Header())
	w.WriteHeader(http.StatusOK)
	end, jobID := func() { st.Close(); release(); s.m.OpenStreams.Dec() }, r.PathValue("job_id")
	if conn := s.detach(w); conn != nil { // the request is not held from here on
		go func() { defer s.detached.Done(); defer end(); s.pumpOn(conn, st, jobID) }()
		return
	}
	defer end()
	ctx, cancel := context.WithCancel(r.Context())
	defer cancel()
	stop := context.AfterFunc(s.ending, cancel) // server shutdown ends the stream
	defer stop()
	s.pump(ctx, st, &sseWriter{w: w, rc: http.NewResponseController(w)}, jobID)
}

// detach sends the response's headers and takes its HTTP/1.1 connection from
// net/http, so that a stream holds its socket and little else while it waits: not the
// request, net/http's read and write buffers (10 KB) and its two goroutines. It
// returns nil where the connection cannot be taken (HTTP/2), and once the server ends
// its streams: the stream is then served within the handler.
func (s *Server) detach(w http.ResponseWriter) net.Conn {
	rc := http.NewResponseController(w)
	if rc.Flush() != nil {
		return nil
	}
	s.detaching.RLock() // StreamsEnded waits for every stream detached before it
	defer s.detaching.RUnlock()
	if s.ending.Err() != nil {
		return nil
	}
	conn, _, err := rc.Hijack()
	if err != nil {
		return nil
	}
	s.detached.Add(1)
	return conn
}

// pumpOn serves a stream on a detached connection until it ends (pump), the client
// closes the connection or the server ends its streams, then closes the connection.
func (s *Server) pumpOn(conn net.Conn, st *app.Stream, jobID string) {
	ctx, cancel := context.WithCancel(s.ending)
	left := make(chan struct{})
	go func() { // what net/http's background read did: a closed connection ends the stream
		defer close(left)
		defer cancel()
		var b [64]byte                           // a client sends nothing on an event stream: what it sends is dropped,
		for sent := 0; sent <= maxClientBytes; { // and past maxClientBytes the stream ends
			n, err := conn.Read(b[:])
			if err != nil {
				return
			}
			sent += n
		}
	}()
	s.pump(ctx, st, &sseWriter{conn: conn}, jobID)
	conn.Close()
	<-left
}

// sseHeaders are an event stream's response headers.
func sseHeaders(h http.Header) {
	h.Set("Content-Type", "text/event-stream")
	h.Set("Cache-Control", "no-store, no-transform")
	h.Set("X-Accel-Buffering", "no")
	h.Set("Referrer-Policy", "no-referrer")
	h.Set("X-Content-Type-Options", "nosniff")
	// HTTP/1.1 without chunking: the body runs until the connection closes (what the
	// SSE spec recommends; net/http's way to ask is this header, which it removes).
	// A flush is then the batch alone, with no chunk framing built for it. HTTP/2
	// frames the stream itself and ignores it.
	h.Set("Transfer-Encoding", "identity")
}

// pump writes the stream's frames, a batch per write, until the run completes, the
// client leaves, the server shuts down or a write fails.
func (s *Server) pump(ctx context.Context, st *app.Stream, out *sseWriter, jobID string) {
	if !out.write([]byte("retry: 2000\n\n")) {
		return
	}
	for {
		frames, err := st.Next(ctx, maxBatch)
		var b []byte
		switch {
		case errors.Is(err, app.ErrCompleted):
			return
		case ctx.Err() != nil:
			return // the client left, or the server is shutting down: it reconnects elsewhere
		case errors.Is(err, app.ErrIdle):
			b = heartbeat
		case err != nil:
			s.log.Warn("stream ended by a read error; the client will reconnect", "job_id", loggedJobID(jobID), "error", err)
			return
		}
		if len(frames) > 0 {
			ok, logs := writeFrames(out, frames)
			if !ok {
				return
			}
			s.m.Delivered.Add(float64(logs))
		} else if !out.write(b) {
			return
		}
	}
}

var heartbeat = []byte(": heartbeat\n\n")

// frameBufs holds the buffers batches are encoded into, between writes: a waiting
// stream holds none. A burst's large buffer is not kept.
var frameBufs = sync.Pool{New: func() any { return new([]byte) }}

const maxKeptBuf = 64 << 10

// writeFrames encodes frames into a pooled buffer and writes them in one flush; logs
// is how many were log or status frames.
func writeFrames(out *sseWriter, frames []app.Frame) (ok bool, logs int) {
	bp := frameBufs.Get().(*[]byte)
	b := (*bp)[:0]
	for _, f := range frames {
		b = appendFrame(b, f)
		if f.Kind == app.FrameLog || f.Kind == app.FrameStatus {
			logs++
		}
	}
	ok = out.write(b)
	if cap(b) <= maxKeptBuf {
		*bp = b
		frameBufs.Put(bp)
	}
	return ok, logs
}

// openStream opens the request's stream (app.Streams.Open), or answers the request
// and returns nil.
func (s *Server) openStream(w http.ResponseWriter, r *http.Request) (*app.Stream, func()) {
	jobID, q := r.PathValue("job_id"), r.URL.Query()
	resume, err := app.ParseResume(cmp.Or(r.Header.Get("Last-Event-ID"), q.Get("last_event_id")))
	var st *app.Stream
	var release func()
	if err == nil {
		st, release, err = s.Streams.Open(r.Context(), q.Get("ticket"), jobID, resume)
	}
	var lim *app.LimitedError
	switch {
	case err == nil:
		s.m.Tickets.WithLabelValues("redeem", "accepted").Inc()
		return st, release
	case errors.Is(err, app.ErrBadResume):
		w.Header().Set("Cache-Control", "no-store")
		writeJSON(w, http.StatusBadRequest, errorBody{Error: "bad_last_event_id", Message: app.ErrBadResume.Error()})
	case errors.As(err, &lim):
		s.m.Tickets.WithLabelValues("redeem", "limited").Inc()
		writeError(w, err)
	case errors.Is(err, ticket.ErrRejected):
		// The HTML spec's "stop reconnecting": the client fetches a new ticket.
		s.m.Tickets.WithLabelValues("redeem", "rejected").Inc()
		w.Header().Set("Cache-Control", "no-store")
		w.WriteHeader(http.StatusNoContent)
	default:
		outcome := "unavailable"
		if errors.Is(err, app.ErrNotOpened) {
			outcome = "accepted" // redeemed; the stream failed after
		}
		s.m.Tickets.WithLabelValues("redeem", outcome).Inc()
		s.log.Error("opening a stream failed", "job_id", loggedJobID(jobID), "error", err)
		writeError(w, err)
	}
	return nil, nil
}

// appendFrame writes one SSE frame. Data is one line of JSON (the encoder escapes CR,
// LF, U+2028 and U+2029), so no log content can end a frame or start another.
func appendFrame(b []byte, f app.Frame) []byte {
	if !f.ID.IsZero() {
		b = append(b, "id: "...)
		b, _ = f.ID.AppendText(b)
		b = append(b, '\n')
	}
	b = append(b, "event: "...)
	b = append(b, f.Kind...)
	b = append(b, "\ndata: "...)
	b = append(b, f.Data...)
	return append(b, "\n\n"...)
}

// sseWriter writes each batch whole (on a detached connection, in one write; else
// written and flushed) within a deadline of writeTimeout, less at most
// deadlineSlack: the connection's deadline is moved only once it is that old, which
// spares a timer update on nearly every write of a busy stream.
type sseWriter struct {
	conn     net.Conn // a detached connection, or nil: w and rc
	w        http.ResponseWriter
	rc       *http.ResponseController
	deadline time.Time
}

func (o *sseWriter) write(b []byte) bool {
	if now := time.Now(); o.deadline.Sub(now) < writeTimeout-deadlineSlack {
		o.deadline = now.Add(writeTimeout)
		if o.conn != nil {
			o.conn.SetWriteDeadline(o.deadline)
		} else {
			o.rc.SetWriteDeadline(o.deadline)
		}
	}
	if o.conn != nil {
		_, err := o.conn.Write(b)
		return err == nil
	}
	if _, err := o.w.Write(b); err != nil {
		return false
	}
	return o.rc.Flush() == nil
}
