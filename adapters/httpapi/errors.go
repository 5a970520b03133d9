package httpapi

import (
	"context"
	"encoding/json"
	"errors"
	"math"
	"net/http"
	"strconv"
	"time"

	"github.com/blastlog/blastlog/core/app"
	"github.com/blastlog/blastlog/core/event"
	"github.com/blastlog/blastlog/ports"
)

// errorBody is the JSON of every error response.
type errorBody struct {
	Error   string `json:"error"`
	Message string `json:"message"`
}

// errBadJobID is returned for job ids that cannot even be looked up.
var errBadJobID = errors.New("bad job id")

// outcome maps an error to its status and code: the one place that does.
func outcome(err error) (status int, code, message string) {
	var lim *app.LimitedError
	switch {
	case errors.Is(err, ports.ErrUnauthenticated):
		var rf *ports.Refusal
		if errors.As(err, &rf) {
			return http.StatusUnauthorized, "unauthorized", rf.Msg
		}
		return http.StatusUnauthorized, "unauthorized", "a valid Entra ID access token is required"
	case errors.Is(err, errBadJobID), errors.Is(err, event.ErrInvalid):
		msg := "the job id must be 1 to 128 characters of letters, digits, '_', '.', ':' and '-', and not . or .."
		var bad *event.JobIDError
		if errors.As(err, &bad) {
			msg = "the job id " + bad.Reason
		}
		return http.StatusBadRequest, "bad_job_id", msg
	case errors.Is(err, ports.ErrNotFound):
		// The same answer for an unknown run and for another owner's run.
		return http.StatusNotFound, "job_not_found", "no such job"
	case errors.As(err, &lim) && lim.What == "tickets":
		return http.StatusTooManyRequests, "rate_limited", "too many tickets requested; retry later"
	case errors.As(err, &lim) && lim.Server:
		return http.StatusTooManyRequests, "too_many_" + lim.What, "this server has too many searches and downloads in progress; retry shortly"
	case errors.As(err, &lim):
		return http.StatusTooManyRequests, "too_many_" + lim.What, "this account has too many " + lim.What + " open on this server; close one or retry later"
	case errors.Is(err, ports.ErrUnavailable), errors.Is(err, context.DeadlineExceeded):
		return http.StatusServiceUnavailable, "unavailable", "a service blastlog depends on is unavailable; retry later"
	}
	return http.StatusInternalServerError, "internal", "internal error"
}

// writeError answers err as JSON, with the headers its status calls for.
func writeError(w http.ResponseWriter, err error) (status int, code string) {
	status, code, msg := outcome(err)
	h := w.Header()
	h.Set("Cache-Control", "no-store")
	switch status {
	case http.StatusUnauthorized:
		h.Set("WWW-Authenticate", `Bearer realm="blastlog"`)
	case http.StatusTooManyRequests:
		var lim *app.LimitedError
		retry := time.Second
		if errors.As(err, &lim) {
			retry = lim.RetryAfter
		}
		h.Set("Retry-After", strconv.Itoa(int(math.Max(1, math.Ceil(retry.Seconds())))))
	case http.StatusServiceUnavailable:
		h.Set("Retry-After", "5")
	}
	writeJSON(w, status, errorBody{Error: code, Message: msg})
	return status, code
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(v)
}

// loggedJobID is a job id as logs show it: a path segment comes from anyone, so it is
// cut to the longest valid id (and slog escapes what it holds).
func loggedJobID(id string) string { return event.Cut(id, event.MaxJobIDChars+1, "…") }
