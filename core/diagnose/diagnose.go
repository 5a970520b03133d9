package diagnose

import (
	"slices"
	"strings"
	"time"

	"github.com/blastlog/blastlog/core/event"
)

// Bounds of what a Tracker keeps of one run.
const (
	MaxBatches  = 20000 // batches tracked; later ones are only counted in BatchesDropped
	MaxAttempts = 8     // attempts kept per batch: the first and the latest
	MaxFailures = 50    // failure causes kept, the latest
	MaxWaiting  = 200   // open waiting causes kept (per pod and reason)
	MaxCauses   = 20    // failure causes a Diagnosis lists
	submitTail  = 8     // the submit command's last error lines kept for its cause
	maxMessage  = 300   // characters of an error line kept for a hint
)

// DefaultStuckAfter is BLASTLOG_STUCK_AFTER's default.
const DefaultStuckAfter = 10 * time.Minute

// States of a run's diagnosis.
const (
	StateRunning   = "running"
	StateStuck     = "stuck"
	StateSucceeded = "succeeded"
	StateFailed    = "failed"
	StateCancelled = "cancelled"
	StateUnknown   = "unknown"
)

// States of a batch. A batch notice's state is the Job's (BatchActive, succeeded, failed).
const (
	BatchPending   = "pending"
	BatchRunning   = "running"
	BatchSucceeded = "succeeded"
	BatchFailed    = "failed"
	BatchUnknown   = "unknown"
	BatchActive    = "active" // the Job has not finished (a batch notice's state only)
)

// Cause is one reason a run failed or waits. Message is the text the cause was
// matched on (a Kubernetes message, an error line): it is kept for hints and the
// page, and never leaves the system in a notification.
type Cause struct {
	Kind      string    `json:"kind"`
	Step      string    `json:"step,omitempty"`
	Batch     string    `json:"batch,omitempty"`
	Pod       string    `json:"pod,omitempty"`
	Container string    `json:"container,omitempty"`
	Reason    string    `json:"reason,omitempty"`
	ExitCode  *int      `json:"exit_code,omitempty"`
	Limit     *Limits   `json:"limit,omitempty"`
	Peak      *Peak     `json:"peak,omitempty"` // what the failed instance was seen to use
	ID        event.ID  `json:"id,omitzero"`    // the stream id of the notice or line
	Message   string    `json:"message,omitempty"`
	Hint      string    `json:"hint,omitempty"`
	TS        time.Time `json:"ts"`
}

// Attempt is one container instance of a batch that ended.
type Attempt struct {
	event.Instance
	ExitCode   int       `json:"exit_code"`
	Reason     string    `json:"reason,omitempty"`
	StartedAt  time.Time `json:"started_at"`
	FinishedAt time.Time `json:"finished_at"`
	ID         event.ID  `json:"id,omitzero"`
	Peak       *Peak     `json:"peak,omitempty"`
	Node       string    `json:"node,omitempty"`
	NodeType   string    `json:"node_type,omitempty"` // the node's instance type, when known
}

// failed: the attempt ended non-zero or was OOMKilled.
func (a Attempt) failed() bool { return a.ExitCode != 0 || a.Reason == "OOMKilled" }

// Tracker is the incremental state of a run's diagnosis. The zero value is ready;
// it is kept as JSON beside the run in Redis and in the archive index.
type Tracker struct {
	Batches        map[string]*Batch `json:"batches,omitempty"`
	BatchesDropped int64             `json:"batches_dropped,omitempty"`
	// Expected is the batch count the submit output announced, before the Jobs exist.
	Expected int `json:"expected_batches,omitempty"`
	// Jobs counts the batches whose Job was seen: with Expected, the run's total.
	Jobs int `json:"jobs,omitempty"`
	// Failures are failure causes, oldest first (the latest MaxFailures).
	Failures []Cause `json:"failures,omitempty"`
	// Waiting are open waiting causes, by the pod (or object) they are about.
	Waiting []Cause `json:"waiting,omitempty"`
	// Stalled are the running containers that used no CPU and wrote no line for
	// BLASTLOG_STALL_AFTER, until they write a line or end.
	Stalled []Cause `json:"stalled,omitempty"`
	// Nodes are the nodes the run used, by name (cost.go).
	Nodes map[string]*NodeUse `json:"nodes,omitempty"`
	// ClusterIdle: nodes the run used were still up after it ended (its notice).
	ClusterIdle *ClusterIdle `json:"cluster_idle,omitempty"`
	// LastActivity is the last line or container start; LastTrouble the last waiting
	// notice or Warning event.
	LastActivity time.Time `json:"last_activity"`
	LastTrouble  time.Time `json:"last_trouble"`
	// SubmitTail are the submit command's last error lines (terminal_exec), for its cause.
	SubmitTail []Cause `json:"submit_tail,omitempty"`
}

