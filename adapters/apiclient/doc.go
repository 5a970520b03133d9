// Package apiclient is a Go client of blastlog's own HTTP API, for programs that read
// ElasticBLAST runs the way the Run details page does: tickets, the live stream over
// Server-Sent Events with exact resume, and the reads (the caller's runs, a run's
// summary and diagnosis, snapshot pages, search and download).
//
// It keeps the page's client rules (blastlog-client.js): a follow takes a new
// single-use ticket for every connection, resumes with Last-Event-ID after any break,
// hands on each event once in stream order, and backs off with jitter between
// attempts (BackoffMin to BackoffMax); a read is tried again after a 429 (its
// Retry-After), a 5xx or a broken connection, Retries times. Errors from the server
// are *Error, which errors.Is matches against ports.ErrNotFound, ErrUnauthenticated,
// ErrUnavailable and app.ErrBadQuery; a server that stays unreachable is
// ports.ErrUnavailable.
//
// The terminal client blastlog (functions/blastlog) is built on it.
package apiclient
