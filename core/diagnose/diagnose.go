package diagnose

import (
	"math"
	"slices"
	"strconv"
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

// Limits are a container's resource limits from its pod spec.
type Limits struct {
	Memory string `json:"memory,omitempty"`
	CPU    string `json:"cpu,omitempty"`
}

// Peak is the most a container instance was seen to use (sampled from the metrics
// API: a short spike between two samples is missed).
type Peak struct {
	Memory string  `json:"memory,omitempty"` // "61.8Gi"
	CPU    float64 `json:"cpu,omitempty"`    // cores
}

// peakOf is the peak of what the container_ended notice says it used; nil without
// samples.
func peakOf(u *event.Usage) *Peak {
	if u == nil || u.Samples == 0 {
		return nil
	}
	return &Peak{Memory: MemoryText(u.PeakMemory), CPU: math.Round(u.CPUPeak*10) / 10}
}

// higher is the larger of two peaks, figure by figure (nil when both are).
func higher(a, b *Peak) *Peak {
	switch {
	case a == nil:
		return b
	case b == nil:
		return a
	}
	out := *a
	if memoryBytes(b.Memory) > memoryBytes(a.Memory) {
		out.Memory = b.Memory
	}
	out.CPU = max(a.CPU, b.CPU)
	return &out
}

// MemoryText says bytes in Kubernetes' binary units with one decimal: "61.8Gi",
// "512Mi", "900Ki".
func MemoryText(b int64) string {
	for _, u := range []struct {
		name string
		size float64
	}{{"Ti", 1 << 40}, {"Gi", 1 << 30}, {"Mi", 1 << 20}, {"Ki", 1 << 10}} {
		if float64(b) >= u.size {
			return strconv.FormatFloat(math.Round(float64(b)/u.size*10)/10, 'f', -1, 64) + u.name
		}
	}
	return strconv.FormatInt(b, 10)
}

// memoryBytes reads what MemoryText wrote (0 if it cannot).
func memoryBytes(s string) int64 {
	for _, u := range []struct {
		name string
		size float64
	}{{"Ti", 1 << 40}, {"Gi", 1 << 30}, {"Mi", 1 << 20}, {"Ki", 1 << 10}, {"", 1}} {
		if num, ok := strings.CutSuffix(s, u.name); ok {
			if f, err := strconv.ParseFloat(num, 64); err == nil {
				return int64(f * u.size)
			}
		}
	}
	return 0
}

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
	ID        string    `json:"id,omitempty"`   // the stream id of the notice or line
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
	ID         string    `json:"id,omitempty"`
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

// addStalled: a running container stalled; it is a cause until it writes a line
// (after the stall began) or ends.
func (t *Tracker) addStalled(e *event.Event) {
	t.resolveStalled(e.Pod, e.Container, time.Time{})
	num, _ := BatchOf(e.Pod)
	t.Stalled = append(t.Stalled, Cause{Kind: KindContainer, Step: e.Phase, Batch: num, Pod: e.Pod, Container: e.Container,
		Reason: ReasonStalled, ID: e.ID, Message: clip(e.Line), TS: e.Detail.FirstTS})
	if len(t.Stalled) > MaxCauses {
		t.Stalled = slices.Delete(t.Stalled, 0, 1)
	}
}

// resolveStalled ends the stall of a container that wrote a line after it began
// (zero: whatever the time) or ended.
func (t *Tracker) resolveStalled(pod, container string, at time.Time) {
	t.Stalled = slices.DeleteFunc(t.Stalled, func(c Cause) bool {
		return c.Pod == pod && c.Container == container && (at.IsZero() || at.After(c.TS))
	})
}

func (t *Tracker) addEnded(e *event.Event) {
	d := e.Ended
	t.resolveStalled(e.Pod, e.Container, time.Time{})
	num, isBatch := BatchOf(e.Pod)
	var b *Batch
	if isBatch {
		b = t.batch(num)
	}
	if b != nil {
		if k := instance(e); slices.Contains(b.Live, k) {
			b.Live = slices.DeleteFunc(b.Live, func(s string) bool { return s == k })
		}
		if d.Memory != "" || d.CPU != "" {
			b.PodLimits = Limits{Memory: d.Memory, CPU: d.CPU}
		}
		if d.Init && d.ExitCode == 0 && d.Reason != "OOMKilled" {
			return // an init container that did its work: not an attempt of the batch
		}
		if b.First.IsZero() || !d.StartedAt.IsZero() && d.StartedAt.Before(b.First) {
			b.First = d.StartedAt
		}
		b.addAttempt(Attempt{Instance: e.Instance(), ExitCode: d.ExitCode,
			Reason: d.Reason, StartedAt: d.StartedAt, FinishedAt: d.FinishedAt, ID: e.ID, Peak: peakOf(d.Usage), Node: d.Node})
	}
	if d.ExitCode == 0 && d.Reason != "OOMKilled" {
		return
	}
	code := d.ExitCode
	c := Cause{Kind: KindContainer, Step: e.Phase, Batch: num, Pod: e.Pod, Container: e.Container, Reason: d.Reason,
		ExitCode: &code, Peak: peakOf(d.Usage), ID: e.ID, Message: e.Line, TS: e.TS}
	if b != nil && b.LastError != "" {
		c.Message = b.LastError // what the batch said last says more than the notice
	}
	if b == nil && (d.Memory != "" || d.CPU != "") {
		c.Limit = &Limits{Memory: d.Memory, CPU: d.CPU}
	}
	for _, f := range slices.Backward(t.Failures) {
		if f.Kind != KindEvent || f.Pod != e.Pod {
			continue
		}
		if f.Reason == "Evicted" || f.Reason == "Preempted" {
			return // the kubelet killed it for that: the event is the cause, this its consequence
		}
		if f.Reason == d.Reason {
			c.Message = f.Message // a Warning event of the same pod and reason says why in more words
			break
		}
	}
	t.fail(c)
}

func (t *Tracker) addK8sEvent(e *event.Event) {
	d := e.Detail
	if d.Type != "" && d.Type != "Warning" {
		return
	}
	if e.TS.After(t.LastTrouble) {
		t.LastTrouble = e.TS
	}
	name := objectName(d.Object)
	num, _ := BatchOf(name)
	c := Cause{Kind: KindEvent, Step: e.Phase, Batch: num, Pod: e.Pod, Container: e.Container, Reason: d.Reason,
		ID: e.ID, Message: e.Line, TS: e.TS}
	switch d.Reason {
	case "FailedScheduling", "FailedCreate", "BackOff", "FailedMount", "FailedAttachVolume", "ImagePullBackOff",
		"ErrImagePull", "Failed":
		// The pod (or Job) waits because of it: a waiting cause until it moves on.
		if d.Reason == "Failed" && strings.Contains(strings.ToLower(e.Line), "pull") {
			c.Reason = "ErrImagePull"
		}
		c.Kind = KindWaiting
		t.wait(c, name)
		return
	case "BackoffLimitExceeded", "DeadlineExceeded":
		if num != "" && strings.HasPrefix(d.Object, "Job/") {
			if b := t.batch(num); b != nil {
				b.JobEnded = d.Reason // the Job failed, whether or not its notice says so
				b.Live, b.Waiting = nil, ""
				t.resolveWaitingBatch(num)

			}
		}
	}
	t.fail(c)
}

func (t *Tracker) addWaiting(e *event.Event) {
	d := e.Detail
	if d.Reason == "" {
		return // the collector's "waiting for a container to start": no cause
	}
	if e.TS.After(t.LastTrouble) {
		t.LastTrouble = e.TS
	}
	name := objectName(d.Object)
	if name == "" {
		name = e.Pod
	}
	num, _ := BatchOf(name)
	c := Cause{Kind: KindWaiting, Step: e.Phase, Batch: num, Pod: e.Pod, Container: e.Container, Reason: d.Reason,
		ID: e.ID, Message: e.Line, TS: e.TS}
	t.wait(c, name)
}

func (t *Tracker) addBatch(e *event.Event) {
	d := e.Detail
	num := d.Batch
	if num == "" {
		num, _ = BatchOf(objectName(d.Object))
	}
	if num == "" {
		return
	}
	b := t.batch(num)
	if b == nil {
		return
	}
	if b.Job == "" {
		t.Jobs++
	}
	b.Job = objectName(d.Object)
	if b.JobState != BatchSucceeded && b.JobState != BatchFailed {
		b.JobState, b.JobReason = d.State, d.Reason // a Job that ended stays ended
	}
	if d.Memory != "" || d.CPU != "" {
		b.Limits = Limits{Memory: d.Memory, CPU: d.CPU}
	}
	if d.State == BatchSucceeded || d.State == BatchFailed {
		b.Live, b.Waiting = nil, ""
		t.resolveWaitingBatch(num)
	}
	if d.State == BatchFailed && !b.failedAttempt() && b.JobEnded == "" {
		// The Job failed with no failed attempt seen (its pods were missed, or it never
		// made one) and no Warning event said why: the Job's reason is the cause.
		t.fail(Cause{Kind: KindEvent, Step: e.Phase, Batch: num, Reason: d.Reason, ID: e.ID, Message: e.Line, TS: e.TS})
	}
}

func (t *Tracker) addCommandEnded(e *event.Event) {
	d := e.Detail
	if d.ExitCode == nil || *d.ExitCode == 0 {
		return
	}
	code := *d.ExitCode
	c := Cause{Kind: KindSubmit, Step: e.Phase, ExitCode: &code, ID: e.ID, Message: e.Line, TS: e.TS}
	// An error line the table knows names the cause; else the last error line.
	for i, l := range slices.Backward(t.SubmitTail) {
		if i == len(t.SubmitTail)-1 {
			c.Message, c.ID = l.Message, l.ID
		}
		if r, ok := MatchMessage(l.Message); ok {
			c.Message, c.ID, c.Reason = l.Message, l.ID, r.Reason
			break
		}
	}
	t.fail(c)
}

func (t *Tracker) fail(c Cause) {
	t.Failures = append(t.Failures, c)
	if len(t.Failures) > MaxFailures {
		t.Failures = slices.Delete(t.Failures, 0, len(t.Failures)-MaxFailures)
	}
}

// wait records an open waiting cause of object name (a pod or a Job), once per
// reason: a repeat replaces the earlier one.
func (t *Tracker) wait(c Cause, name string) {
	if c.Pod == "" {
		c.Pod = name
	}
	t.Waiting = slices.DeleteFunc(t.Waiting, func(w Cause) bool { return w.Pod == c.Pod && w.Reason == c.Reason })
	if len(t.Waiting) >= MaxWaiting {
		t.Waiting = slices.Delete(t.Waiting, 0, 1)
	}
	t.Waiting = append(t.Waiting, c)
	if c.Batch != "" {
		if b := t.batch(c.Batch); b != nil && len(b.Live) == 0 && !b.ended() {
			b.Waiting = c.Reason + ": " + said(c.Message, c.Reason)
		}
	}
}

// said is what a notice's line says after "<object> <reason>: ", the message
// Kubernetes gave.
func said(line, reason string) string {
	if i := strings.Index(line, reason+": "); i >= 0 {
		return line[i+len(reason)+2:]
	}
	return line
}

// resolveWaiting drops the waiting causes of a pod that now runs.
func (t *Tracker) resolveWaiting(pod string) {
	if len(t.Waiting) == 0 {
		return
	}
	t.Waiting = slices.DeleteFunc(t.Waiting, func(w Cause) bool { return w.Pod == pod })
}

func (t *Tracker) resolveWaitingBatch(num string) {
	t.Waiting = slices.DeleteFunc(t.Waiting, func(w Cause) bool { return w.Batch == num })
}
