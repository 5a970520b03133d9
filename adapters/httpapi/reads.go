package httpapi

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
	"unicode"

	"github.com/klauspost/compress/gzip"

	"github.com/blastlog/blastlog/core/app"
	"github.com/blastlog/blastlog/core/event"
)

// readWriteTimeout bounds each write of a read response: a client that stops reading
// is dropped instead of holding the handler (and its buffers) forever.
const readWriteTimeout = 30 * time.Second

// getOnly answers 405 for anything but GET; false means it did.
func getOnly(w http.ResponseWriter, r *http.Request) bool {
	if r.Method == http.MethodGet {
		return true
	}
	w.Header().Set("Allow", http.MethodGet)
	writeJSON(w, http.StatusMethodNotAllowed, errorBody{Error: "method_not_allowed", Message: "use GET"})
	return false
}

// badRequest answers 400 with code and message.
func badRequest(w http.ResponseWriter, code, msg string) {
	w.Header().Set("Cache-Control", "no-store")
	writeJSON(w, http.StatusBadRequest, errorBody{Error: code, Message: msg})
}

// limitParam reads an optional limit: a whole number from 1 to max; ok is false when
// it answered 400 (below 1 and above max alike: nothing is capped silently).
func limitParam(w http.ResponseWriter, q url.Values, max int) (int, bool) {
	v := q.Get("limit")
	if v == "" {
		return 0, true
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 1 || n > max {
		badRequest(w, "bad_limit", "limit must be a whole number from 1 to "+strconv.Itoa(max))
		return 0, false
	}
	return n, true
}

// readFailed answers a read use case's error.
func (s *Server) readFailed(w http.ResponseWriter, r *http.Request, what string, err error) {
	switch {
	case errors.Is(err, event.ErrBadID):
		badRequest(w, "bad_request", "an id parameter is not a stream id")
		return
	case errors.Is(err, app.ErrBadQuery):
		badRequest(w, "bad_request", strings.TrimPrefix(err.Error(), app.ErrBadQuery.Error()+": "))
		return
	}
	status, code := writeError(w, err)
	if status >= 500 {
		s.log.Error(what+" failed", "job_id", loggedJobID(r.PathValue("job_id")), "status", status, "reason", code, "error", err)
	}
}

// writeRead answers 200 with v, under the write deadline of read responses.
func writeRead(w http.ResponseWriter, v any) {
	w.Header().Set("Cache-Control", "no-store")
	http.NewResponseController(w).SetWriteDeadline(time.Now().Add(readWriteTimeout))
	writeJSON(w, http.StatusOK, v)
}

// snapshot serves GET /api/blast/logs/{job_id}/snapshot?after=ID|before=ID|around=ID&limit=N.
func (s *Server) snapshot(w http.ResponseWriter, r *http.Request) {
	if !getOnly(w, r) {
		return
	}
	q := r.URL.Query()
	limit, ok := limitParam(w, q, app.SnapshotMaxLimit)
	if !ok {
		return
	}
	rec, release, err := s.Reads.Admit(r.Context(), credentials(r), r.PathValue("job_id"))
	if err != nil {
		s.readFailed(w, r, "snapshot", err)
		return
	}
	defer release()
	snap, err := s.Reads.Snapshot(r.Context(), rec,
		app.SnapshotQuery{After: q.Get("after"), Before: q.Get("before"), Around: q.Get("around"), Limit: limit})
	if errors.Is(err, event.ErrBadID) {
		badRequest(w, "bad_after", "after, before or around is not a stream id")
		return
	}
	if err != nil {
		s.readFailed(w, r, "snapshot", err)
		return
	}
	writeRead(w, snap)
}

// summary serves GET /api/blast/logs/{job_id}/summary.
func (s *Server) summary(w http.ResponseWriter, r *http.Request) {
	if !getOnly(w, r) {
		return
	}
	rec, release, err := s.Reads.Admit(r.Context(), credentials(r), r.PathValue("job_id"))
	if err != nil {
		s.readFailed(w, r, "summary", err)
		return
	}
	defer release()
	sum, err := s.Reads.Summary(r.Context(), rec)
	if err != nil {
		s.readFailed(w, r, "summary", err)
		return
	}
	writeRead(w, sum)
}

// runs serves GET /api/blast/runs?limit=N.
func (s *Server) runs(w http.ResponseWriter, r *http.Request) {
	limit, ok := limitParam(w, r.URL.Query(), app.RunsMaxLimit)
	if !ok {
		return
	}
	runs, err := s.Reads.Runs(r.Context(), credentials(r), limit)
	if err != nil {
		s.readFailed(w, r, "run list", err)
		return
	}
	writeRead(w, map[string]any{"runs": runs})
}

// search serves GET /api/blast/logs/{job_id}/search?q=...
func (s *Server) search(w http.ResponseWriter, r *http.Request) {
	if !getOnly(w, r) {
		return
	}
	q := r.URL.Query()
	limit, ok := limitParam(w, q, app.SearchMaxLimit)
	if !ok {
		return
	}
	sq := app.SearchQuery{Q: q.Get("q"), Phase: q.Get("phase"), Pod: q.Get("pod"), Stream: q.Get("stream"),
		After: q.Get("after"), Limit: limit}
	switch q.Get("issues") {
	case "", "0", "false":
	case "1", "true":
		sq.Issues = true
	default:
		badRequest(w, "bad_request", "issues must be 1 or 0")
		return
	}
	if err := sq.Validate(); err != nil {
		s.readFailed(w, r, "search", err)
		return
	}
	rec, release, err := s.Reads.AdmitHeavy(r.Context(), credentials(r), r.PathValue("job_id"))
	if err != nil {
		s.readFailed(w, r, "search", err)
		return
	}
	defer release()
	if err := s.Reads.CheckPhase(r.Context(), rec, sq.Phase); err != nil {
		s.readFailed(w, r, "search", err)
		return
	}
	res, err := s.Reads.Search(r.Context(), rec.JobID, sq)
	if err != nil {
		s.readFailed(w, r, "search", err)
		return
	}
	writeRead(w, res)
}

// download serves GET /api/blast/logs/{job_id}/download?format=text|ndjson[&phase=P]:
// streamed page by page, gzip when the client accepts it, every write under a
// deadline.
func (s *Server) download(w http.ResponseWriter, r *http.Request) {
	if !getOnly(w, r) {
		return
	}
	q := r.URL.Query()
	dq := app.DownloadQuery{Format: q.Get("format"), Phase: q.Get("phase")}
	if err := dq.Validate(); err != nil {
		s.readFailed(w, r, "download", err)
		return
	}
	rec, release, err := s.Reads.AdmitHeavy(r.Context(), credentials(r), r.PathValue("job_id"))
	if err != nil {
		s.readFailed(w, r, "download", err)
		return
	}
	defer release()
	if err := s.Reads.CheckPhase(r.Context(), rec, dq.Phase); err != nil {
		s.readFailed(w, r, "download", err)
		return
	}
	ext, ctype := ".txt", "text/plain; charset=utf-8"
	if dq.Format == app.FormatNDJSON {
		ext, ctype = ".ndjson", "application/x-ndjson"
	}
	name := rec.JobID + "-logs" + ext
	if dq.Phase != "" {
		// One step: its own name, so that two steps' downloads do not overwrite each other.
		name = rec.JobID + "-" + fileSafe(dq.Phase) + "-logs" + ext
	}
	h := w.Header()
	h.Set("Content-Type", ctype)
	h.Set("Content-Disposition", contentDisposition(name))
	h.Set("Cache-Control", "no-store")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Vary", "Accept-Encoding")
	rc := http.NewResponseController(w)
	dw := &deadlineWriter{w: w, rc: rc}
	var out interface {
		Write([]byte) (int, error)
	} = dw
	var gz *gzip.Writer
	if acceptsGzip(r) {
		h.Set("Content-Encoding", "gzip")
		gz, _ = gzip.NewWriterLevel(dw, gzip.BestSpeed)
		out = gz
	}
	w.WriteHeader(http.StatusOK)
	ctx, cancel := context.WithCancel(r.Context())
	defer cancel()
	if _, err := s.Reads.Download(ctx, rec, out, dq); err != nil {
		// Headers are gone: the cut download is recognisable by its missing trailer.
		if r.Context().Err() == nil {
			s.log.Warn("download ended early", "job_id", rec.JobID, "error", err)
		}
		return
	}
	if gz != nil {
		gz.Close()
	}
}

// deadlineWriter gives every write its own deadline.
type deadlineWriter struct {
	w  http.ResponseWriter
	rc *http.ResponseController
}

func (d *deadlineWriter) Write(b []byte) (int, error) {
	d.rc.SetWriteDeadline(time.Now().Add(readWriteTimeout))
	return d.w.Write(b)
}

func acceptsGzip(r *http.Request) bool {
	for _, part := range strings.Split(r.Header.Get("Accept-Encoding"), ",") {
		enc, params, _ := strings.Cut(strings.TrimSpace(part), ";")
		if strings.EqualFold(strings.TrimSpace(enc), "gzip") && strings.ReplaceAll(strings.TrimSpace(params), " ", "") != "q=0" {
			return true
		}
	}
	return false
}

// fileSafe keeps letters, digits, '-' and '_' of s, the rest as '_'.
func fileSafe(s string) string {
	return strings.Map(func(r rune) rune {
		if r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_' {
			return r
		}
		return '_'
	}, s)
}

