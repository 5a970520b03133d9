package target

import (
	"strings"
	"time"

	"github.com/blastlog/blastlog/core/event"
)

// Label and environment names ElasticBLAST sets.
const (
	LabelJobID   = "elb-job-id"
	LabelApp     = "app"
	EnvJobID     = "BLAST_ELB_JOB_ID"
	LabelJobName = "job-name"
	LabelJobNew  = "batch.kubernetes.io/job-name"
)

// State of a container.
type State int

const (
	Waiting State = iota
	Running
	Terminated
)

// Container is what discovery needs of one container of a pod.
type Container struct {
	Name         string
	ID           string // runtime id of the current instance (status.containerID), "" before it starts
	State        State
	RestartCount int
	Env          map[string]string // literal values from the pod spec
	// How the current instance ran, from its status (zero until known).
	StartedAt, FinishedAt time.Time
	ExitCode              int
	Reason                string // the kubelet's: Completed, Error, OOMKilled, ...
	// Why it waits (ImagePullBackOff, CreateContainerConfigError, ...) and its message,
	// while State is Waiting.
	WaitingReason, WaitingMessage string
	// MemoryLimit and CPULimit are its resource limits from the pod spec ("" if none).
	MemoryLimit, CPULimit string
	// Last is how the instance before the current one ended (status.lastState), zero
	// when there was none: a restart in place replaces the instance before the pod's
	// status ever shows it ended.
	Last Ended
}

// Ended is how one container instance ended.
type Ended struct {
	ID                    string
	ExitCode              int
	Reason                string
	StartedAt, FinishedAt time.Time
}

// Pod is what discovery needs of one pod.
type Pod struct {
	Namespace, Name, UID string
	Labels               map[string]string
	Job                  string // owning Job's name (ownerReferences, else the job-name labels)
	Init                 []Container
	Main                 []Container
	Deleted              bool
	// CreatedAt is when the pod was created; Unschedulable and UnschedulableMessage are
	// the PodScheduled condition's reason and message while it is False.
	CreatedAt                           time.Time
	Unschedulable, UnschedulableMessage string
	// Node is the node it was scheduled on ("" before).
	Node string
}

// Started reports whether any container of the pod has an instance.
func (p Pod) Started() bool {
	for _, cs := range [][]Container{p.Init, p.Main} {
		for _, c := range cs {
			if c.ID != "" || c.State != Waiting {
				return true
			}
		}
	}
	return false
}

// Job is what the collector needs of one Kubernetes Job.
type Job struct {
	Namespace, Name string
	Labels          map[string]string
	Env             map[string]string // the pod template's literal env (BLAST_ELB_JOB_ID)
	// Done: "succeeded" (a Complete condition), "failed" (Failed) or "" while active;
	// Reason is the Failed condition's (BackoffLimitExceeded, DeadlineExceeded).
	Done, Reason string
	// Limits of the template's first container (ElasticBLAST's blast container).
	MemoryLimit, CPULimit string
	Deleted               bool
}

// OwnsJob reports whether a Job belongs to the run, by the rules of Owns.
func (r Run) OwnsJob(j Job) bool {
	return r.Owns(Pod{Name: j.Name, Labels: j.Labels, Main: []Container{{Env: j.Env}}})
}

// Event is one core/v1 Event.
type Event struct {
	UID                string
	Kind, Name         string // the involved object's
	FieldPath          string // "spec.containers{blast}" when about one container
	Type, Reason, Text string
	Count              int
	First, Last        time.Time
}

// Container is the container an event's field path names ("" if none).
func (e Event) Container() string {
	_, rest, ok := strings.Cut(e.FieldPath, "{")
	if !ok {
		return ""
	}
	name, _, _ := strings.Cut(rest, "}")
	return name
}

// Run identifies an ElasticBLAST run: its ElasticBLAST job id (usually "job-" + 32 hex;
// an idempotency key may replace it).
type Run struct{ ID string }

// Suffix is what ElasticBLAST appends to its object names: the last 8 characters of the
// id after a leading "job-". It is "" for ids too short to be told apart safely.
func (r Run) Suffix() string {
	id := strings.TrimPrefix(r.ID, "job-")
	if len(id) < 8 {
		return ""
	}
	return id[len(id)-8:]
}

