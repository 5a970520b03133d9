package diagnose

import (
	"fmt"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/blastlog/blastlog/core/job"
)

// Diagnosis is the answer of docs/api.md §8.
type Diagnosis struct {
	State    string    `json:"state"`
	Headline string    `json:"headline"`
	Progress *Progress `json:"progress"`
	Causes   []Cause   `json:"causes"`
	// Batches are the batches one by one, by number: what the batch table shows of a
	// batch no pod of which has run yet, and every attempt of the others.
	Batches []BatchState `json:"batches,omitempty"`
	// Cost: the run's node-hours, and dollars with prices (nil before a node notice).
	Cost *Cost `json:"cost,omitempty"`
	// ClusterIdle: nodes the run used were still up BLASTLOG_IDLE_AFTER after it ended.
	ClusterIdle *ClusterIdle `json:"cluster_idle,omitempty"`
}

// BatchState is one batch in a Diagnosis.
type BatchState struct {
	Batch   string `json:"batch"`
	Job     string `json:"job,omitempty"`
	State   string `json:"state"`
	Waiting string `json:"waiting,omitempty"` // why it waits, while it does
	// Retries counts its failed attempts: a batch that succeeded after them is
	// "succeeded, after N retries", not a failure.
	Retries  int       `json:"retries,omitempty"`
	Attempts []Attempt `json:"attempts,omitempty"`
	Limit    *Limits   `json:"limit,omitempty"`
	Peak     *Peak     `json:"peak,omitempty"` // the most any of its attempts was seen to use
	// Started is its first line or container start (nil before either).
	Started *time.Time `json:"started,omitempty"`
}

// Run is what Diagnose needs of the run besides its events.
type Run struct {
	Status     string // the run record's: queued, running, completed, failed, cancelled ("" unknown)
	Now        time.Time
	StuckAfter time.Duration // 0: DefaultStuckAfter
	Prices     Prices        // none: node-hours only
}

