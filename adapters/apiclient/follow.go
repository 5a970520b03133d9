package apiclient

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"time"

	"github.com/blastlog/blastlog/core/event"
	"github.com/blastlog/blastlog/ports"
)

// Follow limits.
const (
	// DefaultMaxFailures is how many connections in a row may fail (a ticket
	// refused, a stream cut before it sent anything) before Follow gives up with
	// ports.ErrUnavailable: about a minute and a half of backing off.
	DefaultMaxFailures = 10
	// IdleTimeout: a stream silent this long (the server sends a heartbeat every 15 s)
	// is taken as broken and resumed on a new connection.
	IdleTimeout = 45 * time.Second
	// MaxFrameLine bounds one line of the stream (an event's JSON is far smaller).
	MaxFrameLine = 1 << 20
)

// Handler receives what a follow reads. Event gets every log line and notice after
// the resume point once, in stream order; Gap says that events were lost in both the
// stream and the archive; Connected is told each time a connection is live (after a
// break, the follow resumed); Idle, that nothing more has arrived for now (a printer
// flushes then). A nil func ignores that; an error from one ends the follow with it.
type Handler struct {
	Event     func(e *event.Event) error
	Gap       func(g event.Gap) error
	Connected func(resumedAfter event.ID)
	Idle      func() error
}

// Completed is the stream's last frame: the run is terminal and every line was sent.
type Completed struct {
	JobID  string `json:"job_id"`
	Status string `json:"status"`
}

// errReconnect: the connection ended without completed; resume on a new one.
var errReconnect = errors.New("stream interrupted")

// unreachable: no ticket could be had (the request's own retries spent); a follow
// that never connected gives up with it at once. It is an errReconnect.
type unreachable struct{ err error }

func (u *unreachable) Error() string        { return u.err.Error() }
func (u *unreachable) Is(target error) bool { return target == errReconnect }

// Follow streams jobID's events after after (the zero id: from the first) until the run is
// completed, through any number of connections: each with a new ticket, resuming
// with Last-Event-ID, so that h sees every event once. It returns the completed
// frame, ctx's error, an error of h, a permanent error of the API (unknown run,
// unauthorized), or ports.ErrUnavailable after MaxFailures failed connections in a
// row.
func (c *Client) Follow(ctx context.Context, jobID string, after event.ID, h Handler) (Completed, error) {
	last := after
	failures := 0
	reached := false // a stream was opened once: later failures are breaks, not a server down
	for {
		done, progressed, err := c.connect(ctx, jobID, &last, h, &reached)
		if done != nil {
			return *done, nil
		}
		if ctx.Err() != nil {
			return Completed{}, ctx.Err()
		}
		var down *unreachable
		if errors.As(err, &down) && !reached {
			// Never connected and the ticket request spent its retries: say so now,
			// not after MaxFailures more rounds of them.
			return Completed{}, down.err
		}
		if !errors.Is(err, errReconnect) {
			return Completed{}, err
		}
		if progressed {
			failures = 0
		}
		failures++
		if failures > DefaultMaxFailures {
			return Completed{}, fmt.Errorf("%w: the stream of %s broke %d times in a row", ports.ErrUnavailable, jobID, failures-1)
		}
		if err := sleep(ctx, c.backoff(failures)); err != nil {
			return Completed{}, err
		}
	}
}

