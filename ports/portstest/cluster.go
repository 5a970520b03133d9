package portstest

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/blastlog/blastlog/core/job"
	"github.com/blastlog/blastlog/core/target"
	"github.com/blastlog/blastlog/ports"
)

// Cluster is an in-memory ports.Cluster: pods whose containers write lines and end,
// events and Jobs, each watch told of every change. Log lines carry the kubelet's
// timestamp prefix, as the real API sends them with timestamps=true.
type Cluster struct {
	mu      sync.Mutex
	pods    map[string]*fakePod // ns/name
	events  map[string]target.Event
	jobs    map[string]target.Job
	changed chan struct{} // closed and replaced on every change
	seq     int
	now     func() time.Time
	// Forbid makes the named watches answer ports.ErrForbidden ("events", "jobs",
	// "metrics").
	forbid    map[string]bool
	usage     map[string]target.Usage // ns/pod/container -> what the metrics API says now
	nodes     map[string]target.Node
	noMetrics bool
	metricsN  int
}

type fakePod struct {
	pod   target.Pod
	logs  map[string][]string // container name -> the current instance's log lines
	lost  bool                // its logs cannot be read (LoseLogs)
	files map[string]int      // container name -> how often its file was rotated
}

// NewCluster is an empty cluster.
func NewCluster() *Cluster {
	return &Cluster{pods: map[string]*fakePod{}, events: map[string]target.Event{}, jobs: map[string]target.Job{},
		changed: make(chan struct{}), now: time.Now, forbid: map[string]bool{}, usage: map[string]target.Usage{},
		nodes: map[string]target.Node{}}
}

var _ ports.Cluster = (*Cluster)(nil)

var _ ports.ClusterSource = (*Cluster)(nil)

// For makes the cluster its own ports.ClusterSource: every run's pods are in it.
func (c *Cluster) For(context.Context, job.Record) (ports.Cluster, error) { return c, nil }

func (c *Cluster) changedLocked() {
	close(c.changed)
	c.changed = make(chan struct{})
}

// Forbid makes a watch ("events" or "jobs") or the metrics ("metrics") answer
// ports.ErrForbidden.
func (c *Cluster) Forbid(what string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.forbid[what] = true
}

// AddPod adds (or replaces) a pod: its containers' IDs and states are as given.
func (c *Cluster) AddPod(p target.Pod) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if p.Namespace == "" {
		p.Namespace = "default"
	}
	if p.UID == "" {
		c.seq++
		p.UID = fmt.Sprintf("uid-%d", c.seq)
	}
	fp := c.pods[p.Namespace+"/"+p.Name]
	if fp == nil {
		fp = &fakePod{logs: map[string][]string{}}
		c.pods[p.Namespace+"/"+p.Name] = fp
	}
	fp.pod = p
	c.changedLocked()
}

// UpdatePod changes a pod in place.
func (c *Cluster) UpdatePod(ns, name string, f func(p *target.Pod)) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if fp := c.pods[ns+"/"+name]; fp != nil {
		f(&fp.pod)
		c.changedLocked()
	}
}

// StartContainer gives a container a running instance (a new one after an earlier
// instance ended: a restart).
func (c *Cluster) StartContainer(ns, name, container string) {
	c.UpdatePod(ns, name, func(p *target.Pod) {
		c.seq++
		ct := containerOf(p, container)
		if ct.ID != "" {
			ct.RestartCount++
		}
		ct.ID, ct.State, ct.StartedAt = fmt.Sprintf("containerd://%s-%d", container, c.seq), target.Running, c.now()
		ct.WaitingReason, ct.WaitingMessage = "", ""
		c.pods[ns+"/"+name].logs[container] = nil
	})
}

// Log appends lines to a container's current instance.
func (c *Cluster) Log(ns, name, container string, lines ...string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	fp := c.pods[ns+"/"+name]
	for _, l := range lines {
		fp.logs[container] = append(fp.logs[container], c.now().UTC().Format(time.RFC3339Nano)+" "+l)
	}
	c.changedLocked()
}

// EndContainer terminates a container's current instance.
func (c *Cluster) EndContainer(ns, name, container string, exit int, reason string) {
	c.UpdatePod(ns, name, func(p *target.Pod) {
		ct := containerOf(p, container)
		ct.State, ct.ExitCode, ct.Reason, ct.FinishedAt = target.Terminated, exit, reason, c.now()
	})
}

