package apiclient

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/blastlog/blastlog/core/app"
	"github.com/blastlog/blastlog/ports"
)

// Client talks to one blastlog deployment. Its zero values are defaults; it is safe
// for concurrent use once set up.
type Client struct {
	// Base is the streaming container's base URL (BLASTLOG_URL), e.g.
	// "https://blastlog.example.org".
	Base string
	// TicketBase is the ticket function's base URL when it is not Base
	// (BLASTLOG_TICKET_URL).
	TicketBase string
	// Token returns a bearer token for the API's scope; nil sends none (a server in
	// dev-bypass, with DevUser).
	Token func(ctx context.Context) (string, error)
	// DevUser is sent as X-Dev-User, the caller a dev-bypass server takes.
	DevUser string
	// HTTP sends the requests: nil is a client without an overall timeout (downloads
	// and follows are long) whose connections time out when they stall.
	HTTP *http.Client
	// UserAgent names the program in each request.
	UserAgent string
	// Retries is how many times a read or a ticket is tried again after a 429, a 5xx
	// or a broken connection: DefaultRetries.
	Retries int
	// BackoffMin and BackoffMax bound the wait between two attempts, which doubles
	// from the first to the second (with jitter): DefaultBackoffMin, DefaultBackoffMax.
	BackoffMin, BackoffMax time.Duration
}

// Defaults of Client.
const (
	DefaultRetries    = 5
	DefaultBackoffMin = 250 * time.Millisecond
	DefaultBackoffMax = 15 * time.Second
	// maxRetryAfter caps a server's Retry-After.
	maxRetryAfter = 30 * time.Second
	// maxErrorBody bounds what is read of an error answer; maxAnswer of a JSON
	// answer (a snapshot page of 2,000 events at most is a few tens of MiB).
	maxErrorBody = 64 << 10
	maxAnswer    = 128 << 20
)

var defaultHTTP = &http.Client{Transport: &http.Transport{
	Proxy:                 http.ProxyFromEnvironment,
	ForceAttemptHTTP2:     true,
	MaxIdleConnsPerHost:   8,
	IdleConnTimeout:       90 * time.Second,
	TLSHandshakeTimeout:   10 * time.Second,
	ResponseHeaderTimeout: 30 * time.Second,
}}

func (c *Client) http() *http.Client {
	if c.HTTP != nil {
		return c.HTTP
	}
	return defaultHTTP
}

func (c *Client) retries() int { return cmp.Or(c.Retries, DefaultRetries) }

// backoff is the wait before attempt n+1 after n failures (n >= 1): doubling from
// BackoffMin up to BackoffMax, a random point in its upper half.
func (c *Client) backoff(n int) time.Duration {
	lo, hi := c.BackoffMin, c.BackoffMax
	if lo <= 0 {
		lo = DefaultBackoffMin
	}
	if hi <= 0 {
		hi = DefaultBackoffMax
	}
	ceil := hi
	if n < 30 {
		ceil = min(hi, lo<<(n-1))
	}
	return ceil/2 + rand.N(ceil/2+1)
}

// Error is an answer of the API other than a success: its HTTP status, and the
// contract's error code and message when the body had them.
type Error struct {
	Status     int
	Code       string
	Message    string
	RetryAfter time.Duration // from a 429 or 503
}

func (e *Error) Error() string {
	switch {
	case e.Message != "":
		return e.Message
	case e.Code != "":
		return e.Code
	}
	return "HTTP " + strconv.Itoa(e.Status)
}

// Is matches the ports' errors by status: 404 ports.ErrNotFound (unknown or not the
// caller's), 401 and 403 ports.ErrUnauthenticated, 502-504 ports.ErrUnavailable, 400
// app.ErrBadQuery.
func (e *Error) Is(target error) bool {
	switch target {
	case ports.ErrNotFound:
		return e.Status == http.StatusNotFound
	case ports.ErrUnauthenticated:
		return e.Status == http.StatusUnauthorized || e.Status == http.StatusForbidden
	case ports.ErrUnavailable:
		return e.Status == http.StatusBadGateway || e.Status == http.StatusServiceUnavailable || e.Status == http.StatusGatewayTimeout
	case app.ErrBadQuery:
		return e.Status == http.StatusBadRequest
	}
	return false
}

