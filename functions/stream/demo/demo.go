package demo

import (
	"bytes"
	"context"
	"crypto/sha256"
	_ "embed"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"sync"
	"time"

	"github.com/blastlog/blastlog/adapters/kube/kubesim"
	"github.com/blastlog/blastlog/core/app/publish"
	"github.com/blastlog/blastlog/core/event"
	"github.com/blastlog/blastlog/core/job"
	"github.com/blastlog/blastlog/ports"
)

//go:embed elastic-blast-output.json
var fixture []byte

// The fixture's run names itself by this ElasticBLAST job id and its last 8 hex digits.
const (
	fixtureELBHex = "429825360482416da20736cf3ed51a95"
	fixtureSuffix = "3ed51a95"
)

// secretLines are what a misconfigured task prints now and then: a storage connection
// string and a SAS URL. The publisher masks them before they are stored.
var secretLines = []string{
	"INFO: storage connection DefaultEndpointsProtocol=https;AccountName=stgelb;AccountKey=" +
		"q5n0cUzH3b6JY2n8m0r9w1x4ZkLbT7sVgE2fHj8KdPa6QeR3tYuI9oPlMnBvCxZaSdFgHjKlQwErTyUiOp==;EndpointSuffix=core.windows.net",
	"INFO: azcopy copy https://stgelb.blob.core.windows.net/queries/batch_000.fa?sv=2023-11-03&se=2026-12-31T00%3A00%3A00Z&sp=rw&sig=" +
		"Zm9vYmFyYmF6cXV4MTIzNDU2Nzg5MGFiY2RlZmdoaWprbG1ub3A%3D /shared/requests/",
}

type fixturePod struct {
	Job        string                       `json:"job"`
	Labels     map[string]string            `json:"labels"`
	Init       map[string][]string          `json:"init_containers"`
	Containers map[string][]string          `json:"containers"`
	Env        map[string]map[string]string `json:"env"`
}

type output struct {
	Run struct {
		ELBJobID string `json:"elb_job_id"`
		Cluster  string `json:"cluster"`
	} `json:"run"`
	Stdout []string              `json:"submit_stdout"`
	Stderr []string              `json:"submit_stderr"`
	Pods   map[string]fixturePod `json:"pods"`
}

// load reads the fixture as the run jobID: its ElasticBLAST job id (and so its pod
// names and labels) derived from jobID, so that runs played at once stay apart.
func load(jobID string) (output, error) {
	sum := sha256.Sum256([]byte(jobID))
	hexID := hex.EncodeToString(sum[:16])
	data := bytes.ReplaceAll(fixture, []byte(fixtureELBHex), []byte(hexID))
	data = bytes.ReplaceAll(data, []byte(fixtureSuffix), []byte(hexID[len(hexID)-8:]))
	var o output
	err := json.Unmarshal(data, &o)
	return o, err
}

// Prices are the dev stack's example prices (USD per hour, near the pay-as-you-go
// Linux prices of East US; an example, not a quote), for BLASTLOG_PRICES unset in -dev.
//
//go:embed prices.json
var Prices []byte

// Player plays demo runs. Pace is the time between two lines of one container (the
// submit output goes at half of it); zero plays at full speed.
type Player struct {
	Log    ports.EventLog
	Jobs   ports.JobDirectory
	Active ports.ActiveRuns // nil: the run is not marked for collection
	Sim    *kubesim.Sim     // nil: submit output only
	Owner  string
	Pace   time.Duration
	// Batches is the number of batch jobs (DefaultBatches when 0); Parallel of them run
	// at once (DefaultParallel when 0).
	Batches, Parallel int
	// Pending: the first wave of batch pods waits this long on FailedScheduling
	// (Insufficient memory) before the scheduler places them; 0: they start at once.
	Pending time.Duration
	// Healthy: no batch is OOMKilled, the run succeeds.
	Healthy bool
	// Stall: batch StallBatch uses no CPU and writes nothing this long after its third
	// line, then goes on (0: it does not stall).
	Stall time.Duration
	// KeepCluster: the run's nodes stay up this long after it ended (someone forgot
	// `elastic-blast delete`); 0: they are deleted as it ends.
	KeepCluster time.Duration
}

// Defaults of a Player.
const (
	DefaultBatches  = 24
	DefaultParallel = 6
	// OOMBatch is the batch job whose blast container is OOMKilled; RestartBatch the one
	// whose blast container fails once and is restarted by Kubernetes; EvictBatch the one
	// whose first pod is evicted for ephemeral storage, its Job making a second.
	OOMBatch     = 13
	RestartBatch = 5
	EvictBatch   = 8
	StallBatch   = 19
	// Shards are the database shards the batches are spread over.
	Shards = 4
	// Nodes are the demo cluster's nodes, of NodeType; batch b runs on node b % Nodes.
	Nodes    = 4
	NodeType = "Standard_E32s_v3"
	// PendingEvery: one run in this many spends DemoPending with batches Pending.
	PendingEvery = 3
	DemoPending  = 40 * time.Second
	// DemoStall: in one run of three batch StallBatch stalls this long (the dev stack's
	// BLASTLOG_STALL_AFTER is 10 s).
	DemoStall = 25 * time.Second
	// DemoKeepCluster: in one run of three the cluster stays up this long after the run
	// (the dev stack's BLASTLOG_IDLE_AFTER is 20 s: its cluster_idle notice shows).
	DemoKeepCluster = time.Minute
)

