package diagnose

// This file folds the collector's notices into the Tracker: stalled containers,
// container ends (attempts), Warning events, waiting pods, batch Jobs and the
// publisher's command end.

import (
	"slices"
	"strings"
	"time"

	"github.com/blastlog/blastlog/core/event"
)

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
