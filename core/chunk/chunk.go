package chunk

import (
	"encoding/json"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/blastlog/blastlog/core/event"
	"github.com/blastlog/blastlog/core/job"
	"github.com/blastlog/blastlog/core/summary"
)

// SchemaVersion of chunks and indexes.
const SchemaVersion = 1

// Limits of a chunk (docs/api.md §6: BLASTLOG_ARCHIVE_CHUNK and the 1 MiB cut).
const (
	DefaultEvents = 500
	MaxEvents     = 5000
	MaxBytes      = 1 << 20
)

// StepSystem names the step of events without a phase.
const StepSystem = "system"

var unsafeStep = regexp.MustCompile(`[^A-Za-z0-9_-]`)

// Step is the step directory of a phase: [^A-Za-z0-9_-] become "_", at most 80
// characters, "system" when empty.
func Step(phase string) string {
	s := unsafeStep.ReplaceAllString(phase, "_")
	if len(s) > event.MaxPhaseChars {
		s = s[:event.MaxPhaseChars]
	}
	if s == "" {
		return StepSystem
	}
	return s
}

// RunDir is the run's top directory: job.SafeID, with "." and ".." (which a blob or
// file name cannot be) mapped to "_".
func RunDir(jobID string) string {
	s := job.SafeID(jobID)
	if s == "." || s == ".." {
		return "_"
	}
	return s
}

// LogsDir is the directory under which a run's chunks and index live.
func LogsDir(jobID string) string { return RunDir(jobID) + "/execution-steps/logs/" }

// Name is the blob name of a chunk: {job_id}/execution-steps/logs/{step}/{seq:06d}.json.
func Name(jobID, step string, seq int) string {
	return fmt.Sprintf("%s%s/%06d.json", LogsDir(jobID), step, seq)
}

// IndexName is the blob name of the run's index.
func IndexName(jobID string) string { return LogsDir(jobID) + "index.json" }

// ParseName reads a chunk name below LogsDir back into its step and sequence; ok is
// false for the index and for names that are not chunks.
func ParseName(rel string) (step string, seq int, ok bool) {
	step, file, found := strings.Cut(rel, "/")
	if !found || step == "" || strings.Contains(file, "/") || !strings.HasSuffix(file, ".json") {
		return "", 0, false
	}
	n, err := strconv.Atoi(strings.TrimSuffix(file, ".json"))
	if err != nil || n < 0 {
		return "", 0, false
	}
	return step, n, true
}

// Chunk is one immutable file of a step's events, in stream order.
type Chunk struct {
	SchemaVersion int           `json:"schema_version"`
	JobID         string        `json:"job_id"`
	Step          string        `json:"step"`
	Sequence      int           `json:"sequence"`
	Events        []event.Event `json:"events"`
	CreatedAt     time.Time     `json:"created_at"`
}

// Encode is the chunk's JSON, events with their ids.
func (c *Chunk) Encode() []byte {
	b := make([]byte, 0, 256+300*len(c.Events))
	b = append(b, `{"schema_version":`...)
	b = strconv.AppendInt(b, int64(c.SchemaVersion), 10)
	b = append(b, `,"job_id":`...)
	b = event.AppendJSONString(b, c.JobID)
	b = append(b, `,"step":`...)
	b = event.AppendJSONString(b, c.Step)
	b = append(b, `,"sequence":`...)
	b = strconv.AppendInt(b, int64(c.Sequence), 10)
	b = append(b, `,"events":[`...)
	for i := range c.Events {
		if i > 0 {
			b = append(b, ',')
		}
		b = c.Events[i].AppendJSON(b)
	}
	b = append(b, `],"created_at":"`...)
	b = c.CreatedAt.UTC().AppendFormat(b, event.TimeLayout)
	return append(b, `"}`...)
}

// Decode parses a chunk. Events without an id cannot be ordered and are refused.
func Decode(data []byte) (Chunk, error) {
	c, ok := decodeOwn(data)
	if !ok {
		c = Chunk{}
		if err := json.Unmarshal(data, &c); err != nil {
			return Chunk{}, fmt.Errorf("chunk: %w", err)
		}
	}
	if err := checkIDs(&c); err != nil {
		return Chunk{}, err
	}
	return c, nil
}

// checkIDs refuses a chunk with an event without an id: it cannot be ordered.
func checkIDs(c *Chunk) error {
	for i := range c.Events {
		if c.Events[i].ID.IsZero() {
			return fmt.Errorf("chunk %s/%d: event %d has no stream id", c.Step, c.Sequence, i)
		}
	}
	return nil
}

// DecodeLines parses a chunk for a reader that only writes its events as lines in f
// (event.Event.AppendLine): each event keeps its ID, Phase and Source, its Line is its
// whole line, and nothing else is set. Events in the encoder's own shape go straight
// from their bytes to their lines, never decoded (event.DecodeLineIn).
func DecodeLines(data []byte, f event.LineFormat) (Chunk, error) {
	size := func(body, n int) int { return body + n + 64 } // a JSON line: the event (its id inside) and '\n'
	if f == event.TextLine {
		// A text line and its id are no longer than the event's strings and textExtra
		// bytes; its JSON is as long as the strings (escapes only lengthen them) and
		// ownSkeleton bytes.
		size = func(body, n int) int { return body - n*(ownSkeleton-textExtra) }
	}
	own := func(b []byte, s *event.Strings) (event.Event, bool) { return event.DecodeLineIn(b, s, f) }
	lineOnly := func(e event.Event) event.Event { return e.LineOnly(f) }
	c, ok := decodeOwnWith(data, own, lineOnly, size)
	if !ok {
		var err error
		if c, err = Decode(data); err != nil {
			return Chunk{}, err
		}
		for i := range c.Events {
			c.Events[i] = c.Events[i].LineOnly(f)
		}
	} else if err := checkIDs(&c); err != nil {
		return Chunk{}, err
	}
	return c, nil
}

