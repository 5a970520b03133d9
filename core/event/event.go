package event

import (
	"errors"
	"fmt"
	"time"
	"unicode/utf8"
)

// SchemaVersion is the version written into every event this code produces.
const SchemaVersion = 1

// Limits of the contract (docs/api.md §1).
const (
	MaxLineChars  = 4000 // runes in Line
	MaxPhaseChars = 80   // runes in Phase
)

// Source says which producer wrote an event.
type Source string

const (
	SourceTerminal Source = "terminal_exec" // the publisher wrapping a task worker's command
	SourceK8s      Source = "k8s"           // the collector following pod logs
	SourceSystem   Source = "system"        // notices from blastlog itself
)

// Valid reports whether s is one of the sources of the contract.
func (s Source) Valid() bool {
	return s == SourceTerminal || s == SourceK8s || s == SourceSystem
}

// Stream is the output stream a line was written to.
type Stream string

const (
	Stdout Stream = "stdout"
	Stderr Stream = "stderr"
)

// Valid reports whether s is stdout or stderr.
func (s Stream) Valid() bool { return s == Stdout || s == Stderr }

// The execution steps of an ElasticBLAST run. Other phases are kept as given.
const (
	PhaseSubmitting       = "submitting"
	PhaseStagingDB        = "staging_db"
	PhaseRunning          = "running"
	PhaseExportingResults = "exporting_results"
	PhaseWarmingUp        = "warming_up"
)

// phaseLabels are the steps as the page and the terminal client name them.
var phaseLabels = map[string]string{PhaseWarmingUp: "Warming up databases", PhaseSubmitting: "Submitting",
	PhaseStagingDB: "Staging the database", PhaseRunning: "Running BLAST", PhaseExportingResults: "Exporting results",
	"": "blastlog notices", "system": "blastlog notices"}

// PhaseLabel is a step's name for people ("Running BLAST"); an unknown phase is
// named as given.
func PhaseLabel(phase string) string {
	if l, ok := phaseLabels[phase]; ok {
		return l
	}
	return phase
}

// Instance names one container instance: a pod's container, in one run of it (its
// container id; a restart in place is another instance). The run's summary and its
// diagnosis both say which instance they speak of with it.
type Instance struct {
	Pod         string `json:"pod"`
	Container   string `json:"container"`
	ContainerID string `json:"container_id,omitempty"`
}

// Instance is the container instance the event came from (empty for the publisher's).
func (e *Event) Instance() Instance {
	return Instance{Pod: e.Pod, Container: e.Container, ContainerID: e.ContainerID}
}

// Event is one log line of one run. ID is the stream entry id: it is never stored
// inside the entry, and is filled in by whoever reads the entry back.
type Event struct {
	// ID is the event's place in its run's log (zero until the log has stored it).
	ID            ID
	SchemaVersion int
	JobID         string
	Source        Source
	Phase         string
	Stream        Stream
	Pod           string
	Container     string
	Line          string
	TS            time.Time
	// ContainerID, Restart and Truncated are optional k8s details; zero values are
	// omitted.
	ContainerID string
	Restart     int
	Truncated   bool // the line was cut at MaxLineChars
	// Notice marks a collector notice (following, waiting, degraded, ...): a system
	// event that readers show as a status, not as a log line.
	Notice string
	// PubID and Seq name a publisher's line: the invocation (16 hex characters) and the
	// line's 1-based number within it. A replay skips what the log already holds by them.
	PubID string
	Seq   int64
	// Dropped, on a publisher's system line, is how many of its lines before this one
	// were dropped (its spool was full).
	Dropped int64
	// Ended is set on a container_ended notice only.
	Ended *Ended
	// Detail is what a k8s_event, waiting, batch or command_ended notice adds.
	Detail *Detail
}

// Notices that carry a Detail (docs/api.md §8).
const (
	NoticeK8sEvent     = "k8s_event"     // a Warning event of one of the run's objects
	NoticeWaiting      = "waiting"       // a container or pod of the run waits (Reason says why)
	NoticeBatch        = "batch"         // a batch Job of the run was seen or changed state
	NoticeCommandEnded = "command_ended" // the publisher's wrapped command exited
	// NoticeStalled: a running container used (almost) no CPU and wrote no line since
	// Detail.FirstTS (docs/api.md §13).
	NoticeStalled = "stalled"
	// NoticeNode: a node started (State in_use, since FirstTS) or stopped (released,
	// at LastTS) running the run's containers (docs/api.md §13).
	NoticeNode = "node"
	// NoticeClusterIdle: nodes the run used were still up BLASTLOG_IDLE_AFTER after it
	// ended (FirstTS): Nodes of them, costing USDPerHour (docs/api.md §13).
	NoticeClusterIdle = "cluster_idle"
)