// contentDisposition is an attachment with an ASCII filename and RFC 6266's
// filename*=UTF-8”... for the exact name — less its format characters (bidi
// overrides and isolates, zero-width characters: Unicode's Cf), which would make a
// saved file's name read otherwise than it is.
func contentDisposition(name string) string {
	name = strings.Map(func(r rune) rune {
		if unicode.Is(unicode.Cf, r) {
			return -1
		}
		return r
	}, name)
	ascii := make([]byte, 0, len(name))
	for i := 0; i < len(name); i++ {
		c := name[i]
		if c < 0x20 || c >= 0x7f || c == '"' || c == '\\' || c == '/' {
			c = '_'
		}
		ascii = append(ascii, c)
	}
	return `attachment; filename="` + string(ascii) + `"; filename*=UTF-8''` + strings.ReplaceAll(url.QueryEscape(name), "+", "%20")
}

// report serves GET /api/blast/logs/{job_id}/report?format=json|csv (docs/api.md §13):
// the run's batches and totals as JSON, or its batches as CSV (RFC 4180, a header row).
func (s *Server) report(w http.ResponseWriter, r *http.Request) {
	if !getOnly(w, r) {
		return
	}
	format := r.URL.Query().Get("format")
	if format != "" && format != "json" && format != "csv" {
		s.readFailed(w, r, "report", fmt.Errorf("%w: format must be json or csv", app.ErrBadQuery))
		return
	}
	rec, release, err := s.Reads.Admit(r.Context(), credentials(r), r.PathValue("job_id"))
	if err != nil {
		s.readFailed(w, r, "report", err)
		return
	}
	defer release()
	rep, err := s.Reads.Report(r.Context(), rec, time.Now())
	if err != nil {
		s.readFailed(w, r, "report", err)
		return
	}
	if format != "csv" {
		writeRead(w, rep)
		return
	}
	h := w.Header()
	h.Set("Cache-Control", "no-store")
	h.Set("Content-Type", "text/csv; charset=utf-8")
	h.Set("Content-Disposition", contentDisposition(rec.JobID+"-report.csv"))
	http.NewResponseController(w).SetWriteDeadline(time.Now().Add(readWriteTimeout))
	rep.WriteCSV(w)
}
