// Package diagnose owns the verdict on a run (docs/api.md §8): batch states from their
// attempts, progress and its ETA, when a run is stuck, the causes of a failure and the
// hint table that says what to change, in ElasticBLAST's own terms.
//
// A Tracker is fed the run's events once each, in stream order (the same events the
// summary counts), so any replica, and the archive index after Redis forgot the run,
// derive the same verdict. Diagnose turns it into the answer at a given moment.
package diagnose

import (
	"fmt"
	"slices"
	"sort"
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
	submitTail  = 8     // the submit command's last lines kept for its cause
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

// Cause is one reason a run failed or waits.
type Cause struct {
	Kind      string    `json:"kind"`
	Step      string    `json:"step,omitempty"`
	Batch     string    `json:"batch,omitempty"`
	Pod       string    `json:"pod,omitempty"`
	Container string    `json:"container,omitempty"`
	Reason    string    `json:"reason,omitempty"`
	ExitCode  *int      `json:"exit_code,omitempty"`
	Limit     *Limits   `json:"limit,omitempty"`
	ID        string    `json:"id,omitempty"` // the stream id of the notice or line
	Message   string    `json:"message,omitempty"`
	Hint      string    `json:"hint,omitempty"`
	TS        time.Time `json:"ts"`
}

// Attempt is one container instance of a batch that ended.
type Attempt struct {
	Pod         string    `json:"pod"`
	Container   string    `json:"container"`
	ContainerID string    `json:"container_id,omitempty"`
	ExitCode    int       `json:"exit_code"`
	Reason      string    `json:"reason,omitempty"`
	StartedAt   time.Time `json:"started_at"`
	FinishedAt  time.Time `json:"finished_at"`
	ID          string    `json:"id,omitempty"`
}

// Batch is what is known of one batch Job.
type Batch struct {
	Job       string    `json:"job,omitempty"`
	JobState  string    `json:"job_state,omitempty"` // the latest batch notice's: active, succeeded, failed
	JobReason string    `json:"job_reason,omitempty"`
	Limits    Limits    `json:"limits"`
	Attempts  []Attempt `json:"attempts,omitempty"`
	Dropped   int       `json:"attempts_dropped,omitempty"`
	// Live are the container instances whose lines arrived and that did not end yet.
	Live    []string  `json:"live,omitempty"`
	OOM     bool      `json:"oom,omitempty"`
	Waiting string    `json:"waiting,omitempty"` // why its pod waits ("" when it does not)
	First   time.Time `json:"first,omitempty"`   // its first line or start
}

// State is the batch's state from its Job and its attempts.
func (b *Batch) State() string { return b.stateIn(false) }

// stateIn is State in a run that is terminal or not: once the run has ended, a batch
// whose Job never said it ended is judged by its last attempt.
func (b *Batch) stateIn(runEnded bool) string {
	switch b.JobState {
	case BatchSucceeded, BatchFailed:
		return b.JobState
	}
	if len(b.Live) > 0 {
		return BatchRunning
	}
	if n := len(b.Attempts); n > 0 {
		switch {
		case b.Attempts[n-1].ExitCode == 0:
			return BatchSucceeded
		case b.JobState == BatchActive && !runEnded:
			return BatchPending // the Job retries it
		}
		return BatchFailed
	}
	if b.JobState == BatchActive {
		return BatchPending
	}
	if b.Job == "" && b.Waiting == "" {
		return BatchUnknown
	}
	return BatchPending
}

func (b *Batch) addAttempt(a Attempt) {
	if len(b.Attempts) == MaxAttempts {
		// Keep the first attempt and the latest ones.
		b.Attempts = slices.Delete(b.Attempts, 1, 2)
		b.Dropped++
	}
	b.Attempts = append(b.Attempts, a)
	if a.Reason == "OOMKilled" {
		b.OOM = true
	}
}

// Tracker is the incremental state of a run's diagnosis. The zero value is ready;
// it is kept as JSON in the archive index.
type Tracker struct {
	Batches        map[string]*Batch `json:"batches,omitempty"`
	BatchesDropped int64             `json:"batches_dropped,omitempty"`
	// Failures are failure causes, oldest first (the latest MaxFailures).
	Failures []Cause `json:"failures,omitempty"`
	// Waiting are open waiting causes, by the pod (or object) they are about.
	Waiting []Cause `json:"waiting,omitempty"`
	// LastActivity is the last line or container start; LastTrouble the last waiting
	// notice or Warning event.
	LastActivity time.Time `json:"last_activity"`
	LastTrouble  time.Time `json:"last_trouble"`
	// SubmitTail are the submit command's last lines (terminal_exec), for its cause.
	SubmitTail []Cause `json:"submit_tail,omitempty"`
}

// Clone is a deep copy.
func (t *Tracker) Clone() Tracker {
	out := *t
	out.Failures, out.Waiting, out.SubmitTail = slices.Clone(t.Failures), slices.Clone(t.Waiting), slices.Clone(t.SubmitTail)
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
		}
	}
}