// Detail is the structured part of a diagnosis notice. Zero fields are omitted.
type Detail struct {
	Object  string // "Pod/<name>", "Job/<name>"
	Type    string // the event's type (Warning)
	Reason  string // as Kubernetes (or the command) gives it
	Count   int    // how often Kubernetes saw the event
	FirstTS time.Time
	LastTS  time.Time
	// ExitCode is the command's exit (command_ended); nil when not known.
	ExitCode *int
	// Batch and State describe a batch Job (batch notices): the batch number ("013")
	// and pending, running, succeeded or failed.
	Batch string
	State string
	// Limits are the container's resource limits from the pod spec (batch notices).
	Memory string
	CPU    string
	// A node notice's node, from its labels: instance type, region, spot priority.
	InstanceType string
	Region       string
	Spot         bool
	// A cluster_idle notice's nodes still up, and what they cost by the hour (nil: not
	// known).
	Nodes      int
	USDPerHour *float64
}

// NoticeContainerEnded is the notice stored once per container instance after its last
// line (docs/api.md §1).
const NoticeContainerEnded = "container_ended"

// Completeness says how much of a container's output the collector stored.
type Completeness string

const (
	Complete Completeness = "complete" // every line the kubelet held
	Partial  Completeness = "partial"  // some lines are missing (Missing says why)
	Missed   Completeness = "missed"   // the pod was gone before any line was read
)

// Why lines of a partial container are missing.
const (
	MissingTail    = "tail"    // it ran before collection started: only its tail was read
	MissingRotated = "rotated" // the kubelet rotated its log before it was read
	MissingDeleted = "deleted" // the pod was deleted before its log was read to the end
)

// Ended is what a container_ended notice adds: how the container ended and how much of
// its output was stored. MissingLines is 0 when unknown.
type Ended struct {
	ExitCode     int
	Reason       string
	StartedAt    time.Time
	FinishedAt   time.Time
	Completeness Completeness
	Missing      string
	MissingLines int64
	// Init: an init container (a batch pod's import-query-batches is not the batch).
	Init bool
	// Memory and CPU are the container's limits from its pod spec ("" if none): the
	// limits a memory cause names when the Job's template cannot be read.
	Memory string
	CPU    string
	// Usage is what the metrics API measured while it ran; nil without a sample.
	Usage *Usage
	// Node is the node its pod ran on ("" if not known).
	Node string
}

// Usage is what metrics.k8s.io measured of one container instance, sampled every
// BLASTLOG_K8S_METRICS_EVERY while it ran: a sample misses what happened between two
// (a short spike of memory before an OOMKill).
type Usage struct {
	PeakMemory int64     `json:"peak_memory"` // bytes: the largest working set sampled
	CPUMean    float64   `json:"cpu_mean"`    // cores, over the samples
	CPUPeak    float64   `json:"cpu_peak"`    // cores
	Samples    int       `json:"samples"`
	First      time.Time `json:"first"`
	Last       time.Time `json:"last"`
}

// ErrInvalid is wrapped by every error Validate returns.
var ErrInvalid = errors.New("invalid event")

// Validate checks an event against the contract before it is stored. It does not
// sanitise: callers pass lines through package sanitize first.
func (e *Event) Validate() error {
	if err := ValidateJobID(e.JobID); err != nil {
		return err
	}
	switch {
	case e.SchemaVersion != SchemaVersion:
		return fmt.Errorf("%w: schema_version %d", ErrInvalid, e.SchemaVersion)
	case !e.Source.Valid():
		return fmt.Errorf("%w: source %q", ErrInvalid, Cut(string(e.Source), 40, ""))
	case !e.Stream.Valid():
		return fmt.Errorf("%w: stream %q", ErrInvalid, Cut(string(e.Stream), 40, ""))
	case utf8.RuneCountInString(e.Phase) > MaxPhaseChars:
		return fmt.Errorf("%w: phase longer than %d characters", ErrInvalid, MaxPhaseChars)
	case utf8.RuneCountInString(e.Line) > MaxLineChars:
		return fmt.Errorf("%w: line longer than %d characters", ErrInvalid, MaxLineChars)
	case !utf8.ValidString(e.Line):
		return fmt.Errorf("%w: line is not valid UTF-8", ErrInvalid)
	case hasLineBreak(e.Line):
		return fmt.Errorf("%w: line contains CR or LF", ErrInvalid)
	case e.Source != SourceK8s && (e.Pod != "" || e.Container != "") && !namesContainer(e.Notice):
		return fmt.Errorf("%w: pod and container are only for source k8s and notices about a container", ErrInvalid)
	case e.PubID != "" && (!ValidPubID(e.PubID) || e.Seq < 1):
		return fmt.Errorf("%w: pub_id must be 16 hex characters and seq at least 1", ErrInvalid)
	case e.PubID == "" && e.Seq != 0:
		return fmt.Errorf("%w: seq without pub_id", ErrInvalid)
	case e.Dropped < 0 || e.Dropped > 0 && e.Source != SourceSystem:
		return fmt.Errorf("%w: dropped belongs to a system line", ErrInvalid)
	case (e.Ended != nil) != (e.Notice == NoticeContainerEnded):
		return fmt.Errorf("%w: container_ended fields belong to a container_ended notice", ErrInvalid)
	case e.Detail != nil && (e.Notice == "" || e.Notice == NoticeContainerEnded):
		return fmt.Errorf("%w: notice details belong to a notice", ErrInvalid)
	}
	return nil
}

