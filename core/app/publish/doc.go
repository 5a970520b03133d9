// Package publish is the publisher use case: a wrapped command's output, split into
// sanitised lines and appended in order, exactly once, to one run's log — through a
// durable spool whenever the log does not keep up.
package publish