// connect is one connection: a ticket, the stream from *last. progressed says the
// connection delivered something (a live connection resets the failure count).
func (c *Client) connect(ctx context.Context, jobID string, last *event.ID, h Handler, reached *bool) (done *Completed, progressed bool, err error) {
	t, err := c.Ticket(ctx, jobID)
	if err != nil {
		var e *Error
		if errors.As(err, &e) && !e.retryable() || errors.Is(err, ErrNoTicketRoute) {
			return nil, false, err // unknown run, not the caller's, unauthorized, no ticket route
		}
		if ctx.Err() != nil {
			return nil, false, ctx.Err()
		}
		return nil, false, &unreachable{err}
	}
	cctx, cancel := context.WithCancel(ctx)
	defer cancel()
	req, err := http.NewRequestWithContext(cctx, http.MethodGet,
		c.Base+logsPath(jobID, "events")+"?"+url.Values{"ticket": {t.Ticket}}.Encode(), nil)
	if err != nil {
		return nil, false, err
	}
	req.Header.Set("Accept", "text/event-stream")
	if c.UserAgent != "" {
		req.Header.Set("User-Agent", c.UserAgent)
	}
	if !last.IsZero() {
		req.Header.Set("Last-Event-ID", last.String())
	}
	res, err := c.http().Do(req)
	if err != nil {
		return nil, false, errReconnect
	}
	defer res.Body.Close()
	if res.StatusCode != http.StatusOK {
		// 204: the ticket was refused (used, expired); anything else: try again.
		return nil, false, errReconnect
	}
	*reached = true
	if h.Connected != nil {
		h.Connected(*last)
	}
	// A stream silent past IdleTimeout is cut here and resumed.
	idle := time.AfterFunc(IdleTimeout, cancel)
	defer idle.Stop()
	rd := bufio.NewReaderSize(res.Body, 64<<10)
	var f frame
	handed := false // events handed on since Idle was last called
	for {
		if handed && h.Idle != nil && rd.Buffered() == 0 {
			// Caught up: the next read waits for the server.
			handed = false
			if err := h.Idle(); err != nil {
				return nil, progressed, err
			}
		}
		line, err := readLine(rd)
		if err != nil {
			if errors.Is(err, errLineTooLong) {
				return nil, progressed, fmt.Errorf("%w: a line of the stream is longer than %d bytes", ports.ErrUnavailable, MaxFrameLine)
			}
			return nil, progressed, errReconnect
		}
		idle.Reset(IdleTimeout)
		if len(line) > 0 {
			f.field(line)
			continue
		}
		// A blank line dispatches the frame.
		ev := f
		f = frame{}
		if len(ev.data) == 0 {
			continue
		}
		progressed = true
		switch ev.name {
		case "log", "status":
			var e event.Event
			if err := json.Unmarshal(ev.data, &e); err != nil {
				return nil, progressed, fmt.Errorf("%w: an event of the stream is not JSON: %v", ports.ErrUnavailable, err)
			}
			if e.ID.Compare(*last) <= 0 {
				continue // already handed on (a resume can repeat the boundary)
			}
			*last = e.ID
			handed = true
			if h.Event != nil {
				if err := h.Event(&e); err != nil {
					return nil, progressed, err
				}
			}
		case "gap":
			var g event.Gap
			if json.Unmarshal(ev.data, &g) == nil && h.Gap != nil {
				if err := h.Gap(g); err != nil {
					return nil, progressed, err
				}
			}
		case "completed":
			var done Completed
			if err := json.Unmarshal(ev.data, &done); err != nil {
				return nil, progressed, fmt.Errorf("%w: the completed frame is not JSON: %v", ports.ErrUnavailable, err)
			}
			return &done, progressed, nil
		}
	}
}

// frame is an SSE frame being read: its event name and data lines.
type frame struct {
	name string
	data []byte
}

// field reads one "name: value" line of a frame; comments (":") and fields other
// than event and data are ignored (the id is the event's own).
func (f *frame) field(line []byte) {
	name, value, _ := bytes.Cut(line, []byte(":"))
	value = bytes.TrimPrefix(value, []byte(" "))
	switch string(name) {
	case "event":
		f.name = string(value)
	case "data":
		if f.data != nil {
			f.data = append(f.data, '\n')
		}
		f.data = append(f.data, value...)
	}
}

var errLineTooLong = errors.New("line too long")

// readLine reads a line without its end (\n, \r\n), at most MaxFrameLine bytes.
func readLine(rd *bufio.Reader) ([]byte, error) {
	var long []byte
	for {
		part, err := rd.ReadSlice('\n')
		if len(long)+len(part) > MaxFrameLine+2 { // the line and its \r\n
			return nil, errLineTooLong
		}
		if err == nil {
			if long != nil {
				part = append(long, part...)
			}
			return bytes.TrimSuffix(bytes.TrimSuffix(part, []byte("\n")), []byte("\r")), nil
		}
		if !errors.Is(err, bufio.ErrBufferFull) {
			if err == io.EOF {
				err = io.ErrUnexpectedEOF
			}
			return nil, err
		}
		long = append(long, part...)
	}
}
