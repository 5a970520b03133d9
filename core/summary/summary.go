package summary

import (
	"strings"
	"time"

	"github.com/blastlog/blastlog/core/diagnose"
	"github.com/blastlog/blastlog/core/event"
	"github.com/blastlog/blastlog/core/fold"
)

// RuleVersion numbers the rules Classify applies: an archive index's per-chunk issue
// counts made under an older version are not trusted to skip a chunk (2: Warning
// events and waiting notices became warnings).
const RuleVersion = 2

// Level is how a line is flagged by the keyword rules.
type Level uint8

const (
	None Level = iota
	Warning
	Error
)

// Classify applies the keyword rules (docs/api.md §3, "Errors and warnings"):
//   - error: the line contains ERROR, Error:, FATAL or Traceback, or says a command or
//     container exited with a non-zero code ("exit code N", "exit status N", "exited with N");
//   - warning: the line contains WARN (so WARNING too) or warning: (any case).
//
// stderr alone flags nothing (ElasticBLAST logs INFO to stderr); it is counted apart.
// Of the collector's notices, a container_ended one with a non-zero exit is an error,
// and a Kubernetes Warning event (k8s_event) or a pod waiting for a reason (waiting)
// is a warning; the others are never flagged.
func Classify(e *event.Event) Level {
	l := e.Line
	switch e.Notice {
	case "", event.NoticeContainerEnded:
	case event.NoticeK8sEvent:
		if d := e.Detail; d != nil && (d.Type == "" || d.Type == "Warning") {
			return Warning
		}
		return None
	case event.NoticeWaiting:
		if d := e.Detail; d != nil && d.Reason != "" {
			return Warning
		}
		return None
	default:
		return None
	}
	if strings.Contains(l, "ERROR") || strings.Contains(l, "Error:") || strings.Contains(l, "FATAL") ||
		strings.Contains(l, "Traceback") || nonZeroExit(l) {
		return Error
	}
	if e.Notice != "" {
		return None
	}
	if strings.Contains(l, "WARN") || containsFold(l, "warning:") {
		return Warning
	}
	return None
}

var exitPhrases = []string{"exit code ", "exit status ", "exited with ", "exit code: ", "exit_code="}

// nonZeroExit finds "exit code N" (and its variants) with N other than 0.
func nonZeroExit(l string) bool {
	for _, p := range exitPhrases {
		for rest := l; ; {
			i := fold.Index(rest, p)
			if i < 0 {
				break
			}
			rest = rest[i+len(p):]
			n := 0
			for n < len(rest) && rest[n] >= '0' && rest[n] <= '9' {
				n++
			}
			if n > 0 && strings.TrimLeft(rest[:n], "0") != "" {
				return true
			}
		}
	}
	return false
}

func containsFold(s, sub string) bool { return fold.Index(s, sub) >= 0 }

// Step is one execution step's part of a run.
type Step struct {
	Count    int64     `json:"count"`
	Errors   int64     `json:"errors"`
	Warnings int64     `json:"warnings"`
	Stderr   int64     `json:"stderr"`
	FirstTS  time.Time `json:"first_ts"`
	LastTS   time.Time `json:"last_ts"`
	LastID   event.ID  `json:"last_id"`
}

// Container is one container instance's part of a run (source k8s).
type Container struct {
	event.Instance
	Restart  int       `json:"restart,omitempty"`
	Phase    string    `json:"phase"`
	Count    int64     `json:"count"`
	Errors   int64     `json:"errors"`
	LastLine string    `json:"last_line"`
	LastTS   time.Time `json:"last_ts"`
	LastID   event.ID  `json:"last_id"`
	// Ended is the container_ended notice's sentence once the collector stored it; the
	// fields after it are the notice's own (docs/api.md §1), set with it.
	Ended        string     `json:"ended,omitempty"`
	ExitCode     *int       `json:"exit_code,omitempty"`
	Reason       string     `json:"reason,omitempty"`
	StartedAt    *time.Time `json:"started_at,omitempty"`
	FinishedAt   *time.Time `json:"finished_at,omitempty"`
	Completeness string     `json:"completeness,omitempty"`
	Missing      string     `json:"missing,omitempty"`
	MissingLines int64      `json:"missing_lines,omitempty"`
	// Usage is what the metrics API measured while it ran (docs/api.md §13).
	Usage *event.Usage `json:"usage,omitempty"`
}

// MaxContainers bounds the per-container table of one run; later instances are only
// counted in Run.ContainersDropped.
const MaxContainers = 20000

