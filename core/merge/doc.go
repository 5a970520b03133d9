// Package merge turns container log lines, as the Kubernetes API returns them with
// timestamps, into events exactly once across stream drops, collector restarts and
// container restarts.
package merge
