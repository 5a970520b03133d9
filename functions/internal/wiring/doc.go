// Package wiring holds the fx building blocks the functions share: logging, the
// authenticator, the ticket use case and the HTTP server's life cycle. Each function's
// main composes them; constructors here are thin and do no work of their own.
package wiring