// textExtra is what a text line adds to its event's strings: its ts, "submit" or
// "system", "stdout" when the stream is unset, "-" for an empty phase, and ' ', ' ',
// ' ', ": ", '\n' between and after its parts.
const textExtra = len("2006-01-02T15:04:05.000Z") + len("submit") + len("stdout") + len("-") + 6

// Ref describes one chunk in the index.
type Ref struct {
	Seq     int      `json:"seq"`
	FirstID event.ID `json:"first_id"`
	LastID  event.ID `json:"last_id"`
	Count   int      `json:"count"`
	// Issues is how many of the chunk's events the error/warning rules flag
	// (summary.Classify); nil when the writer did not count them (the seed system's
	// finalizer, an index written before blastlog counted them). A search for issues
	// does not read a chunk with 0.
	Issues *int `json:"issues,omitempty"`
	// Rule is the summary.RuleVersion Issues was counted under (0: before versions).
	Rule int `json:"rule,omitempty"`
}

// IssuesKnown: Issues was counted under the rules in force, so 0 means none.
func (r Ref) IssuesKnown() bool { return r.Issues != nil && r.Rule >= summary.RuleVersion }

// RefOf describes c for the index.
func RefOf(c *Chunk) Ref {
	ref := Ref{Seq: c.Sequence, Count: len(c.Events)}
	if n := len(c.Events); n > 0 {
		ref.FirstID, ref.LastID = c.Events[0].ID, c.Events[n-1].ID
	}
	issues := 0
	for i := range c.Events {
		if summary.Classify(&c.Events[i]) != summary.None {
			issues++
		}
	}
	ref.Issues, ref.Rule = &issues, summary.RuleVersion
	return ref
}

// StepIndex is a step's chunks, in sequence order, the next sequence to write, and
// the step's summary counts (docs/api.md §3; the same as Summary's for the phases that
// map to this step, as of LastID).
type StepIndex struct {
	Chunks  []Ref `json:"chunks"`
	NextSeq int   `json:"next_seq"`
	summary.Step
}

// SetStepCounts copies the summary's per-phase counts into the steps they map to.
func (x *Index) SetStepCounts() {
	for _, si := range x.Steps {
		si.Step = summary.Step{}
	}
	for phase, st := range x.Summary.Steps {
		name := Step(phase) // "" and "system" are both the system step
		si := x.Steps[name]
		if si == nil {
			si = &StepIndex{}
			x.Steps[name] = si
		}
		si.Merge(st)
	}
}

// Record is the run record kept with the archive, so that a run Redis forgot still
// has an owner and a status.
type Record struct {
	OwnerOID  string     `json:"owner_oid"`
	Status    job.Status `json:"status"`
	ELBJobID  string     `json:"elb_job_id"`
	CreatedAt time.Time  `json:"created_at"`
	UpdatedAt time.Time  `json:"updated_at"`
}

// RecordOf keeps what the archive needs of a directory record.
func RecordOf(r job.Record) Record {
	return Record{OwnerOID: r.OwnerOID, Status: r.Status, ELBJobID: r.ELBJobID, CreatedAt: r.CreatedAt, UpdatedAt: r.UpdatedAt}
}

// Job turns the archived record back into a directory record of jobID.
func (r Record) Job(jobID string) job.Record {
	return job.Record{JobID: jobID, OwnerOID: r.OwnerOID, Status: r.Status, ELBJobID: r.ELBJobID,
		Namespace: job.DefaultNamespace, CreatedAt: r.CreatedAt, UpdatedAt: r.UpdatedAt}
}

// Index is a run's table of contents: its chunks per step, what is archived, what was
// lost, the summary of §3 and the run record.
type Index struct {
	SchemaVersion int                   `json:"schema_version"`
	JobID         string                `json:"job_id"`
	Steps         map[string]*StepIndex `json:"steps"`
	// LastID: every event up to it is archived (or recorded in Gaps).
	LastID    event.ID    `json:"last_id"`
	Count     int64       `json:"count"`
	Gaps      []event.Gap `json:"gaps"`
	Complete  bool        `json:"complete"`
	Record    Record      `json:"record"`
	Summary   summary.Run `json:"summary"`
	UpdatedAt time.Time   `json:"updated_at"`
}

// NewIndex is the empty index of a run.
func NewIndex(jobID string) Index {
	return Index{SchemaVersion: SchemaVersion, JobID: jobID, Steps: map[string]*StepIndex{}, Gaps: []event.Gap{},
		Summary: summary.New()}
}

// Encode is the index's JSON.
func (x *Index) Encode() []byte {
	b, _ := json.Marshal(x)
	return b
}

// DecodeIndex parses an index.
func DecodeIndex(data []byte) (Index, error) {
	x := NewIndex("")
	if err := json.Unmarshal(data, &x); err != nil {
		return Index{}, fmt.Errorf("index: %w", err)
	}
	if x.Steps == nil {
		x.Steps = map[string]*StepIndex{}
	}
	x.Summary.Init()
	return x, nil
}

// Cursor is the archiver's resume point for a run, kept in Redis between index
// writes: per step the next sequence and the last id it archived, and LastID, up to
// which every event is archived.
type Cursor struct {
	LastID event.ID
	Steps  map[string]StepCursor
}

// StepCursor is one step's part of a Cursor.
type StepCursor struct {
	NextSeq int
	LastID  event.ID
}
