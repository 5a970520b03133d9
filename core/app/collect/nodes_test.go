package collect

import (
	"strings"
	"testing"

	"github.com/blastlog/blastlog/core/event"
	"github.com/blastlog/blastlog/core/target"
)

// A node is in use from the first start of one of the run's containers on it, and
// released at the last end: one notice each, with its type, region and spot from its
// labels.
func TestNodeNotices(t *testing.T) {
	r := newRig(t)
	r.cluster.AddNode(target.Node{Name: "n0", InstanceType: "Standard_E32s_v3", Region: "eastus"})
	r.cluster.AddNode(target.Node{Name: "n1", InstanceType: "Standard_E32s_v3", Region: "eastus", Spot: true})
	a, b, c := batchPod(1, "a"), batchPod(2, "a"), batchPod(3, "a")
	a.Node, b.Node, c.Node = "n0", "n0", "n1"
	for _, p := range []target.Pod{a, b, c} {
		r.cluster.AddPod(p)
		r.cluster.StartContainer("default", p.Name, "blast")
	}
	stop := r.collect("a")
	r.waitFor("both nodes in use", count(event.NoticeNode, 2))
	r.cluster.EndContainer("default", a.Name, "blast", 0, "Completed") // n0 still runs b
	r.cluster.EndContainer("default", c.Name, "blast", 0, "Completed")
	r.waitFor("n1 released", count(event.NoticeNode, 3))
	r.cluster.EndContainer("default", b.Name, "blast", 0, "Completed")
	evs := r.waitFor("n0 released", count(event.NoticeNode, 4))
	if err := stop(); err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, e := range notices(evs, event.NoticeNode) {
		d := e.Detail
		got = append(got, d.Object+" "+d.State)
		if d.InstanceType != "Standard_E32s_v3" || d.Region != "eastus" || d.Spot != (d.Object == "Node/n1") || d.FirstTS.IsZero() ||
			(d.State == "released") == d.LastTS.IsZero() {
			t.Fatalf("%s", e.AppendJSON(nil))
		}
	}
	if s := strings.Join(got, ", "); !strings.HasSuffix(s, "Node/n1 released, Node/n0 released") || len(got) != 4 {
		t.Fatalf("notices: %s", s)
	}
	end := notices(evs, event.NoticeContainerEnded)
	if len(end) != 3 || end[0].Ended.Node == "" {
		t.Fatalf("container_ended without its node: %s", end[0].AppendJSON(nil))
	}
}

// Without leave to read Nodes, the run is told once, and its node notices still come,
// with no type: node-hours without a cost.
func TestNodesForbidden(t *testing.T) {
	r := newRig(t)
	r.cluster.Forbid("nodes")
	a, b := batchPod(1, "a"), batchPod(2, "a")
	a.Node, b.Node = "n0", "n1"
	for _, p := range []target.Pod{a, b} {
		r.cluster.AddPod(p)
		r.cluster.StartContainer("default", p.Name, "blast")
	}
	stop := r.collect("a")
	evs := r.waitFor("the nodes", count(event.NoticeNode, 2))
	if err := stop(); err != nil {
		t.Fatal(err)
	}
	var said int
	for _, e := range notices(evs, "degraded") {
		if strings.Contains(e.Line, "may not read Nodes") {
			said++
		}
	}
	if said != 1 || notices(evs, event.NoticeNode)[0].Detail.InstanceType != "" {
		t.Fatalf("said %d times:\n%s", said, dump(evs))
	}
}
