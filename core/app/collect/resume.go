package collect

import (
	"context"
	"time"

	"github.com/blastlog/blastlog/core/event"
	"github.com/blastlog/blastlog/core/merge"
	"github.com/blastlog/blastlog/core/target"
)

// This file resumes a run under a new holder: the checkpoints caught up with the
// stream, and the latest lines of each container remembered by instance.

// catchUp brings the checkpoints up to what the stream holds: a holder that crashed
// after an append and before saving its checkpoint left lines the checkpoint does not
// know, and a new holder must not append them again.
func (rs *runState) catchUp(ctx context.Context) {
	if len(rs.ckpts) == 0 {
		return
	}
	_, last, err := rs.c.Log.Bounds(ctx, rs.jobID)
	if err != nil || last.IsZero() {
		return
	}
	next, _ := last.Next()
	evs, err := rs.c.Log.ReadBefore(ctx, rs.jobID, next, catchUpEntries)
	if err != nil {
		return
	}
	byInstance := map[string]string{}
	for k := range rs.ckpts {
		if id, ok := target.KeyContainerID(k); ok {
			byInstance[id] = k
		}
	}
	// Per target: how often each line of the checkpoint's second is in the stream, and
	// the lines after that second, in order.
	type seen struct {
		counts map[uint64]int
		later  []event.Event
	}
	found := map[string]*seen{}
	for _, e := range evs {
		k, ok := byInstance[e.ContainerID]
		if e.Source != event.SourceK8s || !ok {
			continue
		}
		cp := rs.ckpts[k]
		s := found[k]
		if s == nil {
			s = &seen{counts: map[uint64]int{}}
			found[k] = s
		}
		switch sec := e.TS.UTC().Truncate(time.Second); {
		case sec.Equal(cp.Second):
			s.counts[merge.LineHash(e.TS, []byte(e.Line))]++
		case sec.After(cp.Second):
			s.later = append(s.later, e)
		}
	}
	for k, s := range found {
		cp := rs.ckpts[k].Clone()
		for h, n := range s.counts {
			if n > cp.Seen[h] {
				cp.Lines += int64(n - cp.Seen[h])
				cp.Seen[h] = n
			}
		}
		for _, e := range s.later {
			cp.Accept(e.TS, []byte(e.Line))
		}
		rs.ckpts[k] = cp
	}
}

// catchUpEntries is how many of a stream's last entries a new holder reads.
const catchUpEntries = 5000

// recentLines remembers which instance stored the latest lines of one container.
type recentLines struct {
	by    map[uint64]string
	order []uint64
}

// The race concerns the first lines after a restart; 512 per container (~25 KB) covers it
// without growing with a long log or with thousands of containers.
const maxRecent = 512

// firstInstance reports whether a line may be stored by instance t: false when another
// instance of the same container already stored it. The log API names containers, not
// instances: right after a restart the kubelet may serve the new instance while the
// pod's status still names the old one, and the old instance's resumed follow reads
// the new instance's lines. Kubelet timestamps are nanosecond-precise, so the same
// (timestamp, content) under two instances is the same line.
func (rs *runState) firstInstance(t target.Target, h uint64) bool {
	key := t.PodUID + "/" + t.Container
	rs.mu.Lock()
	defer rs.mu.Unlock()
	r := rs.recent[key]
	if r == nil {
		r = &recentLines{by: map[uint64]string{}}
		rs.recent[key] = r
	}
	if inst, ok := r.by[h]; ok {
		return inst == t.ContainerID
	}
	r.by[h] = t.ContainerID
	r.order = append(r.order, h)
	if len(r.order) > maxRecent {
		delete(r.by, r.order[0])
		r.order = r.order[1:]
	}
	return true
}
