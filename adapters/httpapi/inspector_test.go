package httpapi

import (
	"bufio"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
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
	in := &Inspector{Next: mux, SampleBytes: 100}
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
	recs := in.Records()
	if len(recs) != 2 {
		t.Fatalf("records %+v", recs)
	}
	h := recs[0]
	if h.Path != "/healthz" || h.Status != http.StatusTeapot || h.Bytes != 5000 || len(h.Sample) != 100 || h.Method != "GET" {
		t.Fatalf("record %+v", h)
	}
	for _, rec := range recs {
		if strings.Contains(rec.Path, "SECRET") || strings.Contains(rec.Path, "?") {
			t.Fatalf("query captured: %+v", rec)
		}
	}
}

func TestInspectorRingIsBounded(t *testing.T) {
	in := &Inspector{Next: http.NotFoundHandler(), Keep: 3}
	for _, p := range []string{"/a", "/b", "/c", "/d", "/e"} {
		in.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("GET", p, nil))
	}
	var paths []string
	for _, r := range in.Records() {
		paths = append(paths, r.Path)
	}
	if strings.Join(paths, ",") != "/c,/d,/e" {
		t.Fatalf("%v", paths)
	}
}
