package collect

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/blastlog/blastlog/core/event"
	"github.com/blastlog/blastlog/core/target"
	"github.com/blastlog/blastlog/ports"
)

// This file samples what the run's containers use: one list of the namespace's
// PodMetrics (metrics.k8s.io) every Config.MetricsEvery, folded per container
// instance into the figures of its container_ended notice.

// metricsTimeout bounds one list of the namespace's PodMetrics.
const metricsTimeout = 10 * time.Second

// usage folds one container instance's samples.
type usage struct {
	peak            int64
	cpuSum, cpuPeak float64
	n               int
	first, last     time.Time
	idleSince       time.Time // the first of the latest samples under StallCPU; zero when the last was above
	stalled         bool      // its stalled notice is stored (until it uses CPU again)
}

// add takes a sample; the metrics API answers the same sample until it scrapes the
// kubelet again, and that is counted once.
func (u *usage) add(s target.Usage) {
	if u.n > 0 && !s.At.After(u.last) {
		return
	}
	if u.n == 0 {
		u.first = s.At
	}
	u.n++
	u.last = s.At
	u.peak = max(u.peak, s.Memory)
	u.cpuSum += s.CPU
	u.cpuPeak = max(u.cpuPeak, s.CPU)
	switch {
	case s.CPU >= StallCPU:
		u.idleSince, u.stalled = time.Time{}, false
	case u.idleSince.IsZero():
		u.idleSince = s.At
	}
}

// stalledSince is when f stalled: the later of when it last used CPU and when it
// last wrote a line (or started), if both are at least after ago; zero otherwise.
func stalledSince(f *tstate, now time.Time, after time.Duration) time.Time {
	u := f.usage
	if u == nil || u.idleSince.IsZero() || u.stalled {
		return time.Time{}
	}
	since := u.idleSince
	for _, t := range []time.Time{f.cp.Second, f.t.StartedAt} {
		if t.After(since) {
			since = t
		}
	}
	if now.Sub(since) < after {
		return time.Time{}
	}
	return since
}

// figures is what the container_ended notice says; nil without a sample.
func (u *usage) figures() *event.Usage {
	if u == nil || u.n == 0 {
		return nil
	}
	return &event.Usage{PeakMemory: u.peak, CPUMean: u.cpuSum / float64(u.n), CPUPeak: u.cpuPeak, Samples: u.n,
		First: u.first, Last: u.last}
}

// sampleLoop samples until ctx ends, or until the cluster says it has no metrics
// for the collector (said once, as degraded).
func (rs *runState) sampleLoop(ctx context.Context) {
	every := rs.c.Config.metricsEvery()
	if every < 0 {
		return
	}
	tick := time.NewTicker(every)
	defer tick.Stop()
	for rs.sample(ctx) {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
	}
}

// sample makes one list and folds it into the running instances it names; false
// once sampling must stop.
func (rs *runState) sample(ctx context.Context) bool {
	if err := rs.c.pace(ctx); err != nil {
		return false
	}
	lctx, cancel := context.WithTimeout(ctx, metricsTimeout)
	samples, err := rs.cluster.PodMetrics(lctx, rs.namespace)
	cancel()
	switch {
	case ctx.Err() != nil:
		return false
	case errors.Is(err, ports.ErrForbidden), errors.Is(err, ports.ErrNotFound):
		rs.notice(ctx, "degraded", "no memory and CPU figures for this run's batches: the cluster's metrics API (metrics.k8s.io) is not available to blastlog: "+err.Error())
		return false
	case err != nil:
		return true // the next round tries again
	}
	rs.mu.Lock()
	running := make(map[string]*tstate, len(rs.targets))
	for _, f := range rs.targets {
		if !f.ended && !f.previous && f.state != done {
			running[f.t.Pod+"/"+f.t.Container] = f
		}
	}
	for _, s := range samples {
		if f := running[s.Pod+"/"+s.Container]; f != nil {
			if f.usage == nil {
				f.usage = &usage{}
			}
			f.usage.add(s)
		}
	}
	now := rs.c.Config.now()
	var stalls []event.Event
	var stalled []*tstate
	for _, f := range running {
		since := stalledSince(f, now, rs.c.Config.stallAfter())
		if since.IsZero() {
			continue
		}
		stalled = append(stalled, f)
		e := event.System(rs.jobID, f.t.Phase, event.NoticeStalled, fmt.Sprintf("%s/%s has used no CPU (under %.2f cores) and written no line for %s",
			f.t.Pod, f.t.Container, StallCPU, now.Sub(since).Round(time.Second)), now)
		e.Pod, e.Container, e.ContainerID, e.Restart = f.t.Pod, f.t.Container, f.t.ContainerID, f.t.Restart
		e.Detail = &event.Detail{Object: "Pod/" + f.t.Pod, Reason: "Stalled", FirstTS: since, LastTS: now}
		stalls = append(stalls, e)
	}
	rs.mu.Unlock()
	if len(stalls) == 0 || !rs.lease.valid(now) {
		return true
	}
	if _, err := rs.c.Log.Append(ctx, rs.jobID, stalls); err != nil {
		return true // said at the next round
	}
	rs.mu.Lock()
	for _, f := range stalled {
		f.usage.stalled = true // once, until it uses CPU again
	}
	rs.mu.Unlock()
	return true
}