// Play plays one run: registers jobID for the owner, publishes `elastic-blast submit`,
// plays the pods on the run's own nodes, marks the run failed (its OOMKilled batch) or
// completed (Healthy), and deletes its nodes, KeepCluster later.
func (p Player) Play(ctx context.Context, jobID string) error {
	o, err := load(jobID)
	if err != nil {
		return err
	}
	if err := p.Jobs.Register(ctx, job.Record{JobID: jobID, OwnerOID: p.Owner, ELBJobID: o.Run.ELBJobID,
		ClusterName: o.Run.Cluster, Status: job.Running}); err != nil {
		return err
	}
	if p.Active != nil {
		if err := p.Active.Touch(ctx, jobID); err != nil { // as blastlog-publish job register does
			return err
		}
	}
	o.tell(p.batches())
	if err := p.submit(ctx, jobID, o); err != nil {
		return err
	}
	status := job.Completed
	if p.Sim != nil {
		failed, err := p.pods(ctx, o)
		if err != nil {
			p.removeCluster(o.Run.ELBJobID)
			return err
		}
		if failed {
			status = job.Failed
		}
	}
	if err := p.Jobs.SetStatus(context.WithoutCancel(ctx), jobID, status); err != nil {
		return err
	}
	if p.Sim != nil {
		sleep(ctx, p.KeepCluster)
		p.removeCluster(o.Run.ELBJobID)
	}
	return nil
}

func (p Player) batches() int {
	if p.Batches > 0 {
		return p.Batches
	}
	return DefaultBatches
}

// tell makes the submit output agree with the pods played: n batches over Shards
// shards (the fixture's run had 10), and no error of another cluster's.
func (o *output) tell(n int) {
	r := strings.NewReplacer("10 batches,", fmt.Sprintf("%d batches,", n),
		"Initializing 10 shards on 10 nodes", fmt.Sprintf("Initializing %d shards on %d nodes", Shards, Shards),
		"Submitting 10 sharded jobs (10 shards x 1 batches)", fmt.Sprintf("Submitting %d sharded jobs (%d shards x %d batches)", n, Shards, (n+Shards-1)/Shards))
	keep := func(lines []string) []string {
		var out []string
		for _, l := range lines {
			if !strings.HasPrefix(l, "ERROR: AKS cluster") {
				out = append(out, r.Replace(l))
			}
		}
		return out
	}
	o.Stdout, o.Stderr = keep(o.Stdout), keep(o.Stderr)
}

// submit writes the submit output's stdout and stderr, interleaved, to a publisher as
// a task worker's `blastlog-publish run` would.
func (p Player) submit(ctx context.Context, jobID string, o output) error {
	pub, err := publish.New(p.Log, nil, publish.Config{JobID: jobID, Phase: event.PhaseSubmitting})
	if err != nil {
		return err
	}
	stdout := append(append(append([]string{}, o.Stdout[:min(4, len(o.Stdout))]...), secretLines...), o.Stdout[min(4, len(o.Stdout)):]...)
	out, errw := pub.Writer(event.Stdout), pub.Writer(event.Stderr)
	for i := 0; i < len(stdout) || i < len(o.Stderr); i++ {
		for _, s := range []struct {
			w     io.Writer
			lines []string
		}{{out, stdout}, {errw, o.Stderr}} {
			if i < len(s.lines) {
				fmt.Fprintln(s.w, s.lines[i])
			}
		}
		if !sleep(ctx, p.Pace/2) {
			break
		}
	}
	out.Close()
	errw.Close()
	if st := pub.Close(ctx); st.Err != nil { // a stopped demo drops what it had not stored

		return st.Err
	}
	return ctx.Err()
}

func sleep(ctx context.Context, d time.Duration) bool {
	if d <= 0 {
		return ctx.Err() == nil
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}

// Loop starts a run now and then one every period, named by name(1), name(2), ...,
// until ctx ends, and returns once every run it started has stopped; a run lasting
// longer than the period overlaps the next, so one is always live. failed is told of
// a run that could not be played.
func (p Player) Loop(ctx context.Context, period time.Duration, name func(n int) string, failed func(jobID string, err error)) {
	t := time.NewTicker(period)
	defer t.Stop()
	var plays sync.WaitGroup
	defer plays.Wait()
	for n := 1; ; n++ {
		plays.Add(1)
		run := p
		switch n % PendingEvery {
		case 1:
			if run.Stall == 0 {
				run.Stall = DemoStall // one run in three has a batch that stalls
			}
		case 2:
			if run.Pending == 0 {
				run.Pending = DemoPending // one run in three waits for nodes first
			}
		case 0:
			run.Healthy = true // and one in three succeeds, its cluster left up a minute
			if run.KeepCluster == 0 {
				run.KeepCluster = DemoKeepCluster
			}
		}
		go func(id string) {
			defer plays.Done()
			if err := run.Play(ctx, id); err != nil && ctx.Err() == nil {
				failed(id, err)
			}
		}(name(n))
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}
