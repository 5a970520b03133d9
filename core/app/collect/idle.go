package collect

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"math"
	"time"

	"github.com/blastlog/blastlog/core/diagnose"
	"github.com/blastlog/blastlog/core/event"
	"github.com/blastlog/blastlog/core/target"
	"github.com/blastlog/blastlog/ports"
)

// This file looks at a run's nodes once more after it ended (docs/api.md §13): a
// cluster left running bills until `elastic-blast delete`. When the run's collection
// ends, its nodes are kept beside its checkpoints and the run is watched (EndedRuns);
// a replica looks at the nodes about once a minute until Config.IdleAfter after the
// end, and then says once, in a cluster_idle notice, how many are still up and what
// they cost by the hour. A run whose nodes are all gone before that is let go quietly.

// Checkpoint entries of the look after the end ("_": not a target's).
const (
	endedKey = "_ended"        // endedNodes, saved when the collection ends
	idleKey  = "_cluster_idle" // set once the cluster_idle notice is stored
)

// endedNodes is what the look needs: when the run ended and the nodes it used.
type endedNodes struct {
	Ended time.Time     `json:"ended"`
	Nodes []target.Node `json:"nodes"`
}

// Bounds of the looks.
const (
	lookEvery   = time.Minute      // before it is due, a run's nodes are looked at this often
	lookLease   = 30 * time.Second // one replica looks at a run at a time
	lookGiveUp  = 10 * time.Minute // past its due time, a run whose cluster cannot be read is let go
	lookTimeout = 20 * time.Second // one look, every node
)

// watchEnded keeps the nodes of a run whose collection ended and watches the run,
// once: a second collection of an ended run (another replica took its lease as the
// first let it go) keeps the first end. A run that used no node we know of is not
// watched, nor one whose nodes blastlog may not read (no look could answer).
func (rs *runState) watchEnded(ctx context.Context) {
	c := rs.c
	if c.Ended == nil {
		return
	}
	var v endedNodes
	if rs.endedBefore != nil {
		// Watched again in case that holder died between keeping and watching; a run
		// already watched keeps its time.
		if json.Unmarshal(rs.endedBefore, &v) == nil {
			c.Ended.Watch(ctx, rs.jobID, v.Ended.Add(c.Config.idleAfter()))
		}
		return
	}
	if len(rs.nodes) == 0 || rs.nodesForbidden {
		return
	}
	v.Ended = c.Config.now().UTC()
	for name, nu := range rs.nodes {
		n := nu.info
		n.Name = name
		v.Nodes = append(v.Nodes, n)
	}
	raw, _ := json.Marshal(v)
	if c.Checkpoints.Save(ctx, rs.jobID, endedKey, raw) == nil {
		c.Ended.Watch(ctx, rs.jobID, v.Ended.Add(c.Config.idleAfter()))
	}
}

// lookAfterEnds looks at the watched runs' nodes until ctx ends (Run's).
func (c *Collector) lookAfterEnds(ctx context.Context) {
	looked := map[string]time.Time{} // this replica's last look at each run
	tick := time.NewTicker(c.Config.poll())
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		watched, err := c.Ended.Watched(ctx)
		if err != nil {
			continue
		}
		now := c.Config.now()
		for id, due := range watched {
			// About once a minute, and at the due time.
			next := looked[id].Add(lookEvery)
			if looked[id].Before(due) && due.Before(next) {
				next = due
			}
			if now.Before(next) {
				continue
			}
			looked[id] = now
			c.lookAfterEnd(ctx, id, due)
		}
		for id := range looked {
			if _, ok := watched[id]; !ok {
				delete(looked, id)
			}
		}
	}
}

// lookAfterEnd looks at one watched run's nodes, under a lease (one replica at a
// time), and lets the run go once it is answered: all its nodes gone, or its
// cluster_idle notice stored.
func (c *Collector) lookAfterEnd(ctx context.Context, jobID string, due time.Time) {
	key := "ended:" + jobID
	if ok, err := c.Leases.Acquire(ctx, key, c.Config.Holder, lookLease); err != nil || !ok {
		return
	}
	defer c.Leases.Release(context.WithoutCancel(ctx), key, c.Config.Holder)
	ctx, cancel := context.WithTimeout(ctx, lookTimeout)
	defer cancel()
	if c.look(ctx, jobID, due) {
		c.Ended.Unwatch(ctx, jobID)
	}
}

// look is one look; true when the run needs no more.
func (c *Collector) look(ctx context.Context, jobID string, due time.Time) bool {
	now := c.Config.now()
	late := now.Sub(due) > lookGiveUp // its cluster could not be read for long: gone, or out of reach
	ckpts, err := c.Checkpoints.Load(ctx, jobID)
	if err != nil {
		return late
	}
	var v endedNodes
	if _, said := ckpts[idleKey]; said || json.Unmarshal(ckpts[endedKey], &v) != nil {
		return true // said already, or nothing kept to look at
	}
	rec, err := c.Jobs.Get(ctx, jobID)
	if err != nil {
		return errors.Is(err, ports.ErrNotFound) || late
	}
	cluster, err := c.Clusters.For(ctx, rec)
	if err != nil {
		return late
	}
	var up []target.Node
	for _, n := range v.Nodes {
		if err := c.pace(ctx); err != nil {
			return false
		}
		switch _, err := cluster.Node(ctx, n.Name); {
		case err == nil:
			up = append(up, n)
		case !errors.Is(err, ports.ErrNotFound):
			return late // not known: looked at again
		}
	}
	if len(up) == 0 {
		return true // nothing left billing
	}
	if now.Before(due) {
		return false
	}
	idle := diagnose.ClusterIdle{Nodes: len(up), USDPerHour: c.perHour(ctx, up), Ended: v.Ended, At: now.UTC()}
	e := event.System(jobID, "", event.NoticeClusterIdle, idle.Sentence(cmp.Or(rec.ELBJobID, jobID)), now)
	e.Detail = &event.Detail{FirstTS: v.Ended, Nodes: idle.Nodes, USDPerHour: idle.USDPerHour}
	if _, err := c.Log.Append(ctx, jobID, []event.Event{e}); err != nil {
		return false
	}
	c.Checkpoints.Save(ctx, jobID, idleKey, []byte("1"))
	return true
}

// perHour is what nodes cost together by the hour; nil without a price for each.
func (c *Collector) perHour(ctx context.Context, nodes []target.Node) *float64 {
	if c.Prices == nil {
		return nil
	}
	p, _ := c.Prices.Prices(ctx, nodes)
	sum := 0.0
	for _, n := range nodes {
		v, ok := p.USD[diagnose.PriceKey(n.InstanceType, n.Spot)]
		if !ok || n.InstanceType == "" {
			return nil
		}
		sum += v
	}
	sum = math.Round(sum*100) / 100
	return &sum
}
