// Package ports holds the small outgoing interfaces the core drives. They speak only
// core types; each is implemented by one adapter package and by an in-memory fake in
// package portstest, and both pass the same conformance suite there.
package ports

import (
	"context"
	"errors"
	"time"

	"github.com/blastlog/blastlog/core/chunk"
	"github.com/blastlog/blastlog/core/event"
	"github.com/blastlog/blastlog/core/job"
	"github.com/blastlog/blastlog/core/target"
	"github.com/blastlog/blastlog/core/ticket"
)

var (
	// ErrExists: a write-once name is already taken; what is stored was left as it was.
	ErrExists = errors.New("already exists")
	// ErrConflict: a conditional write found another version than the one it was given.
	ErrConflict = errors.New("changed by another writer")
	// ErrNotFound: the thing asked for does not exist (or is not visible to the caller).
	ErrNotFound = errors.New("not found")
	// ErrUnavailable: the backing service did not answer; the caller may retry later.
	ErrUnavailable = errors.New("unavailable")
)

// EventLog is the ordered, capped log of one run's events (a Redis Stream). Ids are
// the log's own, increasing within a run. Old entries may be trimmed: Bounds tells the
// first one still held so that a reader can notice it missed some.
type EventLog interface {
	// Append stores events in order and returns their ids. Events must be valid
	// (event.ErrInvalid otherwise, and nothing is stored). On any other error the
	// returned ids are those of a stored prefix.
	Append(ctx context.Context, jobID string, events []event.Event) (ids []string, err error)
	// Read returns up to count events strictly after the id after ("" = from the
	// first held), in order, with ID set. An unknown run has no events; a malformed
	// after is event.ErrBadID.
	Read(ctx context.Context, jobID, after string, count int) ([]event.Event, error)
	// Bounds returns the first and last ids held, or "", "" when none is.
	Bounds(ctx context.Context, jobID string) (first, last string, err error)
	// ReadHeld is Read that also returns the first id the log held at the moment of
	// the read, atomically with it ("" when it held none): everything before first was
	// trimmed, so a reader knows exactly which events must come from the archive.
	ReadHeld(ctx context.Context, jobID, after string, count int) (events []event.Event, first string, err error)
	// ReadBefore returns up to count of the newest events strictly before the id
	// before, oldest first. A malformed before is event.ErrBadID.
	ReadBefore(ctx context.Context, jobID, before string, count int) ([]event.Event, error)
}

// JobDirectory knows each run's owner, cluster coordinates and status.
type JobDirectory interface {
	// Register creates the record or updates it; CreatedAt of an existing record is
	// kept, an empty Status keeps the old one (queued for a new record), an empty
	// Namespace means job.DefaultNamespace.
	Register(ctx context.Context, r job.Record) error
	// SetStatus changes the status; ErrNotFound if the run was never registered.
	// A terminal status starts the retention period of the run's record and log.
	SetStatus(ctx context.Context, jobID string, s job.Status) error
	// Get returns the record, or ErrNotFound.
	Get(ctx context.Context, jobID string) (job.Record, error)
	// Runs returns up to limit of the owner's runs, newest first (by CreatedAt).
	Runs(ctx context.Context, ownerOID string, limit int) ([]job.Record, error)
}

// TicketStore keeps ticket records under the ticket's hash, for a short time, so that
// the process that redeems a ticket need not be the one that issued it.
type TicketStore interface {
	// Put stores r under hash for ttl. A hash already present is an error (never
	// overwritten).
	Put(ctx context.Context, hash string, r ticket.Record, ttl time.Duration) error
	// Take returns the record and deletes it, atomically: of concurrent takers exactly
	// one gets it. ErrNotFound when there is none (never stored, taken, or expired).
	Take(ctx context.Context, hash string) (ticket.Record, error)
	// Peek returns the record without taking it (whose ticket is it, before a limit
	// refuses it and leaves it usable). ErrNotFound as for Take.
	Peek(ctx context.Context, hash string) (ticket.Record, error)
}

// RateLimiter counts uses of a key in fixed windows.
type RateLimiter interface {
	// Allow counts one use of key. Over limit uses in the current window it answers
	// false and how long until the window ends.
	Allow(ctx context.Context, key string, limit int, window time.Duration) (ok bool, retryAfter time.Duration, err error)
}

// ErrUnauthenticated: the caller's credentials are missing, malformed, expired or not
// for this API. It never means "the identity provider is down" (that is ErrUnavailable).
var ErrUnauthenticated = errors.New("unauthenticated")