// DeletePod removes a pod.
func (c *Cluster) DeletePod(ns, name string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if fp := c.pods[ns+"/"+name]; fp != nil {
		fp.pod.Deleted = true
		c.changedLocked()
	}
}

func containerOf(p *target.Pod, name string) *target.Container {
	for _, cs := range [][]target.Container{p.Init, p.Main} {
		for i := range cs {
			if cs[i].Name == name {
				return &cs[i]
			}
		}
	}
	panic("portstest.Cluster: no container " + name + " in pod " + p.Name)
}

// Event records a Kubernetes event (replacing one of the same UID, as a count grows).
func (c *Cluster) Event(e target.Event) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.events[e.UID] = e
	c.changedLocked()
}

// Job records a Job (replacing one of the same name).
func (c *Cluster) Job(j target.Job) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.jobs[j.Name] = j
	c.changedLocked()
}

// WatchPods implements ports.Cluster: every pod, then every pod again on each change
// (a fake may repeat what did not change; the collector takes a pod as often as it
// is told of it).
func (c *Cluster) WatchPods(ctx context.Context, ns string, f func(ports.PodChange)) error {
	return c.watch(ctx, "", func() {
		for _, p := range c.snapshotPods(ns) {
			f(ports.PodChange{Pod: p, Deleted: p.Deleted})
		}
	})
}

func (c *Cluster) snapshotPods(ns string) []target.Pod {
	c.mu.Lock()
	defer c.mu.Unlock()
	var out []target.Pod
	for _, fp := range c.pods {
		if fp.pod.Namespace == ns {
			out = append(out, clonePod(fp.pod))
		}
	}
	return out
}

// watch calls each until ctx ends, once now and once after every change.
func (c *Cluster) watch(ctx context.Context, what string, each func()) error {
	for {
		c.mu.Lock()
		forbidden, ch := c.forbid[what], c.changed
		c.mu.Unlock()
		if forbidden {
			return fmt.Errorf("%w: %s is forbidden", ports.ErrForbidden, what)
		}
		each()
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-ch:
		}
	}
}

// ListPods implements ports.Cluster (deleted pods are gone).
func (c *Cluster) ListPods(_ context.Context, ns string) ([]target.Pod, error) {
	var out []target.Pod
	for _, p := range c.snapshotPods(ns) {
		if !p.Deleted {
			out = append(out, p)
		}
	}
	return out, nil
}

// Pod implements ports.Cluster.
func (c *Cluster) Pod(_ context.Context, ns, name string) (target.Pod, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	fp := c.pods[ns+"/"+name]
	if fp == nil || fp.pod.Deleted {
		return target.Pod{}, fmt.Errorf("%w: pod %s", ports.ErrNotFound, name)
	}
	return clonePod(fp.pod), nil
}

// clonePod copies a pod's containers, which the fake changes in place.
func clonePod(p target.Pod) target.Pod {
	p.Init, p.Main = slices.Clone(p.Init), slices.Clone(p.Main)
	return p
}

// LoseLogs makes a pod's logs unreadable, as a node that lost them answers.
func (c *Cluster) LoseLogs(ns, name string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.pods[ns+"/"+name].lost = true
}

// Rotate empties the file of a container's current instance, as the kubelet's log
// rotation does: later reads see only the lines written after.
func (c *Cluster) Rotate(ns, name, container string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	fp := c.pods[ns+"/"+name]
	fp.logs[container] = nil
	if fp.files == nil {
		fp.files = map[string]int{}
	}
	fp.files[container]++
}

