package fanout

import (
	"context"
	"errors"
	"time"

	"github.com/blastlog/blastlog/core/app/history"
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
	ID   event.ID // set on log and status frames only: the resume point (zero: none)
	Data []byte
}

// ErrCompleted ends a stream after its completed frame. It is its own sentinel: a
// read error (io.EOF from a connection, say) must never look like a finished run.
var ErrCompleted = errors.New("stream completed")

// ErrIdle is Next's answer when no frame came within the stream's Idle: the caller's
// cue for a heartbeat. The stream is unchanged; call Next again.
var ErrIdle = errors.New("stream idle")

// streamState is where a stream is in its life; each has one step in Next.
type streamState uint8

const (
	// catchingUp: reading the read path (archive, then stream) until its end.
	catchingUp streamState = iota
	// live: taking the hub's events; a viewer that lagged goes back to catchingUp.
	live
	// draining: the run ended; read the log to its end once, then complete.
	draining
	// ending: drained; the completed frame is next.
	ending
	// done: the completed frame was returned.
	done
)

// Stream is one viewer's ordered view of a run: every event strictly after its
// resume point, each exactly once, then completed once the run is finished and
// drained. It reads the read path itself while behind and takes the hub's live
// events otherwise.
type Stream struct {
	hub    *Hub
	sub    *Subscription
	jobID  string
	state  streamState
	after  event.ID // the last event delivered; the zero id before the first
	frames []Frame  // Next's answer, reused: one viewer's delivery allocates nothing
	idle   *time.Timer

	// Idle, if set, is how long Next waits for a live frame before it returns ErrIdle.
	Idle time.Duration
	// OnCatchUp and OnGap observe (metrics); may be nil.
	OnCatchUp func()
	OnGap     func()
}

// Open starts a stream after after (the zero id: from the run's first event).
func (h *Hub) Open(ctx context.Context, jobID string, after event.ID) (*Stream, error) {
	st := &Stream{hub: h, jobID: jobID, state: catchingUp, after: after}
	sub, err := h.Subscribe(ctx, jobID)
	if err != nil {
		return nil, err
	}
	st.sub = sub
	return st, nil
}

// Close releases the stream's subscription.
func (s *Stream) Close() {
	s.sub.Close()
	if s.idle != nil {
		s.idle.Stop()
	}
}

// Next returns the next frames, at most max log frames, waiting until there is one,
// Idle passed (ErrIdle) or ctx ends (ctx.Err() is returned then, with no frames).
// After the completed frame it returns ErrCompleted. The frames are valid until the
// next call.
func (s *Stream) Next(ctx context.Context, max int) ([]Frame, error) {
	frames, err := s.next(ctx, max)
	switch {
	case frames == nil:
	case cap(frames) <= keptFrames:
		s.frames = frames[:0]
	default:
		s.frames = nil // an idle viewer should not keep a catch-up's page
	}
	return frames, err
}

// keptFrames is the largest answer whose array Next keeps for the next one.
const keptFrames = 32

func (s *Stream) next(ctx context.Context, max int) ([]Frame, error) {
	var idle <-chan time.Time
	if s.Idle > 0 {
		if s.idle == nil {
			s.idle = time.NewTimer(s.Idle)
		} else {
			s.idle.Reset(s.Idle)
		}
		idle = s.idle.C
	}
	for {
		if s.state == done {
			return nil, ErrCompleted
		}
		if s.sub.Lagging() {
			// Live events were dropped for this viewer: read them from the log.
			s.state = catchingUp
			if s.OnCatchUp != nil {
				s.OnCatchUp()
			}
		}
		switch s.state {
		case catchingUp, draining:
			frames, end, err := s.read(ctx, max)
			if err != nil || !end {
				return frames, err
			}
			if s.state == draining {
				s.state = ending
			} else {
				s.state = live
			}
			if len(frames) > 0 {
				return frames, nil
			}
		case ending:
			return append(s.frames, s.complete(s.sub.Terminal())), nil
		case live:
			if t := s.sub.Terminal(); t != nil {
				if s.after.Compare(t.LastID) < 0 {
					// The hub may not have read the tail yet: read the log to its end
					// once. (If the log lost those entries meanwhile, complete anyway.)
					s.state = draining
					continue
				}
				return append(s.frames, s.complete(t)), nil
			}
			select {
			case <-ctx.Done():
				return nil, ctx.Err()
			case d := <-s.sub.C:
				if frames := s.takeLive(d, max); len(frames) > 0 {
					return frames, nil
				}
			case <-s.sub.Done():
				s.state = draining
			case <-idle:
				return nil, ErrIdle
			}
		}
	}
}

// complete is the completed frame.
func (s *Stream) complete(t *Terminal) Frame {
	s.state = done
	return Frame{Kind: FrameCompleted, Data: completedJSON(s.jobID, string(t.Status))}
}

// takeLive takes d and whatever else is queued, up to max.
func (s *Stream) takeLive(d *Delivery, max int) []Frame {
	frames := s.take(s.frames, d)
	for len(frames) < max {
		select {
		case d := <-s.sub.C:
			frames = s.take(frames, d)
			continue
		default:
		}
		break
	}
	return frames
}

func (s *Stream) take(frames []Frame, d *Delivery) []Frame {
	if d.Event.ID.Compare(s.after) <= 0 {
		return frames // already delivered from the read path
	}
	s.after = d.Event.ID
	return append(frames, Frame{Kind: kindOf(&d.Event), ID: d.Event.ID, Data: d.JSON})
}

// read takes up to max events after the resume point from the read path; end is true
// once it has nothing more.
func (s *Stream) read(ctx context.Context, max int) (frames []Frame, end bool, err error) {
	// The read runs on a goroutine of its own while this one waits. A read through
	// Redis takes an 8 KB stack or more; a stream's goroutine spends its life waiting
	// in 1 KB, and the stack it grew once would stay with the process: at 10,000 idle
	// viewers, 4 KB of stacks per viewer less.
	var p history.Page
	done := make(chan struct{})
	go func() { p, err = s.hub.history().Read(ctx, s.jobID, s.after, max); close(done) }()
	<-done
	if err != nil {
		return nil, false, err
	}
	frames = s.frames
	if p.Gap != nil {
		frames = append(frames, Frame{Kind: FrameGap, Data: p.Gap.AppendJSON(nil)})
		if s.OnGap != nil {
			s.OnGap()
		}
	}
	for i := range p.Events {
		e := &p.Events[i]
		if e.ID.IsZero() {
			continue // not a stored event: nothing to resume at
		}
		s.after = e.ID
		frames = append(frames, Frame{Kind: kindOf(e), ID: e.ID, Data: e.AppendJSON(nil)})
	}
	return frames, p.End, nil
}

func kindOf(e *event.Event) FrameKind {
	if e.Source == event.SourceSystem && e.Notice != "" {
		return FrameStatus
	}
	return FrameLog
}

func completedJSON(jobID, status string) []byte {
	b := []byte(`{"job_id":`)
	b = event.AppendJSONString(b, jobID)
	b = append(b, `,"status":`...)
	b = event.AppendJSONString(b, status)
	return append(b, '}')
}
