package ports

import (
	"context"
	"time"

	"github.com/blastlog/blastlog/core/diagnose"
)

// The kinds of news a notification tells (docs/api.md §10).
const (
	NotifyFailed    = "failed"
	NotifyStuck     = "stuck"
	NotifyOOMKilled = "oomkilled"
	NotifySucceeded = "succeeded"
	NotifyIdle      = "idle" // the run's cluster is still up after it ended (§13)
)

// Notification is what a receiver is sent about a run: no log line beyond the headline
// and the causes' own sentences leaves the system.
type Notification struct {
	JobID    string              `json:"job_id"`
	OwnerOID string              `json:"owner_oid"`
	ELBJobID string              `json:"elb_job_id"`
	State    string              `json:"state"`
	Kind     string              `json:"kind"`
	Headline string              `json:"headline"`
	Causes   []NotificationCause `json:"causes"`
	URL      string              `json:"url"`
	SentAt   time.Time           `json:"sent_at"`
	// ClusterIdle: an idle notification's nodes still up and their cost by the hour.
	ClusterIdle *diagnose.ClusterIdle `json:"cluster_idle,omitempty"`
}

// NotificationCause is a diagnosis cause as a notification carries it: what it is and
// what to do, never the text it was found in.
type NotificationCause struct {
	Kind      string           `json:"kind"`
	Step      string           `json:"step,omitempty"`
	Batch     string           `json:"batch,omitempty"`
	Pod       string           `json:"pod,omitempty"`
	Container string           `json:"container,omitempty"`
	Reason    string           `json:"reason,omitempty"`
	ExitCode  *int             `json:"exit_code,omitempty"`
	Limit     *diagnose.Limits `json:"limit,omitempty"`
	Hint      string           `json:"hint,omitempty"`
}

// NotificationSender delivers notifications to its receivers, each its own: a
// receiver that fails does not make the others get one twice.
type NotificationSender interface {
	// Receivers is how many there are.
	Receivers() int
	// Send delivers n to receiver i. An error of RetryError is tried again (after its
	// After, when set); any other error is final.
	Send(ctx context.Context, i int, n Notification) error
}

// RetryError is a failure worth trying again: a 429, a 5xx, a timeout.
type RetryError struct {
	Err   error
	After time.Duration // the receiver's Retry-After, 0 when it gave none
}

func (e *RetryError) Error() string { return e.Err.Error() }
func (e *RetryError) Unwrap() error { return e.Err }
