package collect

import (
	"context"
	"errors"
	"time"

	"github.com/blastlog/blastlog/core/event"
	"github.com/blastlog/blastlog/core/target"
	"github.com/blastlog/blastlog/ports"
)

// This file samples what the run's containers use: one list of the namespace's
// PodMetrics (metrics.k8s.io) every Config.MetricsEvery, folded per container
// instance into the figures of its container_ended notice.

// usage folds one container instance's samples.
type usage struct {
	peak            int64
	cpuSum, cpuPeak float64
	n               int
	first, last     time.Time
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
	samples, err := rs.cluster.PodMetrics(ctx, rs.namespace)
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
	defer rs.mu.Unlock()
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
	return true
}
