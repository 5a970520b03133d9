package apiclient

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"github.com/blastlog/blastlog/core/app"
	"github.com/blastlog/blastlog/ports"
)

// Ticket is a single-use ticket for one connection to a run's live stream.
type Ticket struct {
	Ticket     string    `json:"ticket"`
	TTLSeconds int       `json:"ttl_seconds"`
	ExpiresAt  time.Time `json:"expires_at"`
	EventsURL  string    `json:"events_url"`
}

// String never shows the ticket itself.
func (t Ticket) String() string { return "ticket(expires " + t.ExpiresAt.Format(time.RFC3339) + ")" }

// Ticket asks the ticket function (TicketBase, else Base) for a ticket to jobID's
// stream.
func (c *Client) Ticket(ctx context.Context, jobID string) (Ticket, error) {
	base := c.TicketBase
	if base == "" {
		base = c.Base
	}
	res, err := c.do(ctx, http.MethodPost, base, logsPath(jobID, "ticket"), nil, []byte("{}"))
	var e *Error
	if errors.As(err, &e) && e.Status == http.StatusNotFound && e.Code != "job_not_found" {
		// A 404 that is not about the run: the server has no ticket route.
		return Ticket{}, fmt.Errorf("%w: %s answers 404 (%s) for tickets: it has no ticket route; set "+
			"BLASTLOG_TICKET_URL to the ticket function, or run the streaming container with BLASTLOG_STREAM_TICKETS=on",
			ErrNoTicketRoute, base, e.Error())
	}
	if err != nil {
		return Ticket{}, err
	}
	defer res.Body.Close()
	var t Ticket
	if err := json.NewDecoder(io.LimitReader(res.Body, maxErrorBody)).Decode(&t); err != nil || t.Ticket == "" {
		return Ticket{}, fmt.Errorf("%w: the ticket answer has no ticket", ports.ErrUnavailable)
	}
	return t, nil
}

// ErrNoTicketRoute: the server tickets are asked of has no ticket route (a 404 that
// is not about the run). It is a ports.ErrUnavailable.
var ErrNoTicketRoute = fmt.Errorf("%w: no ticket route", ports.ErrUnavailable)

// Runs lists the caller's runs, newest first (limit 0: the server's default).
func (c *Client) Runs(ctx context.Context, limit int) ([]app.RunInfo, error) {
	q := url.Values{}
	if limit > 0 {
		q.Set("limit", strconv.Itoa(limit))
	}
	var out struct {
		Runs []app.RunInfo `json:"runs"`
	}
	if err := c.getJSON(ctx, "/api/blast/runs", q, &out); err != nil {
		return nil, err
	}
	return out.Runs, nil
}

// Summary is the run's record, per-step counts, containers and diagnosis.
func (c *Client) Summary(ctx context.Context, jobID string) (app.RunSummary, error) {
	var s app.RunSummary
	err := c.getJSON(ctx, logsPath(jobID, "summary"), nil, &s)
	return s, err
}

// Report is the run's report: a row per batch and its totals (docs/api.md §13).
func (c *Client) Report(ctx context.Context, jobID string) (app.Report, error) {
	var r app.Report
	err := c.getJSON(ctx, logsPath(jobID, "report"), url.Values{"format": {"json"}}, &r)
	return r, err
}

// Snapshot is one page of the run's events: after q.After (the default), before
// q.Before, or around q.Around.
func (c *Client) Snapshot(ctx context.Context, jobID string, q app.SnapshotQuery) (app.Snapshot, error) {
	v := url.Values{}
	set(v, "after", q.After)
	set(v, "before", q.Before)
	set(v, "around", q.Around)
	if q.Limit > 0 {
		v.Set("limit", strconv.Itoa(q.Limit))
	}
	var s app.Snapshot
	err := c.getJSON(ctx, logsPath(jobID, "snapshot"), v, &s)
	return s, err
}

// Search is one page of a search of the whole run.
func (c *Client) Search(ctx context.Context, jobID string, q app.SearchQuery) (app.SearchResult, error) {
	v := url.Values{}
	v.Set("q", q.Q)
	set(v, "phase", q.Phase)
	set(v, "pod", q.Pod)
	set(v, "stream", q.Stream)
	set(v, "after", q.After)
	if q.Issues {
		v.Set("issues", "1")
	}
	if q.Limit > 0 {
		v.Set("limit", strconv.Itoa(q.Limit))
	}
	var r app.SearchResult
	err := c.getJSON(ctx, logsPath(jobID, "search"), v, &r)
	return r, err
}

// Download streams the whole run (or q.Phase) in q.Format, ending with the trailer
// line; the transport asks for gzip and unpacks it. The body is the caller's to close;
// a body cut short lacks the trailer.
func (c *Client) Download(ctx context.Context, jobID string, q app.DownloadQuery) (io.ReadCloser, error) {
	v := url.Values{}
	set(v, "format", q.Format)
	set(v, "phase", q.Phase)
	res, err := c.do(ctx, http.MethodGet, c.Base, logsPath(jobID, "download"), v, nil)
	if err != nil {
		return nil, err
	}
	return res.Body, nil
}

func set(v url.Values, k, s string) {
	if s != "" {
		v.Set(k, s)
	}
}
