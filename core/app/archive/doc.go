// Package archive owns the per-run archiver: it copies every event of every run with
// a stream, in stream order and exactly once, into immutable chunks per step (the
// seed system's layout, package chunk), keeps the run's index (chunks, summary, gaps,
// run record) and trims the stream behind what it has copied. One archiver holds a
// run at a time across replicas (a lease); a new holder resumes from the cursor, the
// index and the chunks themselves, so a takeover never duplicates or skips.
//
// The order of writes is what makes a crash harmless: chunk, then index, then cursor,
// then trim. A crash repeats at most a chunk write, which the store's conditional
// create refuses; the next holder reads that chunk and continues after it.
package archive
