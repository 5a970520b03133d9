// Package history owns the one read path of a run's events: the archive's chunks up to
// the first id the Redis stream still holds, then the stream — in id order, each event
// once, with a gap only where neither tier holds what was asked for. SSE catch-up,
// snapshots, downloads, search and summaries all read through it.
package history
