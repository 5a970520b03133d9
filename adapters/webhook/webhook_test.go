package webhook

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/blastlog/blastlog/adapters/redisstore"
	"github.com/blastlog/blastlog/adapters/redisstore/redistest"
	"github.com/blastlog/blastlog/core/app/notify"
	"github.com/blastlog/blastlog/core/diagnose"
	"github.com/blastlog/blastlog/core/event"
	"github.com/blastlog/blastlog/core/job"
	"github.com/blastlog/blastlog/ports"
)

// receiver is a webhook receiver on loopback: answer says what each request gets.
type receiver struct {
	srv    *httptest.Server
	mu     sync.Mutex
	bodies [][]byte
	hdrs   []http.Header
	at     []time.Time
	answer func(n int, w http.ResponseWriter) bool // false: not accepted
}

func newReceiver(t *testing.T, answer func(n int, w http.ResponseWriter) bool) *receiver {
	r := &receiver{answer: answer}
	r.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		b, _ := io.ReadAll(req.Body)
		r.mu.Lock()
		n := len(r.at) + 1
		r.at = append(r.at, time.Now())
		r.mu.Unlock()
		if r.answer != nil && !r.answer(n, w) {
			return
		}
		r.mu.Lock()
		r.bodies, r.hdrs = append(r.bodies, b), append(r.hdrs, req.Header.Clone())
		r.mu.Unlock()
	}))
	t.Cleanup(r.srv.Close)
	return r
}

func (r *receiver) accepted() int { r.mu.Lock(); defer r.mu.Unlock(); return len(r.bodies) }

func waitFor(t *testing.T, what string, f func() bool) {
	t.Helper()
	for deadline := time.Now().Add(20 * time.Second); !f(); time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("waited 20 s for %s", what)
		}
	}
}

func failedRun() (job.Record, *diagnose.Tracker) {
	var tr diagnose.Tracker
	tr.Add(&event.Event{ID: event.ID{MS: 1}, Source: event.SourceSystem, Notice: event.NoticeContainerEnded, Phase: event.PhaseRunning,
		Pod: "blastn-batch-s00-job-013-abc12", Container: "blast", Line: "ended: OOMKilled <b>",
		Ended: &event.Ended{ExitCode: 137, Reason: "OOMKilled", Completeness: event.Complete}, TS: time.Now()})
	return job.Record{JobID: "run-42", OwnerOID: "alice", ELBJobID: "elb-42", Status: job.Failed}, &tr
}

func run(t *testing.T, n *notify.Notifier) {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { n.Run(ctx); close(done) }()
	t.Cleanup(func() { cancel(); <-done })
}

// Two replicas race on a real Redis: the receiver gets exactly one message per run
// and kind, signed, and the signature verifies; an altered body or a replay does not.
func TestOneSignedMessageFromTwoReplicas(t *testing.T) {
	rdb := redistest.Start(t).Client(t)
	rcv := newReceiver(t, nil)
	secret := []byte("s3cret")
	var ns []*notify.Notifier
	for _, h := range []string{"replica-a", "replica-b"} {
		n := &notify.Notifier{On: []string{ports.NotifyFailed}, Leases: redisstore.NewLeases(rdb, redisstore.Config{}, "notify"),
			Holder: h, Sender: &Sender{URLs: []string{rcv.srv.URL + "/hook"}, Format: FormatJSON, Secret: secret}}
		run(t, n)
		ns = append(ns, n)
	}
	rec, tr := failedRun()
	var wg sync.WaitGroup
	for _, n := range ns {
		wg.Add(1)
		go func() { defer wg.Done(); n.Observe(rec, tr, true) }()
	}
	wg.Wait()
	waitFor(t, "the message", func() bool { return rcv.accepted() == 1 })
	time.Sleep(300 * time.Millisecond)
	if n := rcv.accepted(); n != 1 {
		t.Fatalf("%d messages", n)
	}
	body, h := rcv.bodies[0], rcv.hdrs[0]
	var m ports.Notification
	if err := json.Unmarshal(body, &m); err != nil || m.JobID != "run-42" || m.Kind != "failed" || m.State != "failed" ||
		m.OwnerOID != "alice" || m.ELBJobID != "elb-42" || len(m.Causes) != 1 || m.SentAt.IsZero() {
		t.Fatalf("%s %v", body, err)
	}
	ts, sig := h.Get(HeaderTimestamp), h.Get(HeaderSignature)
	if err := Verify(secret, ts, sig, body, time.Now()); err != nil {
		t.Fatalf("signature: %v", err)
	}
	altered := bytes.Replace(body, []byte("run-42"), []byte("run-43"), 1)
	if err := Verify(secret, ts, sig, altered, time.Now()); err == nil {
		t.Fatal("an altered body verified")
	}
	if err := Verify(secret, ts, sig, body, time.Now().Add(6*time.Minute)); err == nil {
		t.Fatal("a replay 6 minutes later verified")
	}
	if err := Verify([]byte("other"), ts, sig, body, time.Now()); err == nil {
		t.Fatal("another secret verified")
	}
}

