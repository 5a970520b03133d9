package httpapi

import (
	"bufio"
	"bytes"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"
)

func TestInspectorSkipsStreamsAndKeepsFlusher(t *testing.T) {
	release := make(chan struct{})
	mux := http.NewServeMux()
	mux.HandleFunc("/api/blast/logs/run/events", func(w http.ResponseWriter, r *http.Request) {
		if _, wrapped := w.(*recordingWriter); wrapped {
			t.Error("the SSE response was wrapped")
		}
		w.Header().Set("Content-Type", "text/event-stream")
		io.WriteString(w, "data: first\n\n")
		w.(http.Flusher).Flush()
		<-release // the client must see the first frame before the handler returns
		io.WriteString(w, "data: second\n\n")
	})
	mux.HandleFunc("/healthz", func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusTeapot)
		io.WriteString(w, strings.Repeat("b", 5000))
	})
	mux.HandleFunc("/flush", func(w http.ResponseWriter, r *http.Request) {
		if err := http.NewResponseController(w).Flush(); err != nil {
			t.Errorf("ResponseController cannot flush through the inspector: %v", err)
		}
		w.(http.Flusher).Flush()
	})
	logs := &syncBuf{}
	in := &Inspector{Next: mux, Logger: slog.New(slog.NewJSONHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))}
	srv := httptest.NewServer(in)
	defer srv.Close()

	res, err := http.Get(srv.URL + "/api/blast/logs/run/events?ticket=SECRET")
	if err != nil {
		t.Fatal(err)
	}
	r := bufio.NewReader(res.Body)
	got := make(chan string, 1)
	go func() { l, _ := r.ReadString('\n'); got <- l }()
	select {
	case l := <-got:
		if l != "data: first\n" {
			t.Fatalf("first line %q", l)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("the stream was buffered")
	}
	close(release)
	res.Body.Close()

	for _, p := range []string{"/healthz?token=SECRET", "/flush"} {
		res, err := http.Get(srv.URL + p)
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, res.Body)
		res.Body.Close()
	}
	logged := logs.String()
	if strings.Count(logged, `"msg":"request"`) != 2 || !strings.Contains(logged, `"path":"/healthz","status":418`) ||
		!strings.Contains(logged, `"bytes":5000`) {
		t.Fatalf("logged %s", logged)
	}
	if strings.Contains(logged, "SECRET") || strings.Contains(logged, "?") || strings.Contains(logged, "bbbb") {
		t.Fatalf("a query or a body was logged: %s", logged)
	}
}

type syncBuf struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuf) Write(p []byte) (int, error) { s.mu.Lock(); defer s.mu.Unlock(); return s.b.Write(p) }
func (s *syncBuf) String() string              { s.mu.Lock(); defer s.mu.Unlock(); return s.b.String() }