func (t *Tracker) addLine(e *event.Event) {
	if e.TS.After(t.LastActivity) {
		t.LastActivity = e.TS
	}
	if e.Source == event.SourceTerminal {
		t.SubmitTail = append(t.SubmitTail, Cause{Message: e.Line, ID: e.ID, Step: e.Phase, TS: e.TS})
		if len(t.SubmitTail) > submitTail {
			t.SubmitTail = slices.Delete(t.SubmitTail, 0, 1)
		}
		return
	}
	if e.Pod == "" {
		return
	}
	t.resolveWaiting(e.Pod)
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
}

func (t *Tracker) addEnded(e *event.Event) {
	d := e.Ended
	num, isBatch := BatchOf(e.Pod)
	var b *Batch
	if isBatch {
		b = t.batch(num)
	}
	if b != nil {
		if k := instance(e); slices.Contains(b.Live, k) {
			b.Live = slices.DeleteFunc(b.Live, func(s string) bool { return s == k })
		}
		if b.First.IsZero() || !d.StartedAt.IsZero() && d.StartedAt.Before(b.First) {
			b.First = d.StartedAt
		}
		b.addAttempt(Attempt{Pod: e.Pod, Container: e.Container, ContainerID: e.ContainerID, ExitCode: d.ExitCode,
			Reason: d.Reason, StartedAt: d.StartedAt, FinishedAt: d.FinishedAt, ID: e.ID})
	}
	if d.ExitCode == 0 && d.Reason != "OOMKilled" {
		return
	}
	code := d.ExitCode
	c := Cause{Kind: KindContainer, Step: e.Phase, Batch: num, Pod: e.Pod, Container: e.Container, Reason: d.Reason,
		ExitCode: &code, ID: e.ID, Message: e.Line, TS: e.TS}
	if b != nil && (b.Limits != Limits{}) {
		l := b.Limits
		c.Limit = &l
	}
	msg := e.Line
	for _, f := range slices.Backward(t.Failures) {
		if f.Kind != KindEvent || f.Pod != e.Pod {
			continue
		}
		if f.Reason == "Evicted" || f.Reason == "Preempted" {
			return // the kubelet killed it for that: the event is the cause, this its consequence
		}
		if f.Reason == d.Reason {
			msg = f.Message // a Warning event of the same pod and reason says why in more words
			break
		}
	}
	c.Hint = Hint(c, msg)
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
	c.Hint = Hint(c, e.Line)
	switch d.Reason {
	case "FailedScheduling", "FailedCreate", "BackOff", "FailedMount", "FailedAttachVolume", "ImagePullBackOff",
		"ErrImagePull", "Failed":
		// The pod (or Job) waits because of it: a waiting cause until it moves on.
		if d.Reason == "Failed" && strings.Contains(strings.ToLower(e.Line), "pull") {
			c.Reason = "ErrImagePull"
			c.Hint = Hint(c, e.Line)
		}
		c.Kind = KindWaiting
		t.wait(c, name)
		return
	case "BackoffLimitExceeded":
		if b := t.Batches[num]; num != "" && b != nil && b.failedAttempt() {
			return // the failed attempts are the causes; this is their consequence
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
	c.Hint = Hint(c, e.Line)
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
	b.Job = objectName(d.Object)
	b.JobState, b.JobReason = d.State, d.Reason
	if d.Memory != "" || d.CPU != "" {
		b.Limits = Limits{Memory: d.Memory, CPU: d.CPU}
	}
	if d.State == BatchSucceeded || d.State == BatchFailed {
		b.Live, b.Waiting = nil, ""
		t.resolveWaitingBatch(num)
	}
	if d.State == BatchFailed && !b.failedAttempt() {
		// The Job failed with no failed attempt seen (its pods were missed, or it never
		// made one): the Job's reason is the cause.
		c := Cause{Kind: KindEvent, Step: e.Phase, Batch: num, Reason: d.Reason, ID: e.ID, Message: e.Line, TS: e.TS}
		if (b.Limits != Limits{}) {
			l := b.Limits
			c.Limit = &l
		}
		c.Hint = Hint(c, e.Line)
		t.fail(c)
	}
}

// failedAttempt: an attempt of the batch ended non-zero (or OOMKilled).
func (b *Batch) failedAttempt() bool {
	return slices.ContainsFunc(b.Attempts, func(a Attempt) bool { return a.ExitCode != 0 || a.Reason == "OOMKilled" })
}

func (t *Tracker) addCommandEnded(e *event.Event) {
	d := e.Detail
	if d.ExitCode == nil || *d.ExitCode == 0 {
		return
	}
	code := *d.ExitCode
	c := Cause{Kind: KindSubmit, Step: e.Phase, ExitCode: &code, ID: e.ID, Message: e.Line, TS: e.TS}
	// The last error line the command wrote says more than its exit code.
	for _, l := range slices.Backward(t.SubmitTail) {
		if strings.Contains(l.Message, "ERROR") || strings.Contains(l.Message, "Error") {
			c.Message, c.ID = l.Message, l.ID
			break
		}
	}
	c.Hint = Hint(c, c.Message)
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
		if b := t.batch(c.Batch); b != nil && len(b.Live) == 0 && b.JobState != BatchSucceeded && b.JobState != BatchFailed {
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

// Progress counts a run's batches.
type Progress struct {
	Batches   int        `json:"batches"`
	Pending   int        `json:"pending"`
	Running   int        `json:"running"`
	Succeeded int        `json:"succeeded"`
	Failed    int        `json:"failed"`
	ETA       *time.Time `json:"eta"`
}

// Diagnosis is the answer of docs/api.md §8.
type Diagnosis struct {
	State    string    `json:"state"`
	Headline string    `json:"headline"`
	Progress *Progress `json:"progress"`
	Causes   []Cause   `json:"causes"`
	// Batches are the batches one by one, by number: what the batch table shows of a
	// batch no pod of which has run yet, and every attempt of the others.
	Batches []BatchState `json:"batches,omitempty"`
}

// BatchState is one batch in a Diagnosis.
type BatchState struct {
	Batch    string    `json:"batch"`
	Job      string    `json:"job,omitempty"`
	State    string    `json:"state"`
	Waiting  string    `json:"waiting,omitempty"` // why it waits, while it does
	Attempts []Attempt `json:"attempts,omitempty"`
	Limit    *Limits   `json:"limit,omitempty"`
}

// Run is what Diagnose needs of the run besides its events.
type Run struct {
	Status     string // the run record's: queued, running, completed, failed, cancelled ("" unknown)
	Now        time.Time
	StuckAfter time.Duration // 0: DefaultStuckAfter
}

// Progress counts the batches by state and estimates when the rest will be done:
// remaining × the median batch duration ÷ batches running at once, once at least
// three batches ended, and only while some run.
func (t *Tracker) Progress(now time.Time) *Progress { return t.progress(now, false) }

func (t *Tracker) progress(now time.Time, runEnded bool) *Progress {
	if len(t.Batches) == 0 {
		return nil
	}
	p := &Progress{Batches: len(t.Batches) + int(t.BatchesDropped)}
	var took []time.Duration
	for _, b := range t.Batches {
		st := b.stateIn(runEnded)
		switch st {
		case BatchRunning:
			p.Running++
		case BatchSucceeded:
			p.Succeeded++
		case BatchFailed:
			p.Failed++
		default:
			p.Pending++
			continue
		}
		if n := len(b.Attempts); n > 0 && st != BatchRunning && !b.First.IsZero() {
			if d := b.Attempts[n-1].FinishedAt.Sub(b.First); d > 0 {
				took = append(took, d)
			}
		}
	}
	p.Pending += int(t.BatchesDropped)
	if p.Running > 0 && len(took) >= 3 {
		slices.Sort(took)
		median := took[len(took)/2]
		if len(took)%2 == 0 {
			median = (took[len(took)/2-1] + took[len(took)/2]) / 2
		}
		left := p.Pending + p.Running
		eta := now.Add(time.Duration(int64(median) * int64(left) / int64(p.Running))).UTC().Truncate(time.Second)
		p.ETA = &eta
	}
	return p
}

// Diagnose is the verdict at r.Now.
func (t *Tracker) Diagnose(r Run) Diagnosis {
	stuckAfter := r.StuckAfter
	if stuckAfter <= 0 {
		stuckAfter = DefaultStuckAfter
	}
	ended := r.Status == "completed" || r.Status == "failed" || r.Status == "cancelled"
	d := Diagnosis{Progress: t.progress(r.Now, ended), Causes: []Cause{}}
	failures := slices.Clone(t.Failures)
	slices.Reverse(failures) // most recent first
	for i := range failures {
		failures[i] = t.withLimits(failures[i])
	}
	d.Causes = append(d.Causes, failures[:min(len(failures), MaxCauses)]...)
	waiting := slices.Clone(t.Waiting)
	slices.Reverse(waiting)
	d.Causes = append(d.Causes, waiting[:min(len(waiting), MaxCauses)]...)
	failed := d.Progress != nil && d.Progress.Failed > 0
	switch r.Status {
	case "completed":
		d.State = StateSucceeded
		if failed || t.submitFailed() {
			d.State = StateFailed
		}
	case "failed":
		d.State = StateFailed
	case "cancelled":
		d.State = StateCancelled
	case "queued", "running":
		// Stuck: nothing moved for stuck-after, and a pod still waits or Kubernetes
		// warned since (a quiet BLAST batch alone is not stuck).
		d.State = StateRunning
		since := t.stuckSince()
		trouble := len(t.Waiting) > 0 || t.LastTrouble.After(t.LastActivity)
		if trouble && !since.IsZero() && r.Now.Sub(since) >= stuckAfter {
			d.State = StateStuck
		}
	default:
		d.State = StateUnknown
	}
	if d.State != StateRunning && d.State != StateStuck && d.Progress != nil {
		d.Progress.ETA = nil
	}
	d.Headline = t.headline(d, r.Now, ended)
	d.Batches = t.batchStates(ended)
	return d
}

func (t *Tracker) batchStates(runEnded bool) []BatchState {
	out := make([]BatchState, 0, len(t.Batches))
	for num, b := range t.Batches {
		bs := BatchState{Batch: num, Job: b.Job, State: b.stateIn(runEnded), Attempts: b.Attempts}
		if bs.State == BatchPending {
			bs.Waiting = b.Waiting
		}
		if (b.Limits != Limits{}) {
			l := b.Limits
			bs.Limit = &l
		}
		out = append(out, bs)
	}
	slices.SortFunc(out, func(a, b BatchState) int {
		if len(a.Batch) != len(b.Batch) {
			return len(a.Batch) - len(b.Batch)
		}
		return strings.Compare(a.Batch, b.Batch)
	})
	return out
}

// withLimits gives a batch's cause the limits its Job said after the cause was seen.
func (t *Tracker) withLimits(c Cause) Cause {
	if c.Limit != nil || c.Batch == "" {
		return c
	}
	if b := t.Batches[c.Batch]; b != nil && (b.Limits != Limits{}) {
		l := b.Limits
		c.Limit = &l
		if c.Reason == "OOMKilled" {
			c.Hint = Hint(c, c.Message)
		}
	}
	return c
}

func (t *Tracker) submitFailed() bool {
	return slices.ContainsFunc(t.Failures, func(c Cause) bool { return c.Kind == KindSubmit })
}

func (t *Tracker) oldestWaiting() time.Time {
	var at time.Time
	for _, w := range t.Waiting {
		if at.IsZero() || w.TS.Before(at) {
			at = w.TS
		}
	}
	return at
}

// firstBatchFailure is the failed batch to name in a headline: the lowest batch
// number among the failed batches, with its cause.
func (t *Tracker) firstBatchFailure(runEnded bool) (string, Cause, bool) {
	var nums []string
	for n, b := range t.Batches {
		if b.stateIn(runEnded) == BatchFailed {
			nums = append(nums, n)
		}
	}
	if len(nums) == 0 {
		return "", Cause{}, false
	}
	sort.Strings(nums)
	num := nums[0]
	// The cause to name: OOMKilled first, then a container's exit, then the Job's.
	rank := func(c Cause) int {
		switch {
		case c.Reason == "OOMKilled":
			return 3
		case c.Kind == KindContainer && c.ExitCode != nil:
			return 2
		}
		return 1
	}
	var best Cause
	found := false
	for _, c := range slices.Backward(t.Failures) {
		if c.Batch == num && (!found || rank(c) > rank(best)) {
			best, found = t.withLimits(c), true
		}
	}
	if !found {
		b := t.Batches[num]
		best = Cause{Kind: KindContainer, Batch: num, Reason: b.JobReason}
		if n := len(b.Attempts); n > 0 {
			code := b.Attempts[n-1].ExitCode
			best.ExitCode, best.Reason = &code, b.Attempts[n-1].Reason
		}
	}
	return num, best, true
}

func plural(n int, one, many string) string {
	if n == 1 {
		return fmt.Sprintf("%d %s", n, one)
	}
	return fmt.Sprintf("%d %s", n, many)
}

func (t *Tracker) headline(d Diagnosis, now time.Time, ended bool) string {
	p := d.Progress
	retried := 0
	for _, b := range t.Batches {
		if b.State() == BatchSucceeded && slices.ContainsFunc(b.Attempts, func(a Attempt) bool { return a.ExitCode != 0 }) {
			retried++
		}
	}
	switch d.State {
	case StateSucceeded:
		if p == nil {
			return "The run succeeded."
		}
		s := fmt.Sprintf("All %s succeeded", plural(p.Batches, "batch", "batches"))
		if retried > 0 {
			s += fmt.Sprintf(", %s after a retry", plural(retried, "batch", "batches"))
		}
		return s + "."
	case StateCancelled:
		return "The run was cancelled."
	case StateFailed:
		if num, c, ok := t.firstBatchFailure(ended); ok {
			return fmt.Sprintf("%d of %s failed: batch %s %s.", p.Failed, plural(p.Batches, "batch", "batches"), num, describe(c))
		}
		for _, c := range slices.Backward(t.Failures) {
			if c.Kind == KindSubmit {
				s := fmt.Sprintf("elastic-blast submit failed with exit code %d", *c.ExitCode)
				if m := ExitMeaning(KindSubmit, *c.ExitCode); m != "" {
					s += " (" + m + ")"
				}
				return s + "."
			}
		}
		if len(t.Failures) > 0 {
			c := t.Failures[len(t.Failures)-1]
			who := c.Pod
			if who == "" {
				who = "the run"
			}
			return fmt.Sprintf("The run failed: %s %s.", who, describe(c))
		}
		return "The run failed."
	case StateStuck:
		s := fmt.Sprintf("No progress for %s", roundDur(now.Sub(t.stuckSince())))
		if len(t.Waiting) > 0 {
			w := t.Waiting[len(t.Waiting)-1]
			s += fmt.Sprintf(": %s waiting, the latest on %s", plural(t.waitingPods(), "pod", "pods"), w.Reason)
		}
		return s + "."
	case StateRunning:
		if p == nil {
			if len(t.Waiting) > 0 {
				return fmt.Sprintf("Running; %s waiting (%s).", plural(t.waitingPods(), "pod is", "pods are"), t.Waiting[len(t.Waiting)-1].Reason)
			}
			return "Running."
		}
		s := fmt.Sprintf("%d of %s done, %d running", p.Succeeded+p.Failed, plural(p.Batches, "batch", "batches"), p.Running)
		if p.Failed > 0 {
			s += fmt.Sprintf(", %d failed", p.Failed)
		}
		if len(t.Waiting) > 0 {
			s += fmt.Sprintf("; %s waiting (%s)", plural(t.waitingPods(), "pod", "pods"), t.Waiting[len(t.Waiting)-1].Reason)
		}
		return s + "."
	}
	return "Nothing is known of this run yet."
}

func (t *Tracker) stuckSince() time.Time {
	if !t.LastActivity.IsZero() {
		return t.LastActivity
	}
	return t.oldestWaiting()
}

func (t *Tracker) waitingPods() int {
	seen := map[string]bool{}
	for _, w := range t.Waiting {
		seen[w.Pod] = true
	}
	return len(seen)
}

func roundDur(d time.Duration) string {
	switch {
	case d >= time.Hour:
		return fmt.Sprintf("%d h %d min", int(d.Hours()), int(d.Minutes())%60)
	case d >= time.Minute:
		return fmt.Sprintf("%d min", int(d.Minutes()))
	}
	return fmt.Sprintf("%d s", int(d.Seconds()))
}
