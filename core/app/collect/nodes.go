package collect

import (
	"context"
	"errors"
	"time"

	"github.com/blastlog/blastlog/core/event"
	"github.com/blastlog/blastlog/core/target"
	"github.com/blastlog/blastlog/ports"
)

// This file follows the nodes the run's pods run on, for the run's node-hours
// (docs/api.md §13): a node notice when a node starts or stops running a container of
// the run, with the node's instance type, region and spot priority from its labels.

// NodeInUse and NodeReleased are a node notice's states.
const (
	NodeInUse    = "in_use"
	NodeReleased = "released"
)

// nodeReadTimeout bounds one read of a node.
const nodeReadTimeout = 10 * time.Second

// nodeUse is what the run's notices said of one node.
type nodeUse struct {
	info        target.Node
	state       string
	first, last time.Time
}

// followNodes tells of each node whose use by the run changed: from the first start
// of a container of the run on it to the last end (while one runs: in use). Only the
// run's loop calls it.
func (rs *runState) followNodes(ctx context.Context) {
	type span struct {
		running     bool
		first, last time.Time
	}
	spans := map[string]*span{}
	rs.mu.Lock()
	for _, f := range rs.targets {
		if f.t.Node == "" || f.t.StartedAt.IsZero() {
			continue
		}
		s := spans[f.t.Node]
		if s == nil {
			s = &span{first: f.t.StartedAt}
			spans[f.t.Node] = s
		}
		if f.t.StartedAt.Before(s.first) {
			s.first = f.t.StartedAt
		}
		if f.t.FinishedAt.After(s.last) {
			s.last = f.t.FinishedAt
		}
		s.running = s.running || !f.ended && f.t.State == target.Running
	}
	rs.mu.Unlock()
	for name, s := range spans {
		nu := rs.nodes[name]
		if nu == nil {
			info, ok := rs.readNode(ctx, name)
			if !ok {
				continue // the next round reads it again
			}
			nu = &nodeUse{info: info}
			rs.nodes[name] = nu
		}
		state, last := NodeReleased, s.last
		if s.running {
			state, last = NodeInUse, time.Time{}
		}
		if nu.state == state && nu.first.Equal(s.first) && nu.last.Equal(last) {
			continue
		}
		e := event.System(rs.jobID, "", event.NoticeNode, nodeSentence(nu.info, state), rs.c.Config.now())
		e.Detail = &event.Detail{Object: "Node/" + name, State: state, FirstTS: s.first, LastTS: last,
			InstanceType: nu.info.InstanceType, Region: nu.info.Region, Spot: nu.info.Spot}
		if !rs.lease.valid(rs.c.Config.now()) {
			return
		}
		if _, err := rs.c.Log.Append(ctx, rs.jobID, []event.Event{e}); err != nil {
			return // told at the next round
		}
		nu.state, nu.first, nu.last = state, s.first, last
	}
}

// readNode reads a node's labels; ok is false when it should be tried again. Without
// the permission (Nodes are cluster-wide: the chart's rbac.nodes) the run is told once
// that its nodes have no instance type, and a node already gone has none either.
func (rs *runState) readNode(ctx context.Context, name string) (n target.Node, ok bool) {
	if err := rs.c.pace(ctx); err != nil {
		return target.Node{}, false
	}
	// The run's loop waits for this read: a hung API server must not hold it.
	rctx, cancel := context.WithTimeout(ctx, nodeReadTimeout)
	defer cancel()
	n, err := rs.cluster.Node(rctx, name)
	switch {
	case err == nil:
		return n, true
	case errors.Is(err, ports.ErrForbidden):
		if !rs.nodesForbidden {
			rs.nodesForbidden = true
			rs.notice(ctx, "degraded", "no instance types, so no cost, for this run's nodes: blastlog may not read Nodes (give it the chart's rbac.nodes): "+err.Error())
		}
		return target.Node{Name: name}, true
	case errors.Is(err, ports.ErrNotFound):
		return target.Node{Name: name}, true
	}
	return target.Node{}, false
}

func nodeSentence(n target.Node, state string) string {
	what := n.Name
	if n.InstanceType != "" {
		what += " (" + n.InstanceType
		if n.Spot {
			what += ", spot"
		}
		what += ")"
	}
	if state == NodeInUse {
		return "node " + what + " runs this run's pods"
	}
	return "node " + what + " no longer runs this run's pods"
}
