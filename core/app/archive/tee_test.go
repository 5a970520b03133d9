package archive_test

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	"github.com/blastlog/blastlog/core/app/fanout"
	"github.com/blastlog/blastlog/core/event"
	"github.com/blastlog/blastlog/core/job"
	"github.com/blastlog/blastlog/ports/portstest"
)

// countingTail counts the events the archiver's own reads return.
type countingTail struct {
	*portstest.EventLog
	events atomic.Int64
}

func (c *countingTail) Tail(ctx context.Context, after map[string]event.ID, count int, block time.Duration) (map[string][]event.Event, error) {
	res, err := c.EventLog.Tail(ctx, after, count, block)
	for _, evs := range res {
		c.events.Add(int64(len(evs)))
	}
	return res, err
}

// A run that viewers watch is read once: the fan-out hands its batches to the
// archiver (Offer), which stops reading the run itself while they come, and the
// archive is still every event once, in order.
func TestAViewedRunIsReadOnce(t *testing.T) {
	s := newStack()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	s.jobs.Register(ctx, job.Record{JobID: "seen", OwnerOID: "o", Status: job.Running})
	own := &countingTail{EventLog: s.log}
	a := s.archiver("a")
	a.Tail = own
	hub := &fanout.Hub{Log: s.log, Tail: s.log, Statuses: s.jobs, Tee: a, Config: fanout.HubConfig{Block: 10 * time.Millisecond}}
	go hub.Run(ctx)
	st, err := hub.Open(ctx, "seen", event.ID{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	go a.Run(ctx)
	a.Watch("seen")
	const rounds, per = 40, 50
	for i := range rounds {
		s.write(t, "seen", i*per, per, event.PhaseRunning)
		time.Sleep(15 * time.Millisecond)
	}
	s.jobs.SetStatus(ctx, "seen", job.Completed)
	s.waitComplete(t, "seen")
	checkSequence(t, readAll(t, s.reader(), "seen"), rounds*per)
	t.Logf("own reads: %d of %d", own.events.Load(), rounds*per)
	if n := own.events.Load(); n > rounds*per/2 {
		t.Fatalf("the archiver read %d of the %d events itself", n, rounds*per)
	}
}
