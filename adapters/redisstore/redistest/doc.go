// Package redistest starts a private redis-server for a test: on a free loopback port,
// without persistence, stopped when the test ends. Where no redis-server binary exists
// it falls back to an embedded miniredis — except under CI (CI set), where the
// fallback would hide a missing install, and the test fails instead.
package redistest
