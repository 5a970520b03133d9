package httpapi

import (
	"net/http"
	"net/url"
	"time"
)

type ticketResponse struct {
	Ticket     string `json:"ticket"`
	TTLSeconds int    `json:"ttl_seconds"`
	ExpiresAt  string `json:"expires_at"`
	EventsURL  string `json:"events_url"`
}

// ticket serves POST /api/blast/logs/{job_id}/ticket. The body, if any, is ignored:
// cluster coordinates come from the job record only.
func (s *Server) ticket(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		writeJSON(w, http.StatusMethodNotAllowed, errorBody{Error: "method_not_allowed", Message: "use POST"})
		return
	}
	jobID := r.PathValue("job_id")
	is, err := s.Tickets.Issue(r.Context(), credentials(r), jobID)
	if err != nil {
		status, code := writeError(w, err)
		s.m.Tickets.WithLabelValues("issue", code).Inc()
		level := s.log.Info
		if status >= 500 {
			level = s.log.Error
		}
		// The error text is ours and carries no token; the job id is not a secret.
		level("ticket refused", "job_id", loggedJobID(jobID), "status", status, "reason", code, "error", err)
		return
	}
	s.m.Tickets.WithLabelValues("issue", "issued").Inc()
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("Referrer-Policy", "no-referrer")
	writeJSON(w, http.StatusOK, ticketResponse{
		Ticket:     is.Ticket,
		TTLSeconds: int(is.TTL / time.Second),
		ExpiresAt:  is.ExpiresAt.UTC().Format(time.RFC3339),
		EventsURL:  LogsPrefix + url.PathEscape(jobID) + "/events?ticket=" + url.QueryEscape(is.Ticket),
	})
}
