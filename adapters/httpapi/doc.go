// Package httpapi is the HTTP face of blastlog (docs/api.md §3): the ticket endpoint, the
// SSE and snapshot endpoints, health, readiness and metrics. Errors become responses in
// exactly one place (writeError); nothing here logs a token, a ticket or a query string.
package httpapi