// Clone is a deep copy.
func (t *Tracker) Clone() Tracker {
	out := *t
	out.Failures, out.Waiting, out.SubmitTail = slices.Clone(t.Failures), slices.Clone(t.Waiting), slices.Clone(t.SubmitTail)
	out.Stalled = slices.Clone(t.Stalled)
	if t.Nodes != nil {
		out.Nodes = make(map[string]*NodeUse, len(t.Nodes))
		for k, n := range t.Nodes {
			c := *n
			out.Nodes[k] = &c
		}
	}
	if t.Batches != nil {
		out.Batches = make(map[string]*Batch, len(t.Batches))
		for k, b := range t.Batches {
			c := *b
			c.Attempts, c.Live = slices.Clone(b.Attempts), slices.Clone(b.Live)
			out.Batches[k] = &c
		}
	}
	return out
}

// BatchOf is the batch number in an ElasticBLAST batch object's name
// (`<program>-batch-<db>-job-<NNN>[-<suffix>[-<pod>]]` → "NNN"), false for other names.
func BatchOf(name string) (string, bool) {
	i := strings.Index(name, "-batch-")
	if i < 0 {
		return "", false
	}
	rest := name[i+len("-batch-"):]
	for {
		j := strings.Index(rest, "-job-")
		if j < 0 {
			return "", false
		}
		rest = rest[j+len("-job-"):]
		n := 0
		for n < len(rest) && rest[n] >= '0' && rest[n] <= '9' {
			n++
		}
		if n > 0 && (n == len(rest) || rest[n] == '-') {
			return rest[:n], true
		}
	}
}

// objectName is the name in "Kind/name".
func objectName(object string) string {
	if _, name, ok := strings.Cut(object, "/"); ok {
		return name
	}
	return object
}

func (t *Tracker) batch(num string) *Batch {
	if t.Batches == nil {
		t.Batches = map[string]*Batch{}
	}
	b := t.Batches[num]
	if b == nil {
		if len(t.Batches) >= MaxBatches {
			t.BatchesDropped++
			return nil
		}
		b = &Batch{}
		t.Batches[num] = b
	}
	return b
}

func instance(e *event.Event) string { return e.Pod + "/" + e.Container + "/" + e.ContainerID }

// Add takes one event of the run, in stream order, each once.
func (t *Tracker) Add(e *event.Event) {
	switch {
	case e.Notice == "":
		t.addLine(e)
	case e.Notice == event.NoticeContainerEnded && e.Ended != nil:
		t.addEnded(e)
	case e.Notice == "following":
		if e.TS.After(t.LastActivity) {
			t.LastActivity = e.TS
		}
	case e.Detail != nil:
		switch e.Notice {
		case event.NoticeK8sEvent:
			t.addK8sEvent(e)
		case event.NoticeWaiting:
			t.addWaiting(e)
		case event.NoticeBatch:
			t.addBatch(e)
		case event.NoticeCommandEnded:
			t.addCommandEnded(e)
		case event.NoticeStalled:
			t.addStalled(e)
		case event.NoticeNode:
			t.addNode(e)
		case event.NoticeClusterIdle:
			t.ClusterIdle = &ClusterIdle{Nodes: e.Detail.Nodes, USDPerHour: e.Detail.USDPerHour, Ended: e.Detail.FirstTS, At: e.TS,
				Text: e.Line}
		}
	}
}

func (t *Tracker) addLine(e *event.Event) {
	if e.TS.After(t.LastActivity) {
		t.LastActivity = e.TS
	}
	if n, ok := announcedBatches(e.Line); ok && (e.Source == event.SourceTerminal || e.Pod != "" && !isBatchPod(e.Pod)) {
		t.Expected = n
	}
	if e.Source == event.SourceTerminal {
		if errorLine(e.Line) {
			t.SubmitTail = append(t.SubmitTail, Cause{Message: clip(e.Line), ID: e.ID, Step: e.Phase, TS: e.TS})
			if len(t.SubmitTail) > submitTail {
				t.SubmitTail = slices.Delete(t.SubmitTail, 0, 1)
			}
		}
		return
	}
	if e.Pod == "" {
		return
	}
	t.resolveWaiting(e.Pod)
	t.resolveStalled(e.Pod, e.Container, e.TS)
	num, ok := BatchOf(e.Pod)
	if !ok {
		return
	}
	b := t.batch(num)
	if b == nil {
		return
	}
	b.Waiting = ""
	if b.First.IsZero() {
		b.First = e.TS
	}
	if k := instance(e); !slices.Contains(b.Live, k) && len(b.Live) < MaxAttempts {
		b.Live = append(b.Live, k)
	}
	if code, ok := blastExit(e.Line); ok {
		b.BlastExit = &code
	}
	if errorLine(e.Line) {
		b.LastError = clip(e.Line)
	}
}

func isBatchPod(pod string) bool { _, ok := BatchOf(pod); return ok }

// clip bounds a kept message.
func clip(s string) string { return event.Cut(s, maxMessage, "…") }
