package ports

import (
	"context"
	"errors"
	"time"

	"github.com/blastlog/blastlog/core/job"
	"github.com/blastlog/blastlog/core/target"
)

// ErrWaiting: a container has not started yet; wait for the pod to change.
var ErrWaiting = errors.New("container is waiting to start")

// ErrForbidden: the cluster refused for lack of permission (RBAC).
var ErrForbidden = errors.New("forbidden")

// ErrCut: a log stream closed while its container still runs (a dropped connection,
// an API server restart): resume from the last line read.
var ErrCut = errors.New("log stream cut while the container runs")

// PodChange is one observation of a pod.
type PodChange struct {
	Pod     target.Pod
	Deleted bool
}

// LogRequest says which container's log to follow, and from where.
type LogRequest struct {
	Namespace, Pod, Container string
	SinceTime                 time.Time // resume: from this whole second (zero: not set)
	TailLines                 int64     // first open: at most this many earlier lines (0: all)
	Previous                  bool      // the instance before a restart
	Follow                    bool      // keep the stream open for new lines (false: one read, a poll)
}

// Cluster is the Kubernetes API as the collector needs it.
type Cluster interface {
	// WatchPods calls f for every pod of the namespace, then for every change, until
	// ctx ends. An expired watch is answered with a fresh list.
	WatchPods(ctx context.Context, namespace string, f func(PodChange)) error
	// ListPods returns the pods of the namespace now.
	ListPods(ctx context.Context, namespace string) ([]target.Pod, error)
	// Pod returns one pod now; ErrNotFound once it is gone.
	Pod(ctx context.Context, namespace, name string) (target.Pod, error)
	// FollowLog calls f with each line (kubelet timestamp first) until the stream
	// ends (with req.Follow false, at the end of what the kubelet holds now): nil when the container ended (its log is complete), ErrCut when the stream
	// closed while the container runs, ErrWaiting, ErrNotFound (pod gone), ErrForbidden,
	// or another error. Lines are at most MaxLogLine bytes; longer ones are cut. more is
	// true when further bytes have already arrived (batch them; flush when false).
	FollowLog(ctx context.Context, req LogRequest, f func(line []byte, more bool) error) error
	// WatchEvents calls f for every core/v1 Event of the namespace, then for every
	// change (a count that grows comes again), until ctx ends. ErrForbidden when the
	// collector may not list them.
	WatchEvents(ctx context.Context, namespace string, f func(target.Event)) error
	// WatchJobs calls f for every Job of the namespace, then for every change, until
	// ctx ends. ErrForbidden when the collector may not list them.
	WatchJobs(ctx context.Context, namespace string, f func(target.Job)) error
	// PodMetrics lists what metrics.k8s.io measured of the namespace's containers
	// now: one request for the namespace. ErrForbidden when the collector may not
	// list them, ErrNotFound when the cluster serves no metrics API.
	PodMetrics(ctx context.Context, namespace string) ([]target.Usage, error)
	// Node reads a node's labels: ErrForbidden when the collector may not read Nodes
	// (they are cluster-wide: the chart's rbac.nodes), ErrNotFound once it is gone.
	Node(ctx context.Context, name string) (target.Node, error)
}

// ClusterSource finds the cluster a run's pods are in, from its record: one cluster
// for every run (in-cluster, a kubeconfig) or one per run (AKS, from ARM).
type ClusterSource interface {
	For(ctx context.Context, r job.Record) (Cluster, error)
}

// Pacer spaces requests out to a budget (golang.org/x/time/rate's Limiter is one):
// Wait returns when the next request may go, or ctx's error.
type Pacer interface {
	Wait(ctx context.Context) error
}

// MaxLogLine bounds one raw log line read from the cluster.
const MaxLogLine = 64 << 10
