package app

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/blastlog/blastlog/core/app/fanout"
	"github.com/blastlog/blastlog/core/event"
	"github.com/blastlog/blastlog/core/ticket"
	"github.com/blastlog/blastlog/ports"
	"github.com/blastlog/blastlog/ports/portstest"
)

// Opening a stream: a bad resume point is refused before the ticket is spent; past the
// owner's limit the ticket is kept for later; an opened run is told to Viewing; a
// ticket opens one stream only.
func TestStreamsOpen(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	ts, _ := newTickets(t)
	log := portstest.NewEventLog(0)
	portstest.Append(t, log, "run-a", "first")
	jobs := ts.Access.Jobs.(*portstest.JobDirectory)
	hub := &fanout.Hub{Log: log, Tail: log, Statuses: jobs, Config: fanout.HubConfig{Block: 10 * time.Millisecond}}
	go hub.Run(ctx)
	arch := &watched{}
	s := &Streams{Tickets: ts, Limit: NewStreamLimit(1), Hub: hub, Viewing: &Viewing{Statuses: jobs, Archiver: arch}}
	issue := func() string {
		is, err := ts.Issue(ctx, ports.Credentials{Bearer: "tok-alice"}, "run-a")
		if err != nil {
			t.Fatal(err)
		}
		return is.Ticket
	}
	first := issue()
	if _, err := ParseResume("not-an-id"); !errors.Is(err, ErrBadResume) {
		t.Fatalf("a bad resume point: %v", err)
	}
	if id, err := ParseResume("5-1"); err != nil || id != (event.ID{MS: 5, Seq: 1}) {
		t.Fatalf("a resume point: %v %v", id, err)
	}
	if id, err := ParseResume(""); err != nil || !id.IsZero() {
		t.Fatalf("no resume point: %v %v", id, err)
	}
	st, release, err := s.Open(ctx, first, "run-a", event.ID{})
	if err != nil {
		t.Fatalf("the first stream: %v", err)
	}
	second := issue()
	var lim *LimitedError
	if _, _, err := s.Open(ctx, second, "run-a", event.ID{}); !errors.As(err, &lim) || lim.What != "streams" || lim.RetryAfter != StreamRetryAfter {
		t.Fatalf("over the limit: %v", err)
	}
	st.Close()
	release()
	st2, release2, err := s.Open(ctx, second, "run-a", event.ID{})
	if err != nil {
		t.Fatalf("the kept ticket once a place is free: %v", err)
	}
	defer release2()
	defer st2.Close()
	if _, _, err := s.Open(ctx, first, "run-a", event.ID{}); !errors.Is(err, ticket.ErrRejected) {
		t.Fatalf("a spent ticket: %v", err)
	}
	if len(*arch) != 2 || (*arch)[0] != "run-a" || (*arch)[1] != "run-a" {
		t.Fatalf("the archiver was told of %v, want run-a twice", *arch)
	}
}