// Run is a run's summary: per step (by phase; "system" for events without one) and
// per container instance.
type Run struct {
	Steps             map[string]*Step      `json:"steps"`
	Containers        map[string]*Container `json:"containers"`
	ContainersDropped int64                 `json:"containers_dropped,omitempty"`
	// Diagnosis is the state the run's verdict is derived from (docs/api.md §8): kept
	// with the counts, so a run Redis forgot keeps its verdict in the archive index.
	Diagnosis diagnose.Tracker `json:"diagnosis"`
}

// New is an empty summary.
func New() Run { return Run{Steps: map[string]*Step{}, Containers: map[string]*Container{}} }

// Init makes the maps of a decoded summary usable.
func (r *Run) Init() {
	if r.Steps == nil {
		r.Steps = map[string]*Step{}
	}
	if r.Containers == nil {
		r.Containers = map[string]*Container{}
	}
}

// StepSystem is the summary step of events without a phase.
const StepSystem = "system"

// StepOf is the summary step of an event.
func StepOf(e *event.Event) string {
	if e.Phase == "" {
		return StepSystem
	}
	return e.Phase
}

// Merge adds o's counts to s (two phases kept apart by the summary that share one
// archive step directory).
func (s *Step) Merge(o *Step) {
	s.Count += o.Count
	s.Errors += o.Errors
	s.Warnings += o.Warnings
	s.Stderr += o.Stderr
	if !o.FirstTS.IsZero() && (s.FirstTS.IsZero() || o.FirstTS.Before(s.FirstTS)) {
		s.FirstTS = o.FirstTS
	}
	if o.LastTS.After(s.LastTS) {
		s.LastTS = o.LastTS
	}
	if o.LastID.Compare(s.LastID) > 0 {
		s.LastID = o.LastID
	}
}

// Add counts one event. Events must come in stream order, each once.
func (r *Run) Add(e *event.Event) {
	r.Init()
	r.Diagnosis.Add(e)
	lvl := Classify(e)
	name := StepOf(e)
	s := r.Steps[name]
	if s == nil {
		s = &Step{FirstTS: e.TS}
		r.Steps[name] = s
	}
	s.Count++
	switch lvl {
	case Error:
		s.Errors++
	case Warning:
		s.Warnings++
	}
	if e.Stream == event.Stderr {
		s.Stderr++
	}
	if !e.TS.IsZero() && (s.FirstTS.IsZero() || e.TS.Before(s.FirstTS)) {
		s.FirstTS = e.TS
	}
	if e.TS.After(s.LastTS) {
		s.LastTS = e.TS
	}
	s.LastID = e.ID
	if e.Pod == "" || e.Notice != "" && e.Notice != event.NoticeContainerEnded {
		return // the container table is lines and ends; a notice about a pod is neither
	}
	key := e.Pod + "/" + e.Container + "/" + e.ContainerID
	c := r.Containers[key]
	if c == nil {
		if len(r.Containers) >= MaxContainers {
			r.ContainersDropped++
			return
		}
		c = &Container{Instance: e.Instance(), Restart: e.Restart, Phase: e.Phase}
		r.Containers[key] = c
	}
	if e.Notice == "container_ended" {
		c.Ended = e.Line
		if d := e.Ended; d != nil {
			code := d.ExitCode
			c.ExitCode, c.Reason, c.Completeness, c.Missing, c.MissingLines = &code, d.Reason, string(d.Completeness), d.Missing, d.MissingLines
			c.StartedAt, c.FinishedAt = timePtr(d.StartedAt), timePtr(d.FinishedAt)
			c.Usage = d.Usage
		}
		if lvl == Error {
			c.Errors++
		}
		return
	}
	c.Count++
	if lvl == Error {
		c.Errors++
	}
	c.LastLine, c.LastTS, c.LastID = e.Line, e.TS, e.ID
}

func timePtr(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	return &t
}

// Clone is a deep copy (a summary served while the archive keeps counting).
func (r *Run) Clone() Run {
	out := Run{Steps: make(map[string]*Step, len(r.Steps)), Containers: make(map[string]*Container, len(r.Containers)),
		ContainersDropped: r.ContainersDropped, Diagnosis: r.Diagnosis.Clone()}
	for k, v := range r.Steps {
		s := *v
		out.Steps[k] = &s
	}
	for k, v := range r.Containers {
		c := *v
		out.Containers[k] = &c
	}
	return out
}
