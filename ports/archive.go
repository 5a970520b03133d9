package ports

import (
	"context"

	"github.com/blastlog/blastlog/core/chunk"
	"github.com/blastlog/blastlog/core/event"
	"github.com/blastlog/blastlog/core/job"
)

// Archive is durable, immutable storage of runs' events in chunks (docs/api.md §7).
type Archive interface {
	// PutChunk stores c under chunk.Name(c.JobID, c.Step, c.Sequence) unless the name
	// is taken: ErrExists then, and the stored chunk stays as it was. ErrUnavailable
	// when the store does not answer.
	PutChunk(ctx context.Context, c chunk.Chunk) error
	// Chunk reads one chunk's stored bytes (chunk.Decode reads them; a reader that
	// needs less skims them): ErrNotFound, ErrUnavailable.
	Chunk(ctx context.Context, jobID, step string, seq int) ([]byte, error)
	// Chunks lists the run's chunks as (step, sequence) pairs, in no given order
	// (Ref.Seq set, the ids and count not).
	Chunks(ctx context.Context, jobID string) (map[string][]chunk.Ref, error)
}

// IndexStore keeps one index per run, written conditionally so that two writers
// cannot both win: the archive's (beside its chunks), and the run's kept summary in
// the hot tier (the index without its chunk lists: counts, diagnosis, gaps, record),
// which every run has, with or without an archive.
type IndexStore interface {
	// Index reads the run's index and its version: ErrNotFound, ErrUnavailable.
	Index(ctx context.Context, jobID string) (idx chunk.Index, version string, err error)
	// PutIndex replaces the index if its version is still version ("": only if there
	// is none) and returns the new version: ErrConflict otherwise.
	PutIndex(ctx context.Context, idx chunk.Index, version string) (string, error)
}

// ArchiveIndex is the archive's IndexStore.
type ArchiveIndex interface {
	IndexStore
	// OwnerRuns lists up to limit runs of the owner that the archive holds records of,
	// newest first.
	OwnerRuns(ctx context.Context, ownerOID string, limit int) ([]job.Record, error)
}

// LogKeeper is what the archiver needs of the hot tier beyond reading it.
type LogKeeper interface {
	// LoggedRuns lists the runs that have a log now, as their safe ids (job.SafeID).
	LoggedRuns(ctx context.Context) ([]string, error)
	// TrimArchived drops the oldest entries while more than the log's cap are held
	// (the cap every writer keeps when no archiver runs), but never one after upTo
	// (the archived cursor). It returns how many it dropped.
	TrimArchived(ctx context.Context, jobID string, upTo event.ID) (int64, error)
	// Tally tells each run's LogTally, in the order of jobIDs (a run with no log: the
	// zero LogTally), in one round trip: a busy archiver asks for hundreds a second.
	Tally(ctx context.Context, jobIDs []string) ([]LogTally, error)
}

// LogTally is a run's log at one moment. What was dropped unread is Added − Held −
// what the archiver read.
type LogTally struct {
	First event.ID // the first id the log holds (zero when none)
	Held  int64    // the entries it holds
	Added int64    // the entries ever added to it, when Known
	// Known is false when the store does not count what was added (Redis before 7.0).
	Known bool
}

// ArchiveCursors keep the archiver's resume point per run between index writes.
type ArchiveCursors interface {
	// LoadCursor returns the stored cursor, or the zero Cursor when there is none.
	LoadCursor(ctx context.Context, jobID string) (chunk.Cursor, error)
	// SaveCursor stores the cursor.
	SaveCursor(ctx context.Context, jobID string, c chunk.Cursor) error
}
