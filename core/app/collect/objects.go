package collect

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/blastlog/blastlog/core/diagnose"
	"github.com/blastlog/blastlog/core/event"
	"github.com/blastlog/blastlog/core/sanitize"
	"github.com/blastlog/blastlog/core/target"
	"github.com/blastlog/blastlog/ports"
)

// What the collector reads besides logs (docs/api.md §8): a pod that never starts writes
// no line, so the run's Warning events, its waiting pods and its batch Jobs become
// notices in the same stream, each once across holders (checkpoint entries below).
const (
	ckptEvent = "_ev:"   // + event UID: the count last noticed
	ckptJob   = "_job:"  // + Job name: the state last noticed
	ckptWait  = "_wait:" // + pod UID + cause: noticed

	// eventEvery: a growing count is noticed again at most this often per event.
	eventEvery = time.Minute
	// maxOrphans bounds the events kept for objects not yet known to be the run's.
	maxOrphans = 1000
	// maxWaitNotices bounds the waiting notices of one pod.
	maxWaitNotices = 10
	// maxEvents bounds the events of one run noticed (and remembered in its
	// checkpoints); past it a new event is said once as a degraded notice, not stored.
	maxEvents = 10_000
)

// routineWaits are waiting reasons every container passes through: no cause.
var routineWaits = map[string]bool{"": true, "PodInitializing": true, "ContainerCreating": true}

// objects is a run's Kubernetes objects as the diagnosis needs them.
type objects struct {
	rs *runState

	mu       sync.Mutex
	noticed  map[string]string         // checkpoint entries written (and loaded) for these notices
	seenAt   map[string]time.Time      // event UID -> when last noticed
	pods     map[string]target.Pod     // the run's pods not started yet, by UID
	podNames map[string]string         // the run's pod names -> phase
	jobs     map[string]bool           // the run's Job names
	orphans  map[string][]target.Event // events of objects not (yet) known, by object name
	waits    map[string]int            // waiting notices per pod UID
	events   int                       // distinct events noticed (maxEvents)
	full     bool                      // maxEvents was reached and said
}

func newObjects(rs *runState, ckpts map[string][]byte) *objects {
	o := &objects{rs: rs, noticed: map[string]string{}, seenAt: map[string]time.Time{}, pods: map[string]target.Pod{},
		podNames: map[string]string{}, jobs: map[string]bool{}, orphans: map[string][]target.Event{}, waits: map[string]int{}}
	for k, v := range ckpts {
		if strings.HasPrefix(k, ckptEvent) || strings.HasPrefix(k, ckptJob) || strings.HasPrefix(k, ckptWait) {
			o.noticed[k] = string(v)
		}
		if strings.HasPrefix(k, ckptEvent) {
			o.events++
		}
	}
	return o
}

// watch follows the namespace's events and Jobs until ctx ends. A watch refused for
// lack of permission is said once, and collection goes on without it.
func (o *objects) watch(ctx context.Context, namespace string) {
	var wg sync.WaitGroup
	for _, w := range []struct {
		what string
		run  func() error
	}{
		{"events", func() error {
			return o.rs.cluster.WatchEvents(ctx, namespace, func(e target.Event) { o.event(ctx, e) })
		}},
		{"jobs", func() error { return o.rs.cluster.WatchJobs(ctx, namespace, func(j target.Job) { o.job(ctx, j) }) }},
	} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := w.run(); err != nil && ctx.Err() == nil {
				why := err.Error()
				if errors.Is(err, ports.ErrForbidden) {
					why = fmt.Sprintf("the collector lacks permission (%s list/watch in namespace %s)", w.what, namespace)
				}
				o.rs.notice(ctx, "degraded", fmt.Sprintf("cannot watch the run's %s: %s", w.what, why))
			}
		}()
	}
	wg.Wait()
}

