// Package job owns the run record: who owns a run, where its pods live and how far it
// has got. It is the second half of the shared model, next to package event.
package job
