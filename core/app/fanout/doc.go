// Package fanout owns a streaming container's live delivery: the Hub, the one shared
// reader of every watched run's log, and Stream, one viewer's ordered view of a run
// (catch-up from the read path, then the hub's live events, then completed).
package fanout
