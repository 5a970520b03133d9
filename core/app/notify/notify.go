package notify

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/blastlog/blastlog/core/diagnose"
	"github.com/blastlog/blastlog/core/job"
	"github.com/blastlog/blastlog/ports"
)

// Kinds lists them; DefaultKinds are BLASTLOG_NOTIFY_ON's default.
var (
	Kinds        = []string{ports.NotifyFailed, ports.NotifyStuck, ports.NotifyOOMKilled, ports.NotifySucceeded, ports.NotifyIdle}
	DefaultKinds = []string{ports.NotifyFailed, ports.NotifyStuck, ports.NotifyIdle}
)

// Limits.
const (
	MaxCauses   = 3                   // causes a message carries
	QueueSize   = 1024                // news waiting to be sent, all runs
	MaxRetryFor = time.Hour           // how long a message is retried
	KeepSent    = 30 * 24 * time.Hour // how long "sent" is remembered
	sending     = 2 * time.Minute     // the lease while sending, renewed while retrying
	retryMax    = 5 * time.Minute
	// DefaultRetryMin is Notifier.RetryMin's default.
	DefaultRetryMin = time.Second
)

// NewNotification is the notification of kind about a run in diagnosis d: the
// headline and the first MaxCauses causes, without their messages. An idle one's
// headline says the cluster is still up, and it has no causes.
func NewNotification(rec job.Record, d diagnose.Diagnosis, kind, url string) ports.Notification {
	m := ports.Notification{JobID: rec.JobID, OwnerOID: rec.OwnerOID, ELBJobID: rec.ELBJobID, State: d.State, Kind: kind,
		Headline: d.Headline, Causes: []ports.NotificationCause{}, URL: url}
	if kind == ports.NotifyIdle && d.ClusterIdle != nil {
		m.Headline, m.ClusterIdle = d.ClusterIdle.Text, d.ClusterIdle
		return m
	}
	for _, c := range d.Causes[:min(MaxCauses, len(d.Causes))] {
		m.Causes = append(m.Causes, ports.NotificationCause{Kind: c.Kind, Step: c.Step, Batch: c.Batch, Pod: c.Pod, Container: c.Container,
			Reason: c.Reason, ExitCode: c.ExitCode, Limit: c.Limit, Hint: c.Hint})
	}
	return m
}

// Metrics are told of what happens to messages.
type Metrics struct {
	Sent     func(kind string)
	Failures func(kind string) // a failed attempt (retried or not)
	Dropped  func()            // news refused by a full queue (seen again at the next check)
}

// Notifier decides what is news and sends it. Set its fields, then call Run.
type Notifier struct {
	On        []string // kinds to send
	Sender    ports.NotificationSender
	Leases    ports.Leases
	Holder    string // this replica, in the leases
	PublicURL string // the page's base URL: a message links to /?run=<job>
	// StuckAfter is the diagnosis's (BLASTLOG_STUCK_AFTER).
	StuckAfter time.Duration
	// RetryMin is the first wait after a failed attempt, doubling up to 5 min:
	// DefaultRetryMin.
	RetryMin time.Duration
	Metrics  Metrics
	Logger   *slog.Logger
	Now      func() time.Time

	once  sync.Once
	qmu   sync.Mutex
	queue chan delivery
	mu    sync.Mutex
	// until: a run/kind is not queued again before this time: far ahead once it is
	// queued here, the lease's span when another replica holds its lease.
	until map[string]time.Time
}

func (n *Notifier) init() {
	n.once.Do(func() {
		n.queue = make(chan delivery, QueueSize)
		n.until = map[string]time.Time{}
		if n.Logger == nil {
			n.Logger = slog.New(slog.DiscardHandler)
		}
		if n.Now == nil {
			n.Now = time.Now
		}
	})
}

// News are the kinds a diagnosis tells of: its state (failed, stuck, succeeded), an
// OOMKilled batch or container, and its cluster left running (idle).
func News(d diagnose.Diagnosis) []string {
	var kinds []string
	switch d.State {
	case diagnose.StateFailed:
		kinds = append(kinds, ports.NotifyFailed)
	case diagnose.StateStuck:
		kinds = append(kinds, ports.NotifyStuck)
	case diagnose.StateSucceeded:
		kinds = append(kinds, ports.NotifySucceeded)
	}
	if slices.ContainsFunc(d.Causes, func(c diagnose.Cause) bool { return c.Reason == "OOMKilled" }) {
		kinds = append(kinds, ports.NotifyOOMKilled)
	}
	if d.ClusterIdle != nil {
		kinds = append(kinds, ports.NotifyIdle)
	}
	return kinds
}

// Observe takes a run's record and diagnosis tracker as the archiver sees it now and
// queues what is news and wanted. It never blocks: a full queue drops the news, which
// the next observation (2 s later) offers again. final: the run is over and every
// line of it is in the tracker (terminal news waits for that, so that its causes are
// complete).
func (n *Notifier) Observe(rec job.Record, t *diagnose.Tracker, final bool) {
	n.init()
	d := t.Diagnose(diagnose.Run{Status: string(rec.Status), Now: n.Now(), StuckAfter: n.StuckAfter})
	for _, kind := range News(d) {
		if !slices.Contains(n.On, kind) || (kind == ports.NotifyFailed || kind == ports.NotifySucceeded) && !final {
			continue
		}
		key := rec.JobID + "/" + kind
		n.mu.Lock()
		later := n.Now().Before(n.until[key])
		n.mu.Unlock()
		if later {
			continue
		}
		n.enqueue(key, NewNotification(rec, d, kind, n.link(rec.JobID)))
	}
}