// Owns reports whether p belongs to the run. A label or an environment value naming a
// run is authoritative: one that names another run excludes the pod even if its name
// carries a look-alike segment. Without either, the run's suffix must stand as a whole
// "-"-separated segment of the pod's or its Job's name.
func (r Run) Owns(p Pod) bool {
	if r.ID == "" {
		return false
	}
	if v, ok := p.Labels[LabelJobID]; ok && v != "" {
		return v == r.ID
	}
	for _, cs := range [][]Container{p.Init, p.Main} {
		for _, c := range cs {
			if v, ok := c.Env[EnvJobID]; ok && v != "" {
				return v == r.ID
			}
		}
	}
	s := r.Suffix()
	return s != "" && (hasSegment(p.Name, s) || hasSegment(p.Job, s))
}

func hasSegment(name, seg string) bool {
	for _, part := range strings.Split(name, "-") {
		if part == seg {
			return true
		}
	}
	return false
}

// PhaseOf is the execution step a pod's lines belong to.
func PhaseOf(p Pod) string {
	name := p.Job
	if name == "" {
		name = p.Name
	}
	switch app := p.Labels[LabelApp]; {
	case app == "setup", strings.HasPrefix(name, "init-ssd-"), strings.HasPrefix(name, "init-pv"):
		return event.PhaseStagingDB
	case app == "finalizer", strings.HasPrefix(name, "elb-finalizer-"):
		return event.PhaseExportingResults
	case app == "elb-db-warmup", strings.HasPrefix(name, "warm-"):
		return event.PhaseWarmingUp
	}
	return event.PhaseRunning // submit-jobs and the batch jobs
}

// Target is one container instance to follow. A restart is a new target (new ID).
type Target struct {
	Namespace, Pod, PodUID string
	Container, ContainerID string
	Init                   bool
	Phase                  string
	State                  State
	Restart                int
	StartedAt, FinishedAt  time.Time
	ExitCode               int
	Reason                 string
	Last                   Ended // the instance before this one (Container.Last)
	// MemoryLimit and CPULimit are the container's limits from the pod spec.
	MemoryLimit, CPULimit string
	Node                  string // its pod's node
}

// Key identifies a target across restarts of the collector: pod UID, container name
// and container instance.
func (t Target) Key() string { return t.PodUID + "/" + t.Container + "/" + t.ContainerID }

// KeyContainerID is the container id a Key names. Pod UIDs and container names have
// no slash; container ids do ("containerd://…"), so the id is all after the second.
func KeyContainerID(key string) (id string, ok bool) {
	parts := strings.SplitN(key, "/", 3)
	if len(parts) != 3 {
		return "", false
	}
	return parts[2], true
}

// Targets lists the containers of p that the run owns, init containers first, then
// main containers, each in the order of the pod spec. Containers that never started
// (no ID) are included as waiting targets so that a follower knows to wait for them.
func Targets(r Run, p Pod) []Target {
	if !r.Owns(p) {
		return nil
	}
	phase := PhaseOf(p)
	out := make([]Target, 0, len(p.Init)+len(p.Main))
	for _, group := range []struct {
		cs   []Container
		init bool
	}{{p.Init, true}, {p.Main, false}} {
		for _, c := range group.cs {
			out = append(out, Target{Namespace: p.Namespace, Pod: p.Name, PodUID: p.UID, Container: c.Name,
				ContainerID: c.ID, Init: group.init, Phase: phase, State: c.State, Restart: c.RestartCount,
				StartedAt: c.StartedAt, FinishedAt: c.FinishedAt, ExitCode: c.ExitCode, Reason: c.Reason, Last: c.Last,
				MemoryLimit: c.MemoryLimit, CPULimit: c.CPULimit, Node: p.Node})
		}
	}
	return out
}

// Usage is one sample of a container's use, as metrics.k8s.io gives it.
type Usage struct {
	Pod, Container string
	Memory         int64   // working set, bytes
	CPU            float64 // cores
	At             time.Time
}

// Node is what the cost needs of a node, from its well-known labels.
type Node struct {
	Name         string
	InstanceType string // node.kubernetes.io/instance-type: Standard_E32s_v3
	Region       string // topology.kubernetes.io/region
	Spot         bool   // kubernetes.azure.com/scalesetpriority=spot
}

// The labels Node is read from.
const (
	LabelInstanceType = "node.kubernetes.io/instance-type"
	LabelRegion       = "topology.kubernetes.io/region"
	LabelPriority     = "kubernetes.azure.com/scalesetpriority"
)

// NodeOf reads a node's labels.
func NodeOf(name string, labels map[string]string) Node {
	return Node{Name: name, InstanceType: labels[LabelInstanceType], Region: labels[LabelRegion], Spot: labels[LabelPriority] == "spot"}
}