// Diagnose is the verdict at r.Now.
func (t *Tracker) Diagnose(r Run) Diagnosis {
	stuckAfter := r.StuckAfter
	if stuckAfter <= 0 {
		stuckAfter = DefaultStuckAfter
	}
	ended := job.Status(r.Status).Terminal()
	d := Diagnosis{Progress: t.progress(r.Now, ended), Causes: t.causes(ended)}
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
		if trouble && !since.IsZero() && r.Now.Sub(since) >= stuckAfter || len(t.Stalled) > 0 {
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
	var eta *time.Time
	if d.Progress != nil {
		eta = d.Progress.ETA
	}
	d.Cost = t.cost(r.Now, ended, eta, r.Prices)
	d.ClusterIdle = t.ClusterIdle
	return d
}

// causes are the failures (most recent first, at most MaxCauses), then the waiting
// causes. A batch that recovered on a retry is no failure: its failed attempts stay
// in the batch table and as notices, not as causes.
func (t *Tracker) causes(ended bool) []Cause {
	out := []Cause{}
	for _, c := range slices.Backward(t.Failures) {
		if len(out) == MaxCauses {
			break
		}
		if c.Batch != "" {
			b := t.Batches[c.Batch]
			if b != nil && b.stateIn(ended) == BatchSucceeded {
				continue
			}
			if b != nil && c.Kind == KindEvent && jobLevel(c.Reason) && b.failedAttempt() {
				continue // its failed attempts are the causes; the Job's end is their consequence
			}
		}
		out = append(out, t.explain(c))
	}
	if !ended {
		for _, c := range slices.Backward(t.Stalled) {
			out = append(out, t.explain(c))
		}
	}
	waiting := 0
	for _, c := range slices.Backward(t.Waiting) {
		if waiting == MaxCauses {
			break
		}
		out = append(out, t.explain(c))
		waiting++
	}
	return out
}

// explain gives a cause its limits (memory causes only: the Job template's, else the
// pod spec's) and its hint, from what is known now.
func (t *Tracker) explain(c Cause) Cause {
	if memoryCause(c) && c.Limit == nil && c.Batch != "" {
		if b := t.Batches[c.Batch]; b != nil && (b.limits() != Limits{}) {
			l := b.limits()
			c.Limit = &l
		}
	}
	if !memoryCause(c) {
		c.Limit = nil
	}
	var blast *int
	if b := t.Batches[c.Batch]; c.Batch != "" && b != nil && c.Kind == KindContainer {
		blast = b.BlastExit
	}
	c.Hint = hintFor(c, blast)
	return c
}

// memoryCause: a cause about memory, the only kind a memory limit and a memory hint
// apply to.
func memoryCause(c Cause) bool {
	return c.Reason == "OOMKilled" || c.Reason == "Evicted" && strings.Contains(strings.ToLower(c.Message), "memory")
}

func (t *Tracker) batchStates(runEnded bool) []BatchState {
	out := make([]BatchState, 0, len(t.Batches))
	for num, b := range t.Batches {
		bs := BatchState{Batch: num, Job: b.Job, State: b.stateIn(runEnded), Attempts: b.Attempts, Retries: b.Retries()}
		if len(t.Nodes) > 0 && len(b.Attempts) > 0 {
			bs.Attempts = slices.Clone(b.Attempts)
			for i, a := range bs.Attempts {
				if n := t.Nodes[a.Node]; n != nil {
					bs.Attempts[i].NodeType = n.Type
				}
			}
		}
		if bs.State == BatchPending {
			bs.Waiting = b.Waiting
		}
		if l := b.limits(); (l != Limits{}) {
			bs.Limit = &l
		}
		for _, a := range b.Attempts {
			bs.Peak = higher(bs.Peak, a.Peak)
		}
		if !b.First.IsZero() {
			first := b.First
			bs.Started = &first
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
	sort.Slice(nums, func(i, j int) bool {
		if len(nums[i]) != len(nums[j]) {
			return len(nums[i]) < len(nums[j])
		}
		return nums[i] < nums[j]
	})
	num := nums[0]
	// The cause to name: OOMKilled first, then a container's exit, then an event about
	// the batch's pod, then the Job's end (whatever order they were stored in).
	rank := func(c Cause) int {
		switch {
		case c.Reason == "OOMKilled":
			return 4
		case c.Kind == KindContainer && c.ExitCode != nil:
			return 3
		case !jobLevel(c.Reason):
			return 2
		}
		return 1
	}
	var best Cause
	found := false
	for _, c := range slices.Backward(t.Failures) {
		if c.Batch == num && (!found || rank(c) > rank(best)) {
			best, found = c, true
		}
	}
	if !found {
		b := t.Batches[num]
		best = Cause{Kind: KindContainer, Batch: num, Reason: cmpOr(b.JobEnded, b.JobReason)}
		if last, ok := b.lastAttempt(); ok {
			code := last.ExitCode
			best.ExitCode, best.Reason = &code, last.Reason
		}
	}
	return num, t.explain(best), true
}

func cmpOr(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

func plural(n int, one, many string) string {
	if n == 1 {
		return fmt.Sprintf("%d %s", n, one)
	}
	return fmt.Sprintf("%d %s", n, many)
}

func (t *Tracker) headline(d Diagnosis, now time.Time, ended bool) string {
	p := d.Progress
	switch d.State {
	case StateSucceeded:
		if p == nil {
			return "The run succeeded."
		}
		s := fmt.Sprintf("All %s succeeded", plural(p.Batches, "batch", "batches"))
		retried := 0
		for _, b := range t.Batches {
			if b.stateIn(true) == BatchSucceeded && b.Retries() > 0 {
				retried++
			}
		}
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
				return submitHeadline(c)
			}
		}
		if cs := t.causes(ended); len(cs) > 0 && cs[0].Kind != KindWaiting {
			c := cs[0]
			who := c.Pod
			if who == "" {
				who = "the run"
			}
			return fmt.Sprintf("The run failed: %s %s.", who, describe(c))
		}
		return "The run failed."
	case StateStuck:
		if n := len(t.Stalled); n > 0 {
			c := t.Stalled[n-1]
			who := c.Pod
			if c.Batch != "" {
				who = "batch " + c.Batch
			}
			s := fmt.Sprintf("%s has stalled: no CPU and no line for %s", who, Duration(now.Sub(c.TS)))
			if n > 1 {
				s += fmt.Sprintf(" (%s stalled)", plural(n, "container", "containers"))
			}
			return strings.ToUpper(s[:1]) + s[1:] + "."
		}
		s := fmt.Sprintf("No progress for %s", Duration(now.Sub(t.stuckSince())))
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
		s := p.Text
		if len(t.Waiting) > 0 {
			s += fmt.Sprintf("; %s waiting (%s)", plural(t.waitingPods(), "pod", "pods"), t.Waiting[len(t.Waiting)-1].Reason)
		}
		return s + "."
	}
	return "Nothing is known of this run yet."
}

// submitHeadline names a failed submit by the table's entry for its error, else by
// its exit code.
func submitHeadline(c Cause) string {
	s := fmt.Sprintf("elastic-blast submit failed with exit code %d", *c.ExitCode)
	if r, ok := ruleNamed(c.Reason); ok {
		return fmt.Sprintf("elastic-blast submit failed: %s (exit code %d).", r.Headline, *c.ExitCode)
	}
	if m := ExitMeaning(KindSubmit, *c.ExitCode); m != "" {
		s += " (" + m + ")"
	}
	return s + "."
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

// Duration is how blastlog says a duration to people: "45 s", "12 min", "1 h 30 min".
func Duration(d time.Duration) string {
	switch {
	case d >= time.Hour:
		return fmt.Sprintf("%d h %d min", int(d.Hours()), int(d.Minutes())%60)
	case d >= time.Minute:
		return fmt.Sprintf("%d min", int(d.Minutes()))
	}
	return fmt.Sprintf("%d s", int(d.Seconds()))
}

// jobLevel: a reason that says a batch's Job gave up, not why.
func jobLevel(reason string) bool { return reason == "BackoffLimitExceeded" || reason == "" }
