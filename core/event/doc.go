// Package event owns the log event of schema version 1: the one record that every
// producer (the publisher, the Kubernetes collector, the Python Celery tasks) writes
// into a run's stream and that every reader (SSE, snapshot) hands to a browser.
//
// The JSON encoding is compact, in a fixed field order, and byte-compatible with the
// Python producers' json.dumps(..., separators=(",", ":")); decoding is tolerant:
// unknown fields are ignored and missing ones are defaulted.
package event