// enqueue queues m for every receiver, or (the queue full) for none.
func (n *Notifier) enqueue(key string, m ports.Notification) {
	n.qmu.Lock() // one enqueuer at a time: the room it saw is there when it sends
	defer n.qmu.Unlock()
	if len(n.queue)+n.Sender.Receivers() > cap(n.queue) {
		if n.Metrics.Dropped != nil {
			n.Metrics.Dropped()
		}
		return
	}
	n.hold(key, KeepSent)
	for i := range n.Sender.Receivers() {
		n.queue <- delivery{m, i}
	}
}

// delivery is a message for one receiver.
type delivery struct {
	ports.Notification
	receiver int
}

// hold keeps a run/kind from being queued again for d; the memory is bounded (past
// it, everything is forgotten: the leases still say what was sent).
func (n *Notifier) hold(key string, d time.Duration) {
	n.mu.Lock()
	defer n.mu.Unlock()
	if len(n.until) >= 4*QueueSize {
		clear(n.until)
	}
	n.until[key] = n.Now().Add(d)
}

func (n *Notifier) link(jobID string) string {
	if n.PublicURL == "" {
		return ""
	}
	return strings.TrimSuffix(n.PublicURL, "/") + "/?run=" + url.QueryEscape(jobID)
}

// Run sends queued messages until ctx ends, a few at a time so that a receiver that
// hangs holds up only its own.
func (n *Notifier) Run(ctx context.Context) {
	n.init()
	var wg sync.WaitGroup
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-ctx.Done():
					return
				case d := <-n.queue:
					n.deliver(ctx, d)
				}
			}
		}()
	}
	wg.Wait()
}

// deliver sends m once across replicas: the lease of its run and kind is taken (or it
// is someone else's, sent or being sent), held while retrying, kept once sent.
func (n *Notifier) deliver(ctx context.Context, d delivery) {
	m := d.Notification
	key := "notify:" + m.JobID + ":" + m.Kind + ":" + strconv.Itoa(d.receiver)
	mk := m.JobID + "/" + m.Kind
	ok, err := n.Leases.Acquire(ctx, key, n.Holder, sending)
	if err != nil {
		n.Logger.Warn("notify: the run's marker could not be read; the next check tries again", "job_id", m.JobID, "kind", m.Kind, "error", err)
		n.hold(mk, 0)
		return
	}
	if !ok {
		// Another replica sent it or is sending it; should that one die, its lease
		// lapses, and this one looks again then.
		n.hold(mk, sending)
		return
	}
	deadline := n.Now().Add(MaxRetryFor)
	for attempt := 1; ; attempt++ {
		m.SentAt = n.Now().UTC()
		err := n.Sender.Send(ctx, d.receiver, m)
		if err == nil {
			n.Leases.Acquire(ctx, key, n.Holder, KeepSent)
			if n.Metrics.Sent != nil {
				n.Metrics.Sent(m.Kind)
			}
			return
		}
		if n.Metrics.Failures != nil {
			n.Metrics.Failures(m.Kind)
		}
		var re *ports.RetryError
		wait := n.backoff(attempt)
		if errors.As(err, &re) && re.After > 0 {
			wait = min(re.After, retryMax)
		}
		if re == nil || n.Now().Add(wait).After(deadline) || ctx.Err() != nil {
			n.Logger.Warn("notify: giving up on a message", "job_id", m.JobID, "kind", m.Kind, "attempts", attempt, "error", err)
			n.Leases.Acquire(ctx, key, n.Holder, KeepSent) // not again: it would fail the same way
			return
		}
		n.Logger.Info("notify: sending failed; retrying", "job_id", m.JobID, "kind", m.Kind, "attempt", attempt, "in", wait, "error", err)
		if !n.keep(ctx, key, wait) {
			return
		}
	}
}

// keep waits d, keeping the lease; false when ctx ended or the lease was lost.
func (n *Notifier) keep(ctx context.Context, key string, d time.Duration) bool {
	end := time.Now().Add(d)
	for {
		left := time.Until(end)
		if left <= 0 {
			return true
		}
		t := time.NewTimer(min(left, sending/2))
		select {
		case <-ctx.Done():
			t.Stop()
			return false
		case <-t.C:
		}
		if ok, err := n.Leases.Renew(ctx, key, n.Holder, sending); err == nil && !ok {
			return false
		}
	}
}

// backoff is the wait after the attempt-th failure: doubling from RetryMin up to
// retryMax, a random point in its upper half.
func (n *Notifier) backoff(attempt int) time.Duration {
	lo := n.RetryMin
	if lo <= 0 {
		lo = DefaultRetryMin
	}
	ceil := retryMax
	if attempt < 20 {
		ceil = min(retryMax, lo<<(attempt-1))
	}
	return ceil/2 + rand.N(ceil/2+1)
}

// ParseKinds parses BLASTLOG_NOTIFY_ON's comma list.
func ParseKinds(s string) ([]string, error) {
	var out []string
	for _, k := range strings.Split(s, ",") {
		if k = strings.TrimSpace(k); k == "" {
			continue
		}
		if !slices.Contains(Kinds, k) {
			return nil, fmt.Errorf("%q is not one of failed, stuck, oomkilled, succeeded, idle", k)
		}
		if !slices.Contains(out, k) {
			out = append(out, k)
		}
	}
	return out, nil
}
