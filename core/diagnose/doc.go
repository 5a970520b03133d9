// Package diagnose owns the verdict on a run (docs/api.md §8): batch states from their
// Jobs and attempts, progress and its ETA, when a run is stuck, the causes of a
// failure and the tables that say what to change, in ElasticBLAST's own terms.
//
// A Tracker is fed the run's events once each, in stream order (the same events the
// summary counts), so any replica, and the archive index after Redis forgot the run,
// derive the same verdict. Diagnose turns it into the answer at a given moment.
//
// The files: diagnose.go takes events in; batch.go decides a batch's state;
// verdict.go makes the answer (state, headline, causes, progress); hints.go and
// messages.go are the tables (exit codes, Kubernetes reasons, ElasticBLAST's
// messages).
package diagnose
