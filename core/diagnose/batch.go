package diagnose

import (
	"slices"
	"strconv"
	"strings"
	"time"
)

// Batch is what is known of one batch Job.
type Batch struct {
	Job       string `json:"job,omitempty"`
	JobState  string `json:"job_state,omitempty"` // the latest batch notice's: active, succeeded, failed
	JobReason string `json:"job_reason,omitempty"`
	// JobEnded is the reason of a Warning event that says the Job failed
	// (BackoffLimitExceeded, DeadlineExceeded): a Job the collector may not read
	// still ends the batch.
	JobEnded string `json:"job_ended,omitempty"`
	Limits   Limits `json:"limits"` // the Job template's
	// PodLimits are the pod spec's (from container_ended): the limits when the Job
	// gives none.
	PodLimits Limits    `json:"pod_limits"`
	Attempts  []Attempt `json:"attempts,omitempty"`
	Dropped   int       `json:"attempts_dropped,omitempty"`
	// Live are the container instances whose lines arrived and that did not end yet.
	Live    []string  `json:"live,omitempty"`
	OOM     bool      `json:"oom,omitempty"`
	Waiting string    `json:"waiting,omitempty"` // why its pod waits ("" when it does not)
	First   time.Time `json:"first,omitempty"`   // its first line or start
	// LastError is the last error line its containers wrote (for the hint), and
	// BlastExit the BLAST program's own exit code ElasticBLAST's job script printed
	// ("run end <job> <code>"): the blast container itself exits 0 either way.
	LastError string `json:"last_error,omitempty"`
	BlastExit *int   `json:"blast_exit,omitempty"`
}

// State is the batch's state while the run goes on.
func (b *Batch) State() string { return b.stateIn(false) }

// ended: the Job finished, by its own notice or a Warning event.
func (b *Batch) ended() bool {
	return b.JobState == BatchSucceeded || b.JobState == BatchFailed || b.JobEnded != ""
}

// stateIn is the batch's state in a run that is terminal or not. The rules keep
// done and failed from going back, whatever order the notices arrive in:
//   - the Job's word is final: succeeded or failed (its notice, or a Warning event
//     saying it failed);
//   - a batch with lines arriving runs;
//   - while its Job is known and active, a batch whose attempt ended runs (another
//     container of its pod may still work, or the Job retries it): only the Job
//     says it is over;
//   - a batch whose Job was never seen (the collector may not read Jobs) succeeded
//     when its latest attempt did, and is pending a retry when it failed;
//   - once the run has ended, a batch is judged by its last attempt.
func (b *Batch) stateIn(runEnded bool) string {
	switch {
	case b.JobState == BatchSucceeded:
		return BatchSucceeded
	case b.JobState == BatchFailed || b.JobEnded != "":
		return BatchFailed
	}
	last, attempted := b.lastAttempt()
	switch {
	case runEnded && attempted && last.failed():
		return BatchFailed
	case runEnded && attempted:
		return BatchSucceeded
	case len(b.Live) > 0:
		return BatchRunning
	case attempted && b.JobState == BatchActive:
		if last.failed() {
			return BatchPending // the Job retries it
		}
		return BatchRunning
	case attempted && !last.failed():
		return BatchSucceeded
	case attempted:
		return BatchPending // a retry may come; the run's end or the Job decides
	case b.Job != "" || b.Waiting != "":
		return BatchPending
	}
	return BatchUnknown
}

func (b *Batch) lastAttempt() (Attempt, bool) {
	if n := len(b.Attempts); n > 0 {
		return b.Attempts[n-1], true
	}
	return Attempt{}, false
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

// failedAttempt: an attempt of the batch ended non-zero (or OOMKilled).
func (b *Batch) failedAttempt() bool { return slices.ContainsFunc(b.Attempts, Attempt.failed) }

// Retries counts the batch's failed attempts (those dropped by the bound included).
func (b *Batch) Retries() int {
	n := 0
	for _, a := range b.Attempts {
		if a.failed() {
			n++
		}
	}
	return n + b.Dropped
}

// limits are the Job template's, else the pod spec's.
func (b *Batch) limits() Limits {
	if (b.Limits != Limits{}) {
		return b.Limits
	}
	return b.PodLimits
}

// blastExit reads ElasticBLAST's job script's "run end <job> <code>" line.
func blastExit(line string) (int, bool) {
	i := strings.Index(line, "run end ")
	if i < 0 {
		return 0, false
	}
	f := strings.Fields(line[i+len("run end "):])
	if len(f) != 2 {
		return 0, false
	}
	if _, err := strconv.Atoi(f[0]); err != nil {
		return 0, false
	}
	code, err := strconv.Atoi(f[1])
	return code, err == nil && code >= 0 && code < 256
}

// Progress counts a run's batches.
type Progress struct {
	Batches   int        `json:"batches"`
	Pending   int        `json:"pending"`
	Running   int        `json:"running"`
	Succeeded int        `json:"succeeded"`
	Failed    int        `json:"failed"`
	ETA       *time.Time `json:"eta"`
	// Text says the counts in the words the headline, the page's bar and the terminal
	// client all use.
	Text string `json:"text"`
}

// Progress counts the batches by state and estimates when the rest will be done:
// remaining × the median batch duration ÷ batches running at once, once at least
// three batches ended, and only while some run.
func (t *Tracker) Progress(now time.Time) *Progress { return t.progress(now, false) }

// total is the run's batch count: the Jobs seen, or what the submit output announced
// before they exist (never fewer than the batches known).
func (t *Tracker) total() int {
	return max(t.Jobs, t.Expected, len(t.Batches)) + int(t.BatchesDropped)
}

func (t *Tracker) progress(now time.Time, runEnded bool) *Progress {
	total := t.total()
	if total == 0 {
		return nil
	}
	p := &Progress{Batches: total}
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
			continue
		}
		if last, ok := b.lastAttempt(); ok && st != BatchRunning && !b.First.IsZero() {
			if d := last.FinishedAt.Sub(b.First); d > 0 {
				took = append(took, d)
			}
		}
	}
	p.Pending = total - p.Running - p.Succeeded - p.Failed
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
	p.Text = p.text()
	return p
}

// text: "15 of 24 batches done, 3 running, 5 pending, 1 failed" — done means
// succeeded; failed only when some did.
func (p *Progress) text() string {
	s := strconv.Itoa(p.Succeeded) + " of " + plural(p.Batches, "batch", "batches") + " done, " +
		strconv.Itoa(p.Running) + " running, " + strconv.Itoa(p.Pending) + " pending"
	if p.Failed > 0 {
		s += ", " + strconv.Itoa(p.Failed) + " failed"
	}
	return s
}