// FollowLog implements ports.Cluster for the current instance of a container: lines
// from req.SinceTime's second on (or its last req.TailLines); with Follow, new lines
// until the container ends.
func (c *Cluster) FollowLog(ctx context.Context, req ports.LogRequest, f func([]byte, bool) error) error {
	sent, opened, file := 0, false, 0
	for {
		c.mu.Lock()
		fp := c.pods[req.Namespace+"/"+req.Pod]
		if fp == nil || fp.pod.Deleted {
			c.mu.Unlock()
			return fmt.Errorf("%w: pod %s", ports.ErrNotFound, req.Pod)
		}
		ct := containerOf(&fp.pod, req.Container)
		state, lines, ch, lost, rotated := ct.State, fp.logs[req.Container], c.changed, fp.lost, fp.files[req.Container]
		c.mu.Unlock()
		if state == target.Waiting {
			return ports.ErrWaiting
		}
		if lost {
			return fmt.Errorf("the logs of pod %s are gone from its node", req.Pod)
		}
		if !opened {
			opened, file = true, rotated
			if req.TailLines > 0 && req.SinceTime.IsZero() && len(lines) > int(req.TailLines) {
				sent = len(lines) - int(req.TailLines)
			}
		}
		if rotated != file {
			sent, file = 0, rotated // rotated under an open follow: the new file from its start
		}
		for ; sent < len(lines); sent++ {
			l := lines[sent]
			if !req.SinceTime.IsZero() {
				stamp, _, _ := strings.Cut(l, " ")
				if ts, err := time.Parse(time.RFC3339Nano, stamp); err == nil && ts.Before(req.SinceTime) {
					continue
				}
			}
			if err := f([]byte(l), sent+1 < len(lines)); err != nil {
				return err
			}
		}
		if state == target.Terminated || !req.Follow {
			return nil
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-ch:
		}
	}
}

// WatchEvents implements ports.Cluster.
func (c *Cluster) WatchEvents(ctx context.Context, _ string, f func(target.Event)) error {
	return c.watch(ctx, "events", func() {
		c.mu.Lock()
		evs := make([]target.Event, 0, len(c.events))
		for _, e := range c.events {
			evs = append(evs, e)
		}
		c.mu.Unlock()
		for _, e := range evs {
			f(e)
		}
	})
}

// WatchJobs implements ports.Cluster.
func (c *Cluster) WatchJobs(ctx context.Context, _ string, f func(target.Job)) error {
	return c.watch(ctx, "jobs", func() {
		c.mu.Lock()
		js := make([]target.Job, 0, len(c.jobs))
		for _, j := range c.jobs {
			js = append(js, j)
		}
		c.mu.Unlock()
		for _, j := range js {
			f(j)
		}
	})
}

// SetUsage is what the metrics API says of a container from now on (memory in bytes,
// CPU in cores).
func (c *Cluster) SetUsage(ns, pod, container string, memory int64, cpu float64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.usage[ns+"/"+pod+"/"+container] = target.Usage{Pod: pod, Container: container, Memory: memory, CPU: cpu}
}

// NoMetrics makes the cluster serve no metrics API (ports.ErrNotFound).
func (c *Cluster) NoMetrics() { c.mu.Lock(); c.noMetrics = true; c.mu.Unlock() }

// MetricsLists is how often PodMetrics was asked.
func (c *Cluster) MetricsLists() int { c.mu.Lock(); defer c.mu.Unlock(); return c.metricsN }

// PodMetrics implements ports.Cluster.
func (c *Cluster) PodMetrics(_ context.Context, ns string) ([]target.Usage, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.metricsN++
	switch {
	case c.forbid["metrics"]:
		return nil, fmt.Errorf("%w: metrics", ports.ErrForbidden)
	case c.noMetrics:
		return nil, fmt.Errorf("%w: the server could not find the requested resource (metrics.k8s.io)", ports.ErrNotFound)
	}
	var out []target.Usage
	for k, u := range c.usage {
		if strings.HasPrefix(k, ns+"/") {
			u.At = c.now()
			out = append(out, u)
		}
	}
	slices.SortFunc(out, func(a, b target.Usage) int { return strings.Compare(a.Pod+"/"+a.Container, b.Pod+"/"+b.Container) })
	return out, nil
}

// AddNode adds (or replaces) a node.
func (c *Cluster) AddNode(n target.Node) { c.mu.Lock(); c.nodes[n.Name] = n; c.mu.Unlock() }

// RemoveNode removes a node (its cluster scaled down or was deleted).
func (c *Cluster) RemoveNode(name string) { c.mu.Lock(); delete(c.nodes, name); c.mu.Unlock() }

// Node implements ports.Cluster; Forbid("nodes") refuses.
func (c *Cluster) Node(_ context.Context, name string) (target.Node, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	n, ok := c.nodes[name]
	switch {
	case c.forbid["nodes"]:
		return target.Node{}, fmt.Errorf("%w: nodes %q", ports.ErrForbidden, name)
	case !ok:
		return target.Node{}, fmt.Errorf("%w: node %q", ports.ErrNotFound, name)
	}
	return n, nil
}
