package diagnose

import (
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/blastlog/blastlog/core/event"
)

// This file keeps the nodes the run used and what they cost (docs/api.md §13).

// MaxNodes bounds the nodes a run's diagnosis keeps.
const MaxNodes = 1000

// NodeUse is one node's use by the run, as its node notices say it: from the first
// start of one of the run's containers on it to the last end (open while in use).
type NodeUse struct {
	Type   string    `json:"type,omitempty"`
	Region string    `json:"region,omitempty"`
	Spot   bool      `json:"spot,omitempty"`
	First  time.Time `json:"first"`
	Last   time.Time `json:"last"`
	InUse  bool      `json:"in_use,omitempty"`
}

// PriceKey is how a kind of node is priced: its instance type, with "/spot" for spot
// nodes.
func PriceKey(instanceType string, spot bool) string {
	if spot {
		return instanceType + "/spot"
	}
	return instanceType
}

// Prices are USD per hour by PriceKey, and where they come from ("file", "azure").
type Prices struct {
	USD    map[string]float64
	Source string
}

// Cost is what the run's nodes cost: node-hours always, dollars when every node's
// type has a price. Unpriced names the types that have none. Text is the line the page
// and the terminal client show, so that both say the same numbers.
type Cost struct {
	NodeHours     float64            `json:"node_hours"`
	ByType        map[string]float64 `json:"by_type"`
	USD           *float64           `json:"usd,omitempty"`
	USDPerHourNow *float64           `json:"usd_per_hour_now,omitempty"`
	ProjectedUSD  *float64           `json:"projected_usd,omitempty"`
	Source        string             `json:"source,omitempty"`
	Unpriced      []string           `json:"unpriced,omitempty"`
	Text          string             `json:"text"`
}

// text is c's line: "12.4 node-hours · $25.00 · $8.06/h now · ≈ $31.20 at the end";
// under one node-hour, two decimals ("0.05 node-hours"), so a short run is not "0.0".
func (c *Cost) text() string {
	h := strconv.FormatFloat(c.NodeHours, 'f', 1, 64)
	if c.NodeHours < 1 {
		h = strconv.FormatFloat(c.NodeHours, 'f', 2, 64)
	}
	parts := []string{h + " node-hours"}
	usd := func(v float64) string { return "$" + strconv.FormatFloat(v, 'f', 2, 64) }
	if c.USD != nil {
		parts = append(parts, usd(*c.USD))
		if c.USDPerHourNow != nil && *c.USDPerHourNow > 0 {
			parts = append(parts, usd(*c.USDPerHourNow)+"/h now")
		}
		if c.ProjectedUSD != nil && *c.ProjectedUSD != *c.USD {
			parts = append(parts, "≈ "+usd(*c.ProjectedUSD)+" at the end")
		}
	}
	return strings.Join(parts, " · ")
}

func (t *Tracker) addNode(e *event.Event) {
	name, ok := strings.CutPrefix(e.Detail.Object, "Node/")
	if !ok || name == "" {
		return
	}
	n := t.Nodes[name]
	if n == nil {
		if len(t.Nodes) >= MaxNodes {
			return
		}
		if t.Nodes == nil {
			t.Nodes = map[string]*NodeUse{}
		}
		n = &NodeUse{}
		t.Nodes[name] = n
	}
	d := e.Detail
	n.Type, n.Region, n.Spot = d.InstanceType, d.Region, d.Spot
	n.First, n.Last, n.InUse = d.FirstTS, d.LastTS, d.State == "in_use"
}

// cost is the run's cost at now; eta (nil: none) projects it to the run's end. Nil
// before any node notice.
func (t *Tracker) cost(now time.Time, ended bool, eta *time.Time, p Prices) *Cost {
	if len(t.Nodes) == 0 {
		return nil
	}
	c := &Cost{ByType: map[string]float64{}}
	usd, perHour := 0.0, 0.0
	for _, n := range t.Nodes {
		end := n.Last
		if n.InUse && !ended {
			end = now
		}
		hours := max(0, end.Sub(n.First).Hours())
		typ := n.Type
		if typ == "" {
			typ = "unknown"
		}
		c.ByType[typ] += hours
		c.NodeHours += hours
		price, ok := p.USD[PriceKey(n.Type, n.Spot)]
		if !ok || n.Type == "" {
			key := PriceKey(n.Type, n.Spot)
			if n.Type == "" {
				key = "unknown" // its labels could not be read
			}
			if !slices.Contains(c.Unpriced, key) {
				c.Unpriced = append(c.Unpriced, key)
			}
			continue
		}
		usd += hours * price
		if n.InUse && !ended {
			perHour += price
		}
	}
	c.NodeHours = round(c.NodeHours, 4)
	for k, v := range c.ByType {
		c.ByType[k] = round(v, 4)
	}
	slices.Sort(c.Unpriced)
	if len(p.USD) == 0 || len(c.Unpriced) > 0 {
		c.Text = c.text()
		return c // node-hours only
	}
	c.Source = p.Source
	total, rate := round(usd, 2), round(perHour, 2)
	c.USD, c.USDPerHourNow = &total, &rate
	projected := total
	if eta != nil && !ended && eta.After(now) {
		projected = round(usd+perHour*eta.Sub(now).Hours(), 2)
	}
	c.ProjectedUSD = &projected
	c.Text = c.text()
	return c
}

func round(v float64, digits int) float64 {
	p := math.Pow(10, float64(digits))
	return math.Round(v*p) / p
}

// ClusterIdle is what a cluster_idle notice says: Nodes the run used were still up At,
// after it ended at Ended, costing USDPerHour together (nil: not known). Text is the
// notice's sentence, which the page, the terminal client and the message show.
type ClusterIdle struct {
	Nodes      int       `json:"nodes"`
	USDPerHour *float64  `json:"usd_per_hour,omitempty"`
	Ended      time.Time `json:"ended"`
	At         time.Time `json:"at"`
	Text       string    `json:"text"`
}

// Sentence says it of run (its ElasticBLAST job id): "the cluster of run X is still
// up 20 min after it ended: 4 nodes, ≈ $8.06/h — run `elastic-blast delete`".
func (c ClusterIdle) Sentence(run string) string {
	nodes := "1 node"
	if c.Nodes != 1 {
		nodes = fmt.Sprintf("%d nodes", c.Nodes)
	}
	if c.USDPerHour != nil {
		nodes += fmt.Sprintf(", ≈ $%.2f/h", *c.USDPerHour)
	}
	return fmt.Sprintf("the cluster of run %s is still up %s after it ended: %s — run `elastic-blast delete`",
		run, Duration(c.At.Sub(c.Ended)), nodes)
}