// retryable: a 429, a 5xx other than 501.
func (e *Error) retryable() bool {
	return e.Status == http.StatusTooManyRequests || e.Status >= 500 && e.Status != http.StatusNotImplemented
}

func errorOf(res *http.Response) *Error {
	e := &Error{Status: res.StatusCode}
	var body struct {
		Error   string `json:"error"`
		Message string `json:"message"`
	}
	if b, err := io.ReadAll(io.LimitReader(res.Body, maxErrorBody)); err == nil && json.Unmarshal(b, &body) == nil {
		e.Code, e.Message = body.Error, body.Message
	}
	if s, err := strconv.Atoi(res.Header.Get("Retry-After")); err == nil && s > 0 {
		e.RetryAfter = min(time.Duration(s)*time.Second, maxRetryAfter)
	}
	return e
}

// logsPath is /api/blast/logs/{job_id}/{action}.
func logsPath(jobID, action string) string {
	return "/api/blast/logs/" + url.PathEscape(jobID) + "/" + action
}

// request builds a request of the API with the caller's credentials.
func (c *Client) request(ctx context.Context, method, base, path string, q url.Values, body []byte) (*http.Request, error) {
	u := strings.TrimSuffix(base, "/") + path
	if len(q) > 0 {
		u += "?" + q.Encode()
	}
	var r io.Reader
	if body != nil {
		r = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, u, r)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Accept", "application/json")
	if c.UserAgent != "" {
		req.Header.Set("User-Agent", c.UserAgent)
	}
	if c.DevUser != "" {
		req.Header.Set("X-Dev-User", c.DevUser)
	}
	if c.Token != nil {
		tok, err := c.Token(ctx)
		if err != nil {
			return nil, &AuthError{Err: err}
		}
		req.Header.Set("Authorization", "Bearer "+tok)
	}
	return req, nil
}

// AuthError is a failure to get the caller's token (no credential found, sign-in
// refused); errors.Is matches it against ports.ErrUnauthenticated.
type AuthError struct{ Err error }

func (e *AuthError) Error() string        { return "sign-in: " + e.Err.Error() }
func (e *AuthError) Unwrap() error        { return e.Err }
func (e *AuthError) Is(target error) bool { return target == ports.ErrUnauthenticated }

// do sends a request until it succeeds, fails for good, or its retries are spent:
// a 429 waits for its Retry-After, a 5xx or a broken connection backs off. The
// response of a success is the caller's to close.
func (c *Client) do(ctx context.Context, method, base, path string, q url.Values, body []byte) (*http.Response, error) {
	for attempt := 0; ; attempt++ {
		req, err := c.request(ctx, method, base, path, q, body)
		if err != nil {
			return nil, err
		}
		res, err := c.http().Do(req)
		var wait time.Duration
		switch {
		case err != nil:
			if ctx.Err() != nil {
				return nil, ctx.Err()
			}
			err = fmt.Errorf("%w: %s %s: %v", ports.ErrUnavailable, method, path, errors.Unwrap(err))
		case res.StatusCode >= 200 && res.StatusCode < 300:
			return res, nil
		default:
			e := errorOf(res)
			res.Body.Close()
			if !e.retryable() {
				return nil, e
			}
			err, wait = e, e.RetryAfter
		}
		if attempt >= c.retries() {
			var e *Error
			if errors.As(err, &e) && e.Status == http.StatusTooManyRequests {
				return nil, err
			}
			if !errors.Is(err, ports.ErrUnavailable) {
				err = fmt.Errorf("%w: %w", ports.ErrUnavailable, err)
			}
			return nil, err
		}
		if wait == 0 {
			wait = c.backoff(attempt + 1)
		}
		if err := sleep(ctx, wait); err != nil {
			return nil, err
		}
	}
}

// getJSON reads a JSON answer into v.
func (c *Client) getJSON(ctx context.Context, path string, q url.Values, v any) error {
	res, err := c.do(ctx, http.MethodGet, c.Base, path, q, nil)
	if err != nil {
		return err
	}
	defer res.Body.Close()
	if err := json.NewDecoder(io.LimitReader(res.Body, maxAnswer)).Decode(v); err != nil {
		return fmt.Errorf("%w: %s: reading the answer: %v", ports.ErrUnavailable, path, err)
	}
	return nil
}

func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}