// Credentials are what a request brought to prove who sent it.
type Credentials struct {
	Bearer  string // the token after "Bearer " in Authorization, "" if none
	DevUser string // X-Dev-User, honoured only by the dev-bypass authenticator
}

// Caller is an authenticated user.
type Caller struct {
	OID      string // Entra object id: the owner of runs
	TenantID string
	Name     string
}

// Authenticator turns credentials into a caller: ErrUnauthenticated or ErrUnavailable.
type Authenticator interface {
	Authenticate(ctx context.Context, c Credentials) (Caller, error)
}

// LogTail waits for new events of several runs at once: the shared reader of a
// streaming container uses it, so Redis work grows with runs watched, not viewers.
type LogTail interface {
	// Tail returns, per run, up to count events after its cursor in after ("0-0": from
	// the start), waiting up to block for the first one. No new event is not an error.
	Tail(ctx context.Context, after map[string]string, count int, block time.Duration) (map[string][]event.Event, error)
}

// StatusReader reads the status of many runs in one round trip.
type StatusReader interface {
	// Statuses returns the status of each run that is registered; others are absent.
	Statuses(ctx context.Context, jobIDs []string) (map[string]job.Status, error)
}

// Leases elect one holder per key across processes (one collector per run).
type Leases interface {
	// Acquire takes the lease if it is free or already held by holder (extending it).
	Acquire(ctx context.Context, key, holder string, ttl time.Duration) (bool, error)
	// Renew extends a lease holder still holds; false if it was lost.
	Renew(ctx context.Context, key, holder string, ttl time.Duration) (bool, error)
	// Release frees a lease holder holds; a lease held by another is left alone.
	Release(ctx context.Context, key, holder string) error
}

// Checkpoints keep, per run, an opaque resume state for each followed target.
type Checkpoints interface {
	// Load returns every target's state of the run, by target key (empty when none
	// was saved); ErrUnavailable when the store does not answer.
	Load(ctx context.Context, jobID string) (map[string][]byte, error)
	// Save replaces one target's state. The collector saves only after the lines the
	// state covers are stored, so a crash between the two repeats lines (which the
	// state's dedupe skips) rather than losing them.
	Save(ctx context.Context, jobID, targetKey string, state []byte) error
}

// ActiveRuns is the set of runs whose pods should be collected.
type ActiveRuns interface {
	// Touch marks the run active now.
	Touch(ctx context.Context, jobID string) error
	// Active lists active runs, oldest activity first.
	Active(ctx context.Context) ([]string, error)
	// Done removes a run whose collection is complete.
	Done(ctx context.Context, jobID string) error
	// Contains tells which of ids are active, in one round trip.
	Contains(ctx context.Context, ids []string) (map[string]bool, error)
	// Prune removes runs not touched since before, and says how many.
	Prune(ctx context.Context, before time.Time) (int, error)
}

// ErrWaiting: a container has not started yet; wait for the pod to change.
var ErrWaiting = errors.New("container is waiting to start")

// ErrForbidden: the cluster refused for lack of permission (RBAC).
var ErrForbidden = errors.New("forbidden")

// ErrCut: a log stream closed while its container still runs (a dropped connection,
// an API server restart): resume from the last line read.
var ErrCut = errors.New("log stream cut while the container runs")

// PodChange is one observation of a pod.
type PodChange struct {
	Pod     target.Pod
	Deleted bool
}

// LogRequest says which container's log to follow, and from where.
type LogRequest struct {
	Namespace, Pod, Container string
	SinceTime                 time.Time // resume: from this whole second (zero: not set)
	TailLines                 int64     // first open: at most this many earlier lines (0: all)
	Previous                  bool      // the instance before a restart
	Follow                    bool      // keep the stream open for new lines (false: one read, a poll)
}

// Cluster is the Kubernetes API as the collector needs it.
type Cluster interface {
	// WatchPods calls f for every pod of the namespace, then for every change, until
	// ctx ends. An expired watch is answered with a fresh list.
	WatchPods(ctx context.Context, namespace string, f func(PodChange)) error
	// ListPods returns the pods of the namespace now.
	ListPods(ctx context.Context, namespace string) ([]target.Pod, error)
	// Pod returns one pod now; ErrNotFound once it is gone.
	Pod(ctx context.Context, namespace, name string) (target.Pod, error)
	// FollowLog calls f with each line (kubelet timestamp first) until the stream
	// ends (with req.Follow false, at the end of what the kubelet holds now): nil when the container ended (its log is complete), ErrCut when the stream
	// closed while the container runs, ErrWaiting, ErrNotFound (pod gone), ErrForbidden,
	// or another error. Lines are at most MaxLogLine bytes; longer ones are cut. more is
	// true when further bytes have already arrived (batch them; flush when false).
	FollowLog(ctx context.Context, req LogRequest, f func(line []byte, more bool) error) error
	// WatchEvents calls f for every core/v1 Event of the namespace, then for every
	// change (a count that grows comes again), until ctx ends. ErrForbidden when the
	// collector may not list them.
	WatchEvents(ctx context.Context, namespace string, f func(target.Event)) error
	// WatchJobs calls f for every Job of the namespace, then for every change, until
	// ctx ends. ErrForbidden when the collector may not list them.
	WatchJobs(ctx context.Context, namespace string, f func(target.Job)) error
}

