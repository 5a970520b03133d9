package httpapi

import (
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"time"
)

// Record is what the inspector keeps of one request: metadata and the first bytes of
// the response body. Never a query string (it may hold a ticket).
type Record struct {
	Method   string        `json:"method"`
	Path     string        `json:"path"`
	Status   int           `json:"status"`
	Duration time.Duration `json:"duration_ns"`
	Bytes    int64         `json:"bytes"`
	Sample   string        `json:"sample"`
}

// Inspector is debug middleware: it keeps the last Keep records and logs each at
// debug level. It never wraps, captures or buffers /api/blast/logs/ responses (streams,
// tickets), which pass to Next untouched.
type Inspector struct {
	Next        http.Handler
	Logger      *slog.Logger
	Keep        int // records kept: 200
	SampleBytes int // body sample: 1 KiB

	mu   sync.Mutex
	ring []Record
	next int
}

func (in *Inspector) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if strings.HasPrefix(r.URL.Path, LogsPrefix) {
		in.Next.ServeHTTP(w, r)
		return
	}
	max := in.SampleBytes
	if max <= 0 {
		max = 1 << 10
	}
	rw := &recordingWriter{ResponseWriter: w, max: max}
	start := time.Now()
	in.Next.ServeHTTP(rw, r)
	if rw.status == 0 {
		rw.status = http.StatusOK
	}
	rec := Record{Method: r.Method, Path: r.URL.Path, Status: rw.status, Duration: time.Since(start),
		Bytes: rw.bytes, Sample: string(rw.sample)}
	in.keep(rec)
	if in.Logger != nil {
		in.Logger.Debug("request", "method", rec.Method, "path", rec.Path, "status", rec.Status,
			"duration", rec.Duration, "bytes", rec.Bytes)
	}
}

func (in *Inspector) keep(rec Record) {
	in.mu.Lock()
	defer in.mu.Unlock()
	keep := in.Keep
	if keep <= 0 {
		keep = 200
	}
	if len(in.ring) < keep {
		in.ring = append(in.ring, rec)
		return
	}
	in.ring[in.next] = rec
	in.next = (in.next + 1) % keep
}

// Records returns the kept records, oldest first.
func (in *Inspector) Records() []Record {
	in.mu.Lock()
	defer in.mu.Unlock()
	out := make([]Record, 0, len(in.ring))
	out = append(out, in.ring[in.next:]...)
	return append(out, in.ring[:in.next]...)
}

// recordingWriter counts and samples a response. Unwrap lets http.ResponseController
// reach the real writer, so flushing and deadlines keep working through it.
type recordingWriter struct {
	http.ResponseWriter
	status int
	bytes  int64
	sample []byte
	max    int
}

func (w *recordingWriter) WriteHeader(status int) {
	if w.status == 0 {
		w.status = status
	}
	w.ResponseWriter.WriteHeader(status)
}

func (w *recordingWriter) Write(p []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	if room := w.max - len(w.sample); room > 0 {
		w.sample = append(w.sample, p[:min(room, len(p))]...)
	}
	n, err := w.ResponseWriter.Write(p)
	w.bytes += int64(n)
	return n, err
}

// Flush keeps http.Flusher for handlers that assert it directly.
func (w *recordingWriter) Flush() { http.NewResponseController(w.ResponseWriter).Flush() }

// Unwrap implements the http.ResponseController convention.
func (w *recordingWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }
