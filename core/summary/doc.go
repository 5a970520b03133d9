// Package summary owns what a run's step headers and batch table show without reading
// the run: the error/warning keyword rules, and per step and per container instance
// the counts, first/last times and last line, kept incrementally one event at a time.
package summary