// A receiver answering 503 twice gets the message at the third try; one answering 429
// with Retry-After: 1 is waited for; the webhook's URL (its query, its path) is never
// logged.
func TestRetriesAndRetryAfter(t *testing.T) {
	var logs bytes.Buffer
	logger := slog.New(slog.NewTextHandler(&logs, nil))
	for _, c := range []struct {
		name    string
		status  int
		header  string
		minWait time.Duration
	}{{"503", http.StatusServiceUnavailable, "", 0}, {"429 Retry-After", http.StatusTooManyRequests, "1", 2 * time.Second}} {
		t.Run(c.name, func(t *testing.T) {
			rcv := newReceiver(t, func(n int, w http.ResponseWriter) bool {
				if n <= 2 {
					if c.header != "" {
						w.Header().Set("Retry-After", c.header)
					}
					w.WriteHeader(c.status)
					return false
				}
				return true
			})
			hook := rcv.srv.URL + "/services/T000/B000/path-secret?code=query-secret"
			n := &notify.Notifier{On: []string{ports.NotifyFailed}, Leases: redisstore.NewLeases(redistest.Start(t).Client(t), redisstore.Config{}, "notify"),
				Holder: "a", RetryMin: 50 * time.Millisecond, Logger: logger, Sender: &Sender{URLs: []string{hook}, Format: FormatSlack}}
			run(t, n)
			t0 := time.Now()
			rec, tr := failedRun()
			n.Observe(rec, tr, true)
			waitFor(t, "the message", func() bool { return rcv.accepted() == 1 })
			rcv.mu.Lock()
			tries, third := len(rcv.at), rcv.at[2].Sub(t0)
			rcv.mu.Unlock()
			if tries != 3 || third < c.minWait {
				t.Fatalf("%d tries, the third after %v", tries, third)
			}
		})
	}
	if s := logs.String(); strings.Contains(s, "secret") || !strings.Contains(s, "retrying") {
		t.Fatalf("logs:\n%s", s)
	}
}

// A receiver that hangs costs its message a timeout, not the notifier its other
// receivers, and never the caller of Observe.
func TestHungReceiverHoldsUpNothingElse(t *testing.T) {
	stop := make(chan struct{})
	hung := newReceiver(t, func(int, http.ResponseWriter) bool { <-stop; return false })
	t.Cleanup(func() { close(stop) }) // before the receiver closes (cleanups run last first)
	ok := newReceiver(t, nil)
	n := &notify.Notifier{On: []string{ports.NotifyFailed}, Leases: redisstore.NewLeases(redistest.Start(t).Client(t), redisstore.Config{}, "notify"),
		Holder: "a", Sender: &Sender{URLs: []string{hung.srv.URL, ok.srv.URL}}}
	run(t, n)
	rec, tr := failedRun()
	t0 := time.Now()
	n.Observe(rec, tr, true)
	if el := time.Since(t0); el > 50*time.Millisecond {
		t.Fatalf("Observe took %v", el)
	}
	waitFor(t, "the other receiver's message", func() bool { return ok.accepted() == 1 })
	if el := time.Since(t0); el > 2*time.Second {
		t.Fatalf("the other receiver waited %v", el)
	}
}