// namesContainer: notices that may name the pod and container they are about.
func namesContainer(notice string) bool {
	return notice == NoticeContainerEnded || notice == NoticeK8sEvent || notice == NoticeWaiting || notice == NoticeStalled
}

// ValidPubID reports whether s is a publisher id: 16 lower-case hex characters.
func ValidPubID(s string) bool {
	if len(s) != 16 {
		return false
	}
	for i := 0; i < len(s); i++ {
		if !('0' <= s[i] && s[i] <= '9' || 'a' <= s[i] && s[i] <= 'f') {
			return false
		}
	}
	return true
}

// MaxJobIDChars is the longest job id accepted anywhere.
const MaxJobIDChars = 128

// ValidateJobID rejects ids that are empty, longer than MaxJobIDChars, not UTF-8, that
// carry control characters, or characters outside [A-Za-z0-9_.:-] (storage names
// would alias them: job.SafeID). The error text names the problem, never echoes a
// control character.
func ValidateJobID(id string) error {
	switch {
	case id == "":
		return &JobIDError{"is empty"}
	case utf8.RuneCountInString(id) > MaxJobIDChars:
		return &JobIDError{fmt.Sprintf("is longer than %d characters", MaxJobIDChars)}
	case !utf8.ValidString(id):
		return &JobIDError{"is not valid UTF-8"}
	case id == "." || id == "..":
		return &JobIDError{"may not be . or .. (a path, not a run)"}
	}
	for _, r := range id {
		if r < 0x20 || r == 0x7f || (r >= 0x80 && r < 0xa0) {
			return &JobIDError{"contains control characters"}
		}
	}
	for i := 0; i < len(id); i++ {
		switch c := id[i]; {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9', c == '_', c == '.', c == ':', c == '-':
		default:
			// Storage names turn every other run of characters into "_" (as the
			// Python producers do): "b run" and "b;run" would be the run "b_run".
			return &JobIDError{JobIDChars}
		}
	}
	return nil
}

// JobIDChars says which characters a job id may hold.
const JobIDChars = "may only hold letters, digits, '_', '.', ':' and '-' (any other character would make it another run's id in storage)"

// JobIDError says why a job id is refused; it is an ErrInvalid.
type JobIDError struct{ Reason string }

func (e *JobIDError) Error() string        { return ErrInvalid.Error() + ": job id " + e.Reason }
func (e *JobIDError) Is(target error) bool { return target == ErrInvalid }

// CapPhase keeps an unknown phase as given but at most MaxPhaseChars long.
func CapPhase(p string) string { return Cut(p, MaxPhaseChars, "") }

// Cut keeps at most n characters (runes) of s, the last of them mark when s had to be
// cut ("…" for a shown value, "" for a plain cap). It is the one truncation rule:
// lines, phases and every value shown in a message.
func Cut(s string, n int, mark string) string {
	keep := n - utf8.RuneCountInString(mark)
	i := 0
	for pos := range s {
		if i == keep {
			if utf8.RuneCountInString(s[pos:]) <= n-keep {
				return s // what is left fits where the mark would go
			}
			return s[:pos] + mark
		}
		i++
	}
	return s
}

func hasLineBreak(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] == '\n' || s[i] == '\r' {
			return true
		}
	}
	return false
}

// System is a line of blastlog's own about run jobID (stderr, source system): a
// collector notice when notice is set ("following", "degraded", ...), else a plain
// line such as the publisher's count of lines it could not store.
func System(jobID, phase, notice, line string, ts time.Time) Event {
	return Event{SchemaVersion: SchemaVersion, JobID: jobID, Source: SourceSystem, Phase: phase, Stream: Stderr,
		Line: line, TS: ts, Notice: notice}
}