// pod takes a pod of the run from the watch: remembered for its events, and while no
// container of it started, checked for why it waits.
func (o *objects) pod(ctx context.Context, p target.Pod) {
	o.mu.Lock()
	_, known := o.podNames[p.Name]
	o.podNames[p.Name] = target.PhaseOf(p)
	if p.Job != "" {
		o.jobs[p.Job] = true
	}
	waitsOf := p.Unschedulable != "" || hasWaitingReason(p)
	if p.Deleted || !waitsOf && p.Started() {
		delete(o.pods, p.UID)
	} else {
		if p.CreatedAt.IsZero() {
			if old, ok := o.pods[p.UID]; ok {
				p.CreatedAt = old.CreatedAt
			} else {
				p.CreatedAt = o.rs.c.Config.now()
			}
		}
		o.pods[p.UID] = p
	}
	var replay []target.Event
	if !known {
		replay = append(o.orphans[p.Name], o.orphans[p.Job]...)
		delete(o.orphans, p.Name)
		delete(o.orphans, p.Job)
	}
	o.mu.Unlock()
	for _, e := range replay {
		o.event(ctx, e)
	}
	o.checkWaiting(ctx)
}

func hasWaitingReason(p target.Pod) bool {
	for _, cs := range [][]target.Container{p.Init, p.Main} {
		for _, c := range cs {
			if c.State == target.Waiting && !routineWaits[c.WaitingReason] {
				return true
			}
		}
	}
	return false
}

// checkWaiting notices, once per distinct cause, why a pod of the run has waited
// Config.WaitingAfter: the scheduler's reason, or a container's waiting reason.
func (o *objects) checkWaiting(ctx context.Context) {
	now := o.rs.c.Config.now()
	type cause struct {
		p                          target.Pod
		container, reason, message string
	}
	var due []cause
	o.mu.Lock()
	for _, p := range o.pods {
		if now.Sub(p.CreatedAt) < o.rs.c.Config.waitingAfter() {
			continue
		}
		if p.Unschedulable != "" {
			due = append(due, cause{p: p, reason: p.Unschedulable, message: p.UnschedulableMessage})
		}
		for _, cs := range [][]target.Container{p.Init, p.Main} {
			for _, c := range cs {
				if c.State == target.Waiting && !routineWaits[c.WaitingReason] {
					due = append(due, cause{p: p, container: c.Name, reason: c.WaitingReason, message: c.WaitingMessage})
				}
			}
		}
	}
	o.mu.Unlock()
	for _, c := range due {
		key := ckptWait + c.p.UID + "/" + c.container + "/" + c.reason + "/" + c.message
		if !o.claim(key, "1") {
			continue
		}
		o.mu.Lock()
		o.waits[c.p.UID]++
		over := o.waits[c.p.UID] > maxWaitNotices
		o.mu.Unlock()
		if over {
			continue
		}
		text := c.p.Name + " " + c.reason
		if c.container != "" {
			text = c.p.Name + "/" + c.container + " " + c.reason
		}
		if c.message != "" {
			text += ": " + c.message
		}
		e := event.System(o.rs.jobID, target.PhaseOf(c.p), event.NoticeWaiting, clean(text), now)
		e.Pod, e.Container = c.p.Name, c.container
		e.Detail = &event.Detail{Object: "Pod/" + c.p.Name, Reason: c.reason}
		o.store(ctx, e, key, "1")
	}
}

