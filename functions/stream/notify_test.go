package main

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/blastlog/blastlog/adapters/webhook"
	"github.com/blastlog/blastlog/core/app/notify"
)

// hook is a webhook receiver on loopback that keeps what it got and when.
type hook struct {
	srv  *httptest.Server
	mu   sync.Mutex
	msgs []notify.Message
	at   []time.Time
}

func newHook(t *testing.T) *hook {
	h := &hook{}
	h.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		if webhook.Verify([]byte("hook-secret"), r.Header.Get(webhook.HeaderTimestamp), r.Header.Get(webhook.HeaderSignature), b, time.Now()) != nil {
			http.Error(w, "bad signature", http.StatusUnauthorized)
			return
		}
		var m notify.Message
		json.Unmarshal(b, &m)
		h.mu.Lock()
		h.msgs, h.at = append(h.msgs, m), append(h.at, time.Now())
		h.mu.Unlock()
	}))
	t.Cleanup(h.srv.Close)
	return h
}

func (h *hook) got() []notify.Message {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]notify.Message(nil), h.msgs...)
}

// A failed run tells the webhook once, signed, with a link to its page, however many
// replicas archive; a succeeded run is not news by default. Reported: the time from
// the terminal status to the receiver (median of the runs).
func TestFailedRunNotifiesOnce(t *testing.T) {
	s := newStack(t)
	h := newHook(t)
	dir := t.TempDir()
	env := map[string]string{"BLASTLOG_NOTIFY_URLS": h.srv.URL + "/hook", "BLASTLOG_NOTIFY_SECRET": "hook-secret",
		"BLASTLOG_PUBLIC_URL": "https://blastlog.example.org"}
	s.archived(t, dir, env)
	s.archived(t, dir, env) // a second replica
	const runs = 5
	var ended []time.Time
	for i := 0; i < runs; i++ {
		run := fmt.Sprintf("run-n%d", i)
		s.publish(t, "", "job", "register", "--job", run, "--owner", owner)
		s.publish(t, numbered(20, 0), "lines", "--job", run, "--phase", "running")
		status := "failed"
		if i == runs-1 {
			status = "completed"
		}
		ended = append(ended, time.Now())
		s.publish(t, "", "job", "status", "--job", run, "--status", status)
	}
	deadline := time.Now().Add(30 * time.Second)
	for len(h.got()) < runs-1 && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	time.Sleep(3 * time.Second) // a second message would come within a check or two
	got := h.got()
	if len(got) != runs-1 {
		t.Fatalf("%d messages for %d failed runs: %+v", len(got), runs-1, got)
	}
	var lat []time.Duration
	for _, m := range got {
		i := 0
		fmt.Sscanf(m.JobID, "run-n%d", &i)
		if m.Kind != notify.KindFailed || m.State != "failed" || m.URL != "https://blastlog.example.org/?run="+m.JobID ||
			m.OwnerOID != owner || !strings.Contains(m.Headline, "failed") || i >= runs-1 {
			t.Fatalf("%+v", m)
		}
		h.mu.Lock()
		for j, mm := range h.msgs {
			if mm.JobID == m.JobID {
				lat = append(lat, h.at[j].Sub(ended[i]))
			}
		}
		h.mu.Unlock()
	}
	sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
	t.Logf("terminal status to the receiver: median %v, max %v", lat[len(lat)/2], lat[len(lat)-1])
}