// The Teams and Slack bodies carry the title, the headline, the causes and the link,
// with Slack's markup escaped.
// No log text leaves the system beyond the headline: a cause's message (the line it
// was found in) is in no format's body.
func TestNoLogTextInAnyBody(t *testing.T) {
	const secretLine = "Error: /shared/requests/batch_005.fa: Stale file handle token=LINE-TEXT-4711"
	var tr diagnose.Tracker
	tr.Add(&event.Event{ID: event.ID{MS: 1}, Source: event.SourceK8s, Phase: event.PhaseRunning, Pod: "blastn-batch-s00-job-005-abc12",
		Container: "blast", Line: secretLine, TS: time.Now()})
	tr.Add(&event.Event{ID: event.ID{MS: 2}, Source: event.SourceSystem, Notice: event.NoticeContainerEnded, Phase: event.PhaseRunning,
		Pod: "blastn-batch-s00-job-005-abc12", Container: "blast", Line: "ended with " + secretLine,
		Ended: &event.Ended{ExitCode: 1, Reason: "Error", Completeness: event.Complete}, TS: time.Now()})
	tr.Add(&event.Event{ID: event.ID{MS: 3}, Source: event.SourceTerminal, Phase: event.PhaseSubmitting, Line: "ERROR: " + secretLine, TS: time.Now()})
	code := 1
	tr.Add(&event.Event{ID: event.ID{MS: 4}, Source: event.SourceSystem, Notice: event.NoticeCommandEnded, Phase: event.PhaseSubmitting,
		Line: "elastic-blast exited with 1", Detail: &event.Detail{ExitCode: &code}, TS: time.Now()})
	rec := job.Record{JobID: "run-42", OwnerOID: "alice", Status: job.Failed}
	d := tr.Diagnose(diagnose.Run{Status: string(rec.Status), Now: time.Now()})
	if len(d.Causes) < 2 {
		t.Fatalf("causes %+v", d.Causes)
	}
	m := notify.NewNotification(rec, d, ports.NotifyFailed, "https://blastlog.example.org/?run=run-42")
	for _, format := range []string{FormatJSON, FormatTeams, FormatSlack} {
		b, err := Body(format, m)
		if err != nil {
			t.Fatal(err)
		}
		if strings.Contains(string(b), "LINE-TEXT-4711") || strings.Contains(string(b), "Stale file handle token") ||
			strings.Contains(string(b), `"message":`) {
			t.Errorf("%s body carries log text:\n%s", format, b)
		}
		if !strings.Contains(string(b), "shared volume") { // the hint is there
			t.Errorf("%s body lacks the hint:\n%s", format, b)
		}
	}
}

func TestFormats(t *testing.T) {
	rec, tr := failedRun()
	d := tr.Diagnose(diagnose.Run{Status: string(rec.Status), Now: time.Now()})
	m := notify.NewNotification(rec, d, ports.NotifyFailed, "https://blastlog.example.org/?run=run-42")
	m.Headline += " <x>"
	teamsBody, err := Body(FormatTeams, m)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{`"type":"message"`, `"contentType":"application/vnd.microsoft.card.adaptive"`, `"type":"AdaptiveCard"`,
		`"BLAST run run-42 failed"`, `"Action.OpenUrl"`, `"url":"https://blastlog.example.org/?run=run-42"`, "OOMKilled (exit 137)"} {
		if !strings.Contains(string(teamsBody), want) {
			t.Errorf("teams body lacks %s:\n%s", want, teamsBody)
		}
	}
	slackBody, _ := Body(FormatSlack, m)
	for _, want := range []string{`"text":"BLAST run run-42 failed: `, `"type":"header"`, `&lt;x&gt;`, `"type":"button"`, "OOMKilled (exit 137)"} {
		if !strings.Contains(string(slackBody), want) {
			t.Errorf("slack body lacks %s:\n%s", want, slackBody)
		}
	}
	if strings.Contains(string(slackBody), "<x>") {
		t.Errorf("slack markup not escaped:\n%s", slackBody)
	}
	if _, err := Body("xml", m); err == nil {
		t.Error("xml accepted")
	}
}

func TestCheckURL(t *testing.T) {
	for u, ok := range map[string]bool{"https://hooks.slack.com/services/x": true, "http://127.0.0.1:9000/h": true, "http://localhost/h": true,
		"http://[::1]:80/": true, "http://example.org/h": false, "ftp://example.org": false, "not a url": false} {
		if err := CheckURL(u); (err == nil) != ok {
			t.Errorf("%s: %v", u, err)
		}
	}
	if r := Redact("https://hooks.slack.com/services/T/B/secret?code=x"); r != "https://hooks.slack.com/…" {
		t.Fatal(r)
	}
}
