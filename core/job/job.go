package job

import (
	"fmt"
	"regexp"
	"time"

	"github.com/blastlog/blastlog/core/event"
)

// Status is the life-cycle state of a run.
type Status string

const (
	Queued    Status = "queued"
	Running   Status = "running"
	Completed Status = "completed"
	Failed    Status = "failed"
	Cancelled Status = "cancelled"
)

// ParseStatus accepts exactly the statuses of the contract.
func ParseStatus(s string) (Status, error) {
	switch st := Status(s); st {
	case Queued, Running, Completed, Failed, Cancelled:
		return st, nil
	}
	return "", fmt.Errorf("%w: status %q is not one of queued, running, completed, failed, cancelled",
		event.ErrInvalid, clip(s))
}

// Terminal reports whether a run in this status produces no more lines of its own.
func (s Status) Terminal() bool { return s == Completed || s == Failed || s == Cancelled }

// DefaultNamespace is where ElasticBLAST creates its pods unless told otherwise.
const DefaultNamespace = "default"

// Record is what the directory knows about one run. Cluster coordinates come only
// from here, never from a client.
type Record struct {
	JobID          string
	OwnerOID       string
	ELBJobID       string
	Status         Status
	SubscriptionID string
	ResourceGroup  string
	ClusterName    string
	Namespace      string
	CreatedAt      time.Time
	UpdatedAt      time.Time
}

// Validate checks a record before it is registered.
func (r *Record) Validate() error {
	if err := event.ValidateJobID(r.JobID); err != nil {
		return err
	}
	if r.OwnerOID == "" {
		return fmt.Errorf("%w: owner oid is empty", event.ErrInvalid)
	}
	for name, v := range map[string]string{"owner oid": r.OwnerOID, "elb job id": r.ELBJobID,
		"subscription": r.SubscriptionID, "resource group": r.ResourceGroup, "cluster": r.ClusterName,
		"namespace": r.Namespace} {
		if len(v) > 256 {
			return fmt.Errorf("%w: %s is longer than 256 bytes", event.ErrInvalid, name)
		}
		for _, c := range []byte(v) {
			if c < 0x20 || c == 0x7f {
				return fmt.Errorf("%w: %s contains control characters", event.ErrInvalid, name)
			}
		}
	}
	if r.Status != "" {
		if _, err := ParseStatus(string(r.Status)); err != nil {
			return err
		}
	}
	return nil
}

func clip(s string) string { return event.Cut(s, 41, "…") }

var unsafeRun = regexp.MustCompile(`[^A-Za-z0-9_.:-]+`)

// safe reports whether id is all [A-Za-z0-9_.:-] (SafeID's common case, on the hot
// path of every read: no regexp, no allocation).
func safe(id string) bool {
	for i := 0; i < len(id); i++ {
		switch c := id[i]; {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9', c == '_', c == '.', c == ':', c == '-':
		default:
			return false
		}
	}
	return true
}

// SafeID maps a run id to the form its storage names use, as the Python producers do:
// runs of characters outside [A-Za-z0-9_.:-] become "_", at most 160 bytes, "unknown"
// if empty.
func SafeID(id string) string {
	s := id
	if !safe(id) {
		s = unsafeRun.ReplaceAllString(id, "_")
	}
	if len(s) > 160 {
		s = s[:160]
	}
	if s == "" {
		return "unknown"
	}
	return s
}