// event takes one Kubernetes event of the namespace: a Warning about one of the
// run's objects becomes a k8s_event notice, again when its count grows (at most once
// per eventEvery).
func (o *objects) event(ctx context.Context, e target.Event) {
	if e.Type != "Warning" || e.UID == "" {
		return
	}
	o.mu.Lock()
	phase, ours := o.owner(e)
	if !ours {
		if len(o.orphans) < maxOrphans && (e.Kind == "Pod" || e.Kind == "Job") {
			o.orphans[e.Name] = append(o.orphans[e.Name][:min(len(o.orphans[e.Name]), 9)], e)
		}
		o.mu.Unlock()
		return
	}
	e.Count = max(e.Count, 1)
	key := ckptEvent + e.UID
	seen, known := o.noticed[key]
	if !known && o.events >= maxEvents {
		said := o.full
		o.full = true
		o.mu.Unlock()
		if !said {
			o.rs.notice(ctx, "degraded", fmt.Sprintf("the run has more than %d Kubernetes warnings: later ones are not stored", maxEvents))
		}
		return
	}
	last, _ := strconv.Atoi(seen)
	now := o.rs.c.Config.now()
	if last >= e.Count || last > 0 && now.Sub(o.seenAt[e.UID]) < eventEvery {
		o.mu.Unlock()
		return
	}
	o.seenAt[e.UID] = now
	if !known {
		o.events++
	}
	o.noticed[key] = strconv.Itoa(e.Count)
	o.mu.Unlock()
	object := e.Kind + "/" + e.Name
	n := event.System(o.rs.jobID, phase, event.NoticeK8sEvent, clean(object+" "+e.Reason+": "+e.Text), now)
	if e.Kind == "Pod" {
		n.Pod, n.Container = e.Name, e.Container()
	}
	n.Detail = &event.Detail{Object: object, Type: e.Type, Reason: e.Reason, Count: e.Count, FirstTS: e.First, LastTS: e.Last}
	o.store(ctx, n, key, strconv.Itoa(e.Count))
}

// owner says whether an event's object is the run's, and its step. o.mu is held.
func (o *objects) owner(e target.Event) (string, bool) {
	switch e.Kind {
	case "Pod":
		if phase, ok := o.podNames[e.Name]; ok {
			return phase, true
		}
		p := target.Pod{Name: e.Name}
		return target.PhaseOf(p), o.rs.run.Owns(p)
	case "Job":
		p := target.Pod{Job: e.Name}
		return target.PhaseOf(p), o.jobs[e.Name] || o.rs.run.OwnsJob(target.Job{Name: e.Name})
	}
	return "", false
}

// job takes a Job of the namespace: a batch Job of the run gets a batch notice each
// time its state (or limits) changes.
func (o *objects) job(ctx context.Context, j target.Job) {
	if j.Deleted || !o.rs.run.OwnsJob(j) {
		return
	}
	o.mu.Lock()
	o.jobs[j.Name] = true
	replay := o.orphans[j.Name]
	delete(o.orphans, j.Name)
	o.mu.Unlock()
	for _, e := range replay {
		o.event(ctx, e)
	}
	num, ok := diagnose.BatchOf(j.Name)
	if !ok {
		return
	}
	state := j.Done
	if state == "" {
		state = diagnose.BatchActive
	}
	key := ckptJob + j.Name
	value := state + "/" + j.Reason + "/" + j.MemoryLimit + "/" + j.CPULimit
	if !o.claim(key, value) {
		return
	}
	text := fmt.Sprintf("batch %s (Job %s): %s", num, j.Name, state)
	if j.Reason != "" {
		text += " (" + j.Reason + ")"
	}
	e := event.System(o.rs.jobID, target.PhaseOf(target.Pod{Job: j.Name}), event.NoticeBatch, clean(text), o.rs.c.Config.now())
	e.Detail = &event.Detail{Object: "Job/" + j.Name, Batch: num, State: state, Reason: j.Reason,
		Memory: j.MemoryLimit, CPU: j.CPULimit}
	o.store(ctx, e, key, value)
}

// claim reports whether key is not yet noticed with value (and takes it).
func (o *objects) claim(key, value string) bool {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.noticed[key] == value {
		return false
	}
	o.noticed[key] = value
	return true
}

// store appends a notice while the lease holds, then records it in the checkpoints so
// that a later holder does not say it again.
func (o *objects) store(ctx context.Context, e event.Event, key, value string) {
	if !o.rs.lease.valid(o.rs.c.Config.now()) {
		return
	}
	if _, err := o.rs.c.Log.Append(ctx, o.rs.jobID, []event.Event{e}); err != nil {
		o.mu.Lock()
		delete(o.noticed, key) // not stored: try again on the next change
		o.mu.Unlock()
		return
	}
	o.rs.c.Checkpoints.Save(ctx, o.rs.jobID, key, []byte(value))
}

// clean is a notice's line: sanitised like every line, and within the line cap.
func clean(s string) string { return sanitize.Line(s) }
