package app

import (
	"context"
	"errors"
	"io"

	"github.com/blastlog/blastlog/core/event"
)

// FrameKind is the SSE event name of a frame.
type FrameKind string

const (
	FrameLog       FrameKind = "log"
	FrameStatus    FrameKind = "status" // a collector notice; it has an id like a log frame
	FrameGap       FrameKind = "gap"
	FrameCompleted FrameKind = "completed"
)

// Frame is one thing to tell a viewer. Data is one line of JSON.
type Frame struct {
	Kind FrameKind
	ID   string // set on log frames only: the resume point
	Data []byte
}

// Stream is one viewer's ordered view of a run: every event strictly after its
// resume point, each exactly once, then completed once the run is finished and
// drained. It reads the log itself while behind and takes the hub's live events
// otherwise.
type Stream struct {
	hub   *Hub
	sub   *Subscription
	jobID string

	after     event.ID // last delivered
	hasAfter  bool
	catchUp   bool
	checkTrim bool
	drained   bool // read the log once more after the run was seen finished
	done      bool

	// OnCatchUp and OnGap observe (metrics); may be nil.
	OnCatchUp func()
	OnGap     func()
}

// ErrCompleted ends a stream after its completed frame.
var ErrCompleted = io.EOF

// Open starts a stream after resume ("" = from the first event held).
func (h *Hub) Open(ctx context.Context, jobID, resume string) (*Stream, error) {
	st := &Stream{hub: h, jobID: jobID, catchUp: true}
	if resume != "" {
		id, err := event.ParseID(resume)
		if err != nil {
			return nil, err
		}
		st.after, st.hasAfter, st.checkTrim = id, true, true
	}
	sub, err := h.Subscribe(ctx, jobID)
	if err != nil {
		return nil, err
	}
	st.sub = sub
	return st, nil
}

// Close releases the stream's subscription.
func (s *Stream) Close() { s.sub.Close() }

func (s *Stream) afterString() string {
	if !s.hasAfter {
		return ""
	}
	return s.after.String()
}

// Next returns the next frames, at most max log frames, waiting until there is one or
// ctx ends (ctx.Err() is returned then, with no frames). After the completed frame it
// returns ErrCompleted.
func (s *Stream) Next(ctx context.Context, max int) ([]Frame, error) {
	for {
		if s.done {
			return nil, ErrCompleted
		}
		if s.sub.Lagging() {
			// Live events were dropped for this viewer: read them from the log, and
			// say so if the log no longer holds them.
			s.catchUp, s.checkTrim = true, s.hasAfter
			if s.OnCatchUp != nil {
				s.OnCatchUp()
			}
		}
		if s.catchUp {
			frames, err := s.readLog(ctx, max)
			if err != nil || len(frames) > 0 {
				return frames, err
			}
		}
		if f, ok := s.completion(); ok {
			return []Frame{f}, nil
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case d := <-s.sub.C:
			frames := make([]Frame, 0, 8)
			frames = s.take(frames, d)
			for len(frames) < max {
				select {
				case d := <-s.sub.C:
					frames = s.take(frames, d)
					continue
				default:
				}
				break
			}
			if len(frames) > 0 {
				return frames, nil
			}
		case <-s.sub.Done():
			// Deliver what the log holds up to the end, then complete.
			s.catchUp = true
		}
	}
}

func (s *Stream) take(frames []Frame, d *Delivery) []Frame {
	if s.hasAfter && d.ID.Compare(s.after) <= 0 {
		return frames // already delivered from the log
	}
	s.after, s.hasAfter = d.ID, true
	return append(frames, Frame{Kind: kindOf(&d.Event), ID: d.Event.ID, Data: d.JSON})
}

// readLog reads up to max events after the resume point from the log; it ends the
// catch-up once it has reached the end. A resume point older than the first event
// held yields a gap frame first.
func (s *Stream) readLog(ctx context.Context, max int) ([]Frame, error) {
	var frames []Frame
	if s.checkTrim {
		s.checkTrim = false
		first, _, err := s.hub.Log.Bounds(ctx, s.jobID)
		if err != nil {
			return nil, err
		}
		if f, err := event.ParseID(first); err == nil && f.Compare(s.after) > 0 {
			if prev := s.after; !isPredecessor(prev, f) {
				frames = append(frames, Frame{Kind: FrameGap, Data: gapJSON(prev.String(), first)})
				if s.OnGap != nil {
					s.OnGap()
				}
			}
		}
	}
	evs, err := s.hub.Log.Read(ctx, s.jobID, s.afterString(), max)
	if err != nil {
		if errors.Is(err, event.ErrBadID) {
			return nil, err
		}
		return frames, err
	}
	for _, e := range evs {
		id, err := event.ParseID(e.ID)
		if err != nil {
			continue
		}
		s.after, s.hasAfter = id, true
		frames = append(frames, Frame{Kind: kindOf(&e), ID: e.ID, Data: e.AppendJSON(nil)})
	}
	if len(evs) < max {
		s.catchUp = false
	}
	return frames, nil
}

func kindOf(e *event.Event) FrameKind {
	if e.Source == event.SourceSystem && e.Notice != "" {
		return FrameStatus
	}
	return FrameLog
}

// isPredecessor: nothing can lie strictly between a and b.
func isPredecessor(a, b event.ID) bool {
	n, ok := a.Next()
	return ok && n == b
}

// completion is the completed frame, once the run is terminal and everything up to
// its last id at that moment was delivered.
func (s *Stream) completion() (Frame, bool) {
	t := s.sub.Terminal()
	if t == nil || s.catchUp {
		return Frame{}, false
	}
	if t.LastID != "" && !s.drained {
		last, err := event.ParseID(t.LastID)
		if err == nil && (!s.hasAfter || s.after.Compare(last) < 0) {
			// The hub may not have read the tail yet: read the log to its end once.
			// (If the log lost those entries meanwhile, complete all the same.)
			s.catchUp, s.drained = true, true
			return Frame{}, false
		}
	}
	s.done = true
	return Frame{Kind: FrameCompleted, Data: completedJSON(s.jobID, string(t.Status))}, true
}

func gapJSON(after, first string) []byte {
	b := []byte(`{"after":`)
	b = event.AppendJSONString(b, after)
	b = append(b, `,"first_available":`...)
	b = event.AppendJSONString(b, first)
	return append(b, `,"reason":"trimmed"}`...)
}

func completedJSON(jobID, status string) []byte {
	b := []byte(`{"job_id":`)
	b = event.AppendJSONString(b, jobID)
	b = append(b, `,"status":`...)
	b = event.AppendJSONString(b, status)
	return append(b, '}')
}
