package httpapi

import (
	"cmp"
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/blastlog/blastlog/core/app"
	"github.com/blastlog/blastlog/ports"
)

// LogsPrefix is where the per-run routes live.
const LogsPrefix = "/api/blast/logs/"

// Server holds the handlers' dependencies. Routes whose dependency is nil are not
// mounted (the ticket function has no SSE, for instance).
type Server struct {
	Tickets      *app.Tickets // issues tickets if IssueTickets
	IssueTickets bool         // mount POST .../ticket (the ticket function; the stream's -dev)
	// Streams mounts GET .../events: a ticket's live stream.
	Streams *app.Streams
	// Reads mounts GET .../snapshot, .../download, .../search, .../summary and
	// GET /api/blast/runs.
	Reads *app.Reads
	// Ready reports whether the backing services answer (/readyz).
	Ready    func(ctx context.Context) error
	Logger   *slog.Logger
	Registry *prometheus.Registry
	Metrics  *Metrics
	// Extra routes for the plain mux (the Run details page, for instance).
	Extra map[string]http.Handler
	// Heartbeat is the silence after which a stream gets a comment: DefaultHeartbeat.
	Heartbeat time.Duration

	// Set by Handler from the fields above (their defaults when nil); the exported
	// fields are never changed.
	log *slog.Logger
	reg *prometheus.Registry
	m   *Metrics

	routes    map[string]http.HandlerFunc // action -> handler, under LogsPrefix/{job}/
	ending    context.Context             // done once EndStreams is called
	endStream context.CancelFunc
	detached  sync.WaitGroup // the streams served on detached connections
	detaching sync.RWMutex   // held to detach one; StreamsEnded's barrier
}

func (s *Server) heartbeat() time.Duration { return cmp.Or(s.Heartbeat, DefaultHeartbeat) }

// EndStreams ends every open SSE stream (their clients reconnect, to another replica)
// and refuses new ones. http.Server.Shutdown waits for handlers to return, which
// streams never do by themselves: register this with RegisterOnShutdown.
func (s *Server) EndStreams() {
	if s.endStream != nil {
		s.endStream()
	}
}

// StreamsEnded ends every open SSE stream (EndStreams) and waits until those served
// on detached HTTP/1.1 connections have closed them, or ctx ends: http.Server.Shutdown
// neither sees nor waits for them.
func (s *Server) StreamsEnded(ctx context.Context) error {
	s.EndStreams()
	s.detaching.Lock() // a stream detached from now on sees the end first
	s.detaching.Unlock()
	done := make(chan struct{})
	go func() { s.detached.Wait(); close(done) }()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("streams still open at shutdown: %w", ctx.Err())
	}
}

// Handler returns the routed handler.
func (s *Server) Handler() http.Handler {
	s.log, s.reg, s.m = s.Logger, s.Registry, s.Metrics
	if s.log == nil {
		s.log = slog.Default()
	}
	if s.reg == nil {
		s.reg = prometheus.NewRegistry()
	}
	if s.m == nil {
		s.m = NewMetrics(s.reg)
	}
	if s.Ready != nil {
		// 1 while the backing services answer (what /readyz says), read at each scrape.
		s.reg.Register(prometheus.NewGaugeFunc(prometheus.GaugeOpts{Namespace: "blastlog", Name: "ready",
			Help: "1 while this process's backing services (Redis) answer, as /readyz says; 0 otherwise."},
			func() float64 {
				ctx, cancel := context.WithTimeout(context.Background(), time.Second)
				defer cancel()
				if s.Ready(ctx) != nil {
					return 0
				}
				return 1
			}))
	}
	s.ending, s.endStream = context.WithCancel(context.Background())
	s.routes = map[string]http.HandlerFunc{}
	if s.Tickets != nil && s.IssueTickets {
		s.routes["ticket"] = s.ticket
	}
	if s.Streams != nil {
		s.routes["events"] = s.events
	}
	if s.Reads != nil {
		s.routes["snapshot"] = s.snapshot
		s.routes["download"] = s.download
		s.routes["search"] = s.search
		s.routes["summary"] = s.summary
		s.routes["report"] = s.report
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
	})
	mux.HandleFunc("GET /readyz", s.readyz)
	if s.Reads != nil {
		mux.HandleFunc("GET /api/blast/runs", s.runs)
	}
	mux.Handle("GET /metrics", promhttp.HandlerFor(s.reg, promhttp.HandlerOpts{}))
	// Every other /api/ path (or method) is the API's JSON 404, not the mux's text.
	mux.HandleFunc("/api/", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusNotFound, errorBody{Error: "not_found", Message: "no such endpoint"})
	})
	for pattern, h := range s.Extra {
		mux.Handle(pattern, h)
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasPrefix(r.URL.Path, LogsPrefix) {
			s.logs(w, r)
			return
		}
		mux.ServeHTTP(w, r)
	})
}

func (s *Server) readyz(w http.ResponseWriter, r *http.Request) {
	if s.Ready != nil {
		ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
		defer cancel()
		if err := s.Ready(ctx); err != nil {
			s.log.Warn("not ready", "error", err)
			writeJSON(w, http.StatusServiceUnavailable, map[string]string{"status": "unavailable"})
			return
		}
	}
	writeJSON(w, http.StatusOK, map[string]string{"status": "ready"})
}

// logs routes /api/blast/logs/{job_id}/{action} by hand: ServeMux would redirect a
// path with an empty segment instead of answering 400, and the job id is one escaped
// segment that may hold any character.
func (s *Server) logs(w http.ResponseWriter, r *http.Request) {
	rest := strings.TrimPrefix(r.URL.EscapedPath(), LogsPrefix)
	i := strings.LastIndexByte(rest, '/')
	h, ok := s.routes[rest[i+1:]]
	if i < 0 || !ok {
		writeJSON(w, http.StatusNotFound, errorBody{Error: "not_found", Message: "no such endpoint"})
		return
	}
	jobID, err := url.PathUnescape(rest[:i])
	if err != nil || jobID == "" || strings.Contains(rest[:i], "/") {
		writeError(w, errBadJobID)
		return
	}
	r.SetPathValue("job_id", jobID)
	h(w, r)
}

// credentials reads what the request brought to authenticate. A non-Bearer
// Authorization header counts as none.
func credentials(r *http.Request) ports.Credentials {
	var c ports.Credentials
	if scheme, tok, ok := strings.Cut(r.Header.Get("Authorization"), " "); ok && strings.EqualFold(scheme, "Bearer") {
		c.Bearer = strings.TrimSpace(tok)
	}
	c.DevUser = r.Header.Get("X-Dev-User")
	return c
}