// ClusterSource finds the cluster a run's pods are in, from its record: one cluster
// for every run (in-cluster, a kubeconfig) or one per run (AKS, from ARM).
type ClusterSource interface {
	For(ctx context.Context, r job.Record) (Cluster, error)
}

// Pacer spaces requests out to a budget (golang.org/x/time/rate's Limiter is one):
// Wait returns when the next request may go, or ctx's error.
type Pacer interface {
	Wait(ctx context.Context) error
}

// MaxLogLine bounds one raw log line read from the cluster.
const MaxLogLine = 64 << 10

// ErrSpoolFull: the spool is at its cap; nothing was written.
var ErrSpoolFull = errors.New("spool full")

// SpoolBatch is a publisher's batch kept in a spool: its run, the last log id the
// publisher knew stored before it ("" when it knew none), and its events, PubID and
// Seq set, Seq increasing.
type SpoolBatch struct {
	JobID  string
	After  string
	Events []event.Event
}

// Spool is one publisher's durable overflow: batches it could not store at once, kept
// on local disk in the order of their events' Seq until they are. A Spool is safe for
// concurrent use.
type Spool interface {
	// Put appends b durably (on disk and synced when it returns). A batch whose first
	// Seq is below those put before is kept ahead of them: a publisher puts its unsent
	// head last, at exit. ErrSpoolFull when the machine's spool is at its cap.
	Put(b SpoolBatch) error
	// Oldest returns the batch of lowest Seq not yet acknowledged; ok is false when
	// none is. A record torn by a crash ends its file's batches.
	Oldest() (b SpoolBatch, ok bool, err error)
	// Ack drops the batch Oldest returned last.
	Ack() error
	// Close releases the spool. Unacknowledged batches stay for Spools.Leftovers; an
	// empty spool leaves nothing behind.
	Close() error
}

// Spools is a machine's spool directory, shared by every publisher on it.
type Spools interface {
	// Create opens a new, empty spool for publisher pubID, held until Close.
	Create(pubID string) (Spool, error)
	// Leftovers returns the spools of publishers that ended with batches in them,
	// oldest first, each now held by the caller; spools still held elsewhere are
	// skipped.
	Leftovers() ([]Spool, error)
}

// Archive is durable, immutable storage of runs' events in chunks (CONTRACT §7).
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

// ArchiveIndex keeps one index per run beside its chunks, written conditionally so
// that two archivers cannot both win.
type ArchiveIndex interface {
	// Index reads the run's index and its version: ErrNotFound, ErrUnavailable.
	Index(ctx context.Context, jobID string) (idx chunk.Index, version string, err error)
	// PutIndex replaces the index if its version is still version ("": only if there
	// is none) and returns the new version: ErrConflict otherwise.
	PutIndex(ctx context.Context, idx chunk.Index, version string) (string, error)
	// OwnerRuns lists up to limit runs of the owner that the archive holds records of,
	// newest first.
	OwnerRuns(ctx context.Context, ownerOID string, limit int) ([]job.Record, error)
}

// LogKeeper is what the archiver needs of the hot tier beyond reading it.
type LogKeeper interface {
	// LoggedRuns lists the runs that have a log now, as their safe ids (job.SafeID).
	LoggedRuns(ctx context.Context) ([]string, error)
	// TrimArchived drops the oldest entries while more than keep are held, but never
	// one after upTo (the archived cursor). It returns how many it dropped.
	TrimArchived(ctx context.Context, jobID, upTo string, keep int64) (int64, error)
}

// ArchiveCursors keep the archiver's resume point per run between index writes.
type ArchiveCursors interface {
	// LoadCursor returns the stored cursor, or the zero Cursor when there is none.
	LoadCursor(ctx context.Context, jobID string) (chunk.Cursor, error)
	// SaveCursor stores the cursor.
	SaveCursor(ctx context.Context, jobID string, c chunk.Cursor) error
}
