package app

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/blastlog/blastlog/core/event"
	"github.com/blastlog/blastlog/core/job"
	"github.com/blastlog/blastlog/core/ticket"
	"github.com/blastlog/blastlog/ports"
	"github.com/blastlog/blastlog/ports/portstest"
)

func newTickets(t *testing.T) (*Tickets, *time.Time) {
	jobs := portstest.NewJobDirectory()
	ctx := context.Background()
	for id, owner := range map[string]string{"run-a": "alice", "run-b": "bob"} {
		if err := jobs.Register(ctx, job.Record{JobID: id, OwnerOID: owner}); err != nil {
			t.Fatal(err)
		}
	}
	now := time.Now()
	return &Tickets{
		Access: &Access{Auth: portstest.Authenticator{"tok-alice": {OID: "alice", TenantID: "t1"}, "tok-bob": {OID: "bob"}},
			Jobs: jobs},
		Store:   portstest.NewTicketStore(),
		Limiter: portstest.NewRateLimiter(),
		Now:     func() time.Time { return now },
	}, &now
}

func TestIssueAndRedeem(t *testing.T) {
	ts, _ := newTickets(t)
	ctx := context.Background()
	is, err := ts.Issue(ctx, ports.Credentials{Bearer: "tok-alice"}, "run-a")
	if err != nil {
		t.Fatal(err)
	}
	if !ticket.WellFormed(is.Ticket) || is.TTL != 30*time.Second {
		t.Fatalf("%+v", is)
	}
	rec, err := ts.Redeem(ctx, is.Ticket, "run-a")
	if err != nil || rec.OwnerOID != "alice" || rec.Tenant != "t1" {
		t.Fatalf("redeem: %+v %v", rec, err)
	}
	if _, err := ts.Redeem(ctx, is.Ticket, "run-a"); !errors.Is(err, ticket.ErrRejected) {
		t.Fatalf("second redeem: %v", err)
	}
}

func TestIssueRefusals(t *testing.T) {
	ts, _ := newTickets(t)
	ctx := context.Background()
	cases := []struct {
		name  string
		creds ports.Credentials
		job   string
		want  error
	}{
		{"anonymous", ports.Credentials{}, "run-a", ports.ErrUnauthenticated},
		{"bad token", ports.Credentials{Bearer: "nope"}, "run-a", ports.ErrUnauthenticated},
		{"unknown job", ports.Credentials{Bearer: "tok-alice"}, "run-zzz", ports.ErrNotFound},
		{"not the owner", ports.Credentials{Bearer: "tok-alice"}, "run-b", ports.ErrNotFound},
		{"bad job id", ports.Credentials{Bearer: "tok-alice"}, "a\x00b", event.ErrInvalid},
	}
	for _, c := range cases {
		if _, err := ts.Issue(ctx, c.creds, c.job); !errors.Is(err, c.want) {
			t.Errorf("%s: %v, want %v", c.name, err, c.want)
		}
	}
}

func TestRateLimitPerOwner(t *testing.T) {
	ts, _ := newTickets(t)
	ts.PerMinute = 3
	ctx := context.Background()
	for i := 0; i < 3; i++ {
		if _, err := ts.Issue(ctx, ports.Credentials{Bearer: "tok-alice"}, "run-a"); err != nil {
			t.Fatal(err)
		}
	}
	_, err := ts.Issue(ctx, ports.Credentials{Bearer: "tok-alice"}, "run-a")
	var rl *LimitedError
	if !errors.As(err, &rl) || rl.What != "tickets" || rl.RetryAfter <= 0 {
		t.Fatalf("4th: %v", err)
	}
	if _, err := ts.Issue(ctx, ports.Credentials{Bearer: "tok-bob"}, "run-b"); err != nil {
		t.Fatalf("another owner limited: %v", err)
	}
}

func TestRedeemRejectsAndConsumes(t *testing.T) {
	ts, now := newTickets(t)
	ctx := context.Background()
	issue := func() string {
		is, err := ts.Issue(ctx, ports.Credentials{Bearer: "tok-alice"}, "run-a")
		if err != nil {
			t.Fatal(err)
		}
		return is.Ticket
	}
	other := issue()
	if _, err := ts.Redeem(ctx, other, "run-b"); !errors.Is(err, ticket.ErrRejected) {
		t.Fatalf("other job: %v", err)
	}
	if _, err := ts.Redeem(ctx, other, "run-a"); !errors.Is(err, ticket.ErrRejected) {
		t.Fatal("a ticket presented for the wrong job was not consumed")
	}
	expired := issue()
	*now = now.Add(31 * time.Second)
	if _, err := ts.Redeem(ctx, expired, "run-a"); !errors.Is(err, ticket.ErrRejected) {
		t.Fatalf("expired: %v", err)
	}
	for _, bad := range []string{"", "short", "x" + issue()} {
		if _, err := ts.Redeem(ctx, bad, "run-a"); !errors.Is(err, ticket.ErrRejected) {
			t.Fatalf("%q: %v", bad, err)
		}
	}
}
