package httpapi

import (
	"log/slog"
	"net/http"
	"strings"
	"time"
)

// Inspector is debug middleware: it logs each request's metadata (method, path
// without its query — it may hold a ticket —, status, duration, bytes) at debug level.
// It never wraps, captures or buffers /api/blast/logs/ responses (streams, tickets),
// which pass to Next untouched, and it keeps nothing in memory.
type Inspector struct {
	Next   http.Handler
	Logger *slog.Logger
}

func (in *Inspector) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if strings.HasPrefix(r.URL.Path, LogsPrefix) || in.Logger == nil || !in.Logger.Enabled(r.Context(), slog.LevelDebug) {
		in.Next.ServeHTTP(w, r)
		return
	}
	rw := &recordingWriter{ResponseWriter: w}
	start := time.Now()
	in.Next.ServeHTTP(rw, r)
	if rw.status == 0 {
		rw.status = http.StatusOK
	}
	in.Logger.Debug("request", "method", r.Method, "path", r.URL.Path, "status", rw.status,
		"duration", time.Since(start), "bytes", rw.bytes)
}

// recordingWriter counts a response. Unwrap lets http.ResponseController
// reach the real writer, so flushing and deadlines keep working through it.
type recordingWriter struct {
	http.ResponseWriter
	status int
	bytes  int64
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
	n, err := w.ResponseWriter.Write(p)
	w.bytes += int64(n)
	return n, err
}

// Flush keeps http.Flusher for handlers that assert it directly.
func (w *recordingWriter) Flush() { http.NewResponseController(w.ResponseWriter).Flush() }

// Unwrap implements the http.ResponseController convention.
func (w *recordingWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }
