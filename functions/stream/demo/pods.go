package demo

import (
	"context"
	"encoding/json"
	"fmt"
	"hash/fnv"
	"sort"
	"strings"
	"sync"
	"time"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/blastlog/blastlog/adapters/kube/kubesim"
	"github.com/blastlog/blastlog/core/target"
)

// pods plays the run's pods on the simulator as ElasticBLAST runs them: the setup pod
// (deleted a second after it succeeds), the submit pod, the batch Jobs and their pods
// (Parallel at once, the first wave Pending for p.Pending; OOMBatch is OOMKilled and
// its Job fails, RestartBatch's blast container fails once and is restarted,
// EvictBatch's first pod is evicted and its Job makes another), the finalizer.
// failed: a batch job failed.
func (p Player) pods(ctx context.Context, o output) (failed bool, err error) {
	byApp := map[string]string{}
	for name, fp := range o.Pods {
		byApp[fp.Labels["app"]] = name
	}
	for _, app := range []string{"setup", "submit", "blast", "finalizer"} {
		if byApp[app] == "" {
			return false, fmt.Errorf("demo fixture: no %s pod", app)
		}
	}
	// The run's cluster: Nodes of ElasticBLAST's default machine type, in East US.
	for i := range Nodes {
		p.Sim.AddNode(NodeName(o.Run.ELBJobID, i), map[string]string{target.LabelInstanceType: NodeType, target.LabelRegion: "eastus",
			target.LabelPriority: "regular"})
	}
	batches := p.batches()
	parallel := p.Parallel
	if parallel <= 0 {
		parallel = DefaultParallel
	}

	setup := byApp["setup"]
	first := play{node: NodeName(o.Run.ELBJobID, 0)} // where the setup, submit and finalizer pods run
	if !p.pod(ctx, setup, o.Pods[setup], first, false) {
		return false, ctx.Err()
	}
	if !sleep(ctx, p.Pace) {
		return false, ctx.Err()
	}
	p.Sim.Delete("default", setup)
	submit := byApp["submit"]
	sp := o.Pods[submit]
	sp.Containers = map[string][]string{"submit-jobs": replaceAll(sp.Containers["submit-jobs"], "Submitted 120 jobs", fmt.Sprintf("Submitted %d jobs", batches))}
	if !p.pod(ctx, submit, sp, first, false) {
		return false, ctx.Err()
	}
	// The batch Jobs exist before their pods, as submit-jobs creates them: the run's
	// total is known at once.
	type batch struct {
		name string
		fp   fixturePod
	}
	all := make([]batch, batches)
	for b := range all {
		name, bp, err := batchPod(byApp["blast"], o.Pods[byApp["blast"]], b)
		if err != nil {
			return false, err
		}
		all[b] = batch{name, bp}
		p.Sim.Job(batchJob(bp))
	}

	var wg sync.WaitGroup
	slots := make(chan struct{}, parallel)
	var failedPod string
	for b, bt := range all {
		select {
		case slots <- struct{}{}:
		case <-ctx.Done():
		}
		if ctx.Err() != nil {
			break
		}
		oom := b == OOMBatch && !p.Healthy
		if oom {
			failedPod = bt.name
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer func() { <-slots }()
			if b == EvictBatch && !p.evicted(ctx, bt.name, bt.fp, NodeName(o.Run.ELBJobID, evictNode)) {
				return
			}
			if p.pod(ctx, bt.name, bt.fp, play{s: batchScript(b, oom), use: batchUsage(b, oom), stall: p.stallOf(b), node: NodeName(o.Run.ELBJobID, b%Nodes)}, b < parallel && p.Pending > 0) {
				p.endJob(bt.fp.Job, oom)
			}
		}()
	}
	wg.Wait()
	if ctx.Err() != nil {
		return false, ctx.Err()
	}

	fin := byApp["finalizer"]
	fp := o.Pods[fin]
	lines := replaceAll(fp.Containers["finalizer"], "Detected 10 BLAST job(s)", fmt.Sprintf("Detected %d BLAST job(s)", batches))
	lines = replaceAll(lines, "Merging results from 10 shards", fmt.Sprintf("Merging results from %d shards", Shards))
	if failedPod != "" {
		lines = replaceAll(lines, "SUCCESS: all BLAST jobs completed",
			fmt.Sprintf("ERROR: 1 of %d BLAST jobs failed: %s (OOMKilled)", batches, failedPod))
	}
	fp.Containers = map[string][]string{"finalizer": lines}
	if !p.pod(ctx, fin, fp, first, false) {
		return false, ctx.Err()
	}
	return failedPod != "", nil
}

// script changes how one container of a pod plays: its lines, how it ends, and after
// which line (1-based; 0: none) its first instance fails and is restarted.
type script func(container string, lines []string) (out []string, exit int32, reason string, restartAfter int)

// The scheduler's words for a batch pod no node has room for.
const insufficientMemory = "0/3 nodes are available: 3 Insufficient memory. preemption: 0/3 nodes are available: 3 No preemption victims found for incoming pod."

// batchLimits are what ElasticBLAST's config asks of each batch (mem-limit, num-cpus).
var batchLimits = map[string]corev1.ResourceList{"blast": {corev1.ResourceMemory: resource.MustParse("62Gi"),
	corev1.ResourceCPU: resource.MustParse("15")}}

// batchJob is the Job of a batch pod, labelled as its pods are.
func batchJob(fp fixturePod) batchv1.Job {
	j := batchv1.Job{ObjectMeta: metav1.ObjectMeta{Namespace: "default", Name: fp.Job, Labels: fp.Labels}}
	backoff := int32(3)
	j.Spec.BackoffLimit = &backoff
	j.Spec.Template.Spec.Containers = []corev1.Container{{Name: "blast", Image: "ncbi/elb:1.5.0",
		Resources: corev1.ResourceRequirements{Limits: batchLimits["blast"]}}}
	return j
}

// endJob ends a batch's Job: Complete, or Failed on BackoffLimitExceeded with the job
// controller's Warning event.
func (p Player) endJob(name string, failed bool) {
	if failed {
		p.Sim.Event(corev1.Event{ObjectMeta: metav1.ObjectMeta{Namespace: "default", Name: name + ".backofflimit"},
			InvolvedObject: corev1.ObjectReference{Kind: "Job", Name: name}, Type: corev1.EventTypeWarning,
			Reason: "BackoffLimitExceeded", Message: "Job has reached the specified backoff limit",
			Source: corev1.EventSource{Component: "job-controller"}})
	}
	p.Sim.EndJob("default", name, failed, "BackoffLimitExceeded")
}

// evicted plays the first pod of a batch that the kubelet evicts for lack of local
// disk: a few lines, the Warning event, its container killed. The Job then makes
// another pod, which pod plays. It reports false when ctx ended.
func (p Player) evicted(ctx context.Context, name string, fp fixturePod, node string) bool {
	first := strings.TrimSuffix(name, "-h4j5k") + "-e7v1c"
	p.Sim.AddPod(kubesim.PodSpec{Name: first, Job: fp.Job, Labels: fp.Labels, Env: fp.Env,
		Init: sortedKeys(fp.Init), Main: sortedKeys(fp.Containers), Limits: batchLimits, Node: node})
	for _, c := range sortedKeys(fp.Init) {
		p.Sim.Start("default", first, c)
		p.Sim.TerminateWith("default", first, c, 0, "")
	}
	p.Sim.Start("default", first, "blast")
	for _, l := range fp.Containers["blast"][:min(3, len(fp.Containers["blast"]))] {
		if !sleep(ctx, p.Pace) {
			return false
		}
		p.Sim.Log("default", first, "blast", l)
	}
	p.Sim.Event(corev1.Event{ObjectMeta: metav1.ObjectMeta{Namespace: "default", Name: first + ".evicted"},
		InvolvedObject: corev1.ObjectReference{Kind: "Pod", Name: first}, Type: corev1.EventTypeWarning, Reason: "Evicted",
		Message: "The node was low on resource: ephemeral-storage. Threshold quantity: 10Gi, available: 8876Mi. " +
			"Container blast was using 96Gi, request is 0, has larger consumption of ephemeral-storage.",
		Source: corev1.EventSource{Component: "kubelet", Host: node}})
	p.Sim.TerminateWith("default", first, "blast", 137, "ContainerStatusUnknown")
	p.Sim.TerminateWith("default", first, "results-export", 137, "ContainerStatusUnknown")
	return sleep(ctx, p.Pace)
}

// pod adds the pod and plays its init containers, then its main containers, each from
// its first line to its end; pending, it first waits p.Pending on FailedScheduling. It
// reports false when ctx ended.
func (p Player) pod(ctx context.Context, name string, fp fixturePod, pl play, pending bool) bool {
	s, use := pl.s, pl.use
	spec := kubesim.PodSpec{Name: name, Job: fp.Job, Labels: fp.Labels, Env: fp.Env, Node: pl.node}
	spec.Init, spec.Main = sortedKeys(fp.Init), sortedKeys(fp.Containers)
	if s != nil {
		spec.Limits = batchLimits
	}
	if pending {
		spec.Unschedulable = insufficientMemory
	}
	p.Sim.AddPod(spec)
	if pending {
		// The scheduler retries, and says so again, until nodes are added.
		for waited := time.Duration(0); waited < p.Pending; waited += 10 * time.Second {
			p.Sim.Event(corev1.Event{ObjectMeta: metav1.ObjectMeta{Namespace: "default", Name: name + ".failedscheduling"},
				InvolvedObject: corev1.ObjectReference{Kind: "Pod", Name: name}, Type: corev1.EventTypeWarning,
				Reason: "FailedScheduling", Message: insufficientMemory, Source: corev1.EventSource{Component: "default-scheduler"}})
			if !sleep(ctx, min(10*time.Second, p.Pending-waited)) {
				return false
			}
		}
		p.Sim.Schedule("default", name)
	}
	for _, group := range []map[string][]string{fp.Init, fp.Containers} {
		for _, c := range sortedKeys(group) {
			lines, exit, reason, restartAfter := group[c], int32(0), "", 0
			if s != nil {
				lines, exit, reason, restartAfter = s(c, lines)
			}
			p.Sim.Start("default", name, c)
			for i, l := range lines {
				if use != nil && c == "blast" {
					mem, cpu := use(i, len(lines))
					p.Sim.Use("default", name, c, mem, cpu)
				}
				if !sleep(ctx, p.Pace) {
					return false
				}
				p.Sim.Log("default", name, c, l)
				if pl.stall > 0 && c == "blast" && i == 2 {
					// It waits on its node's disk: no CPU, no line, then it goes on.
					mem, _ := use(i, len(lines))
					p.Sim.Use("default", name, c, mem, 0.002)
					if !sleep(ctx, pl.stall) {
						return false
					}
				}
				if i+1 == restartAfter {
					p.Sim.Restart("default", name, c) // exit 1; the next lines are the new instance's
				}
			}
			p.Sim.TerminateWith("default", name, c, exit, reason)
		}
	}
	return true
}

// batchPod is the fixture's batch pod as batch job b: its job number, query batch and
// database shard (four shards) in its name, labels, environment and lines.
func batchPod(name string, fp fixturePod, b int) (string, fixturePod, error) {
	raw, err := json.Marshal(fp)
	if err != nil {
		return "", fixturePod{}, err
	}
	shard := b % 4
	r := strings.NewReplacer("-s00-", fmt.Sprintf("-s%02d-", shard), "job-000", fmt.Sprintf("job-%03d", b),
		"batch_000", fmt.Sprintf("batch_%03d", b), "shard_00", fmt.Sprintf("shard_%02d", shard),
		`"shard":"00"`, fmt.Sprintf(`"shard":"%02d"`, shard), " 000 ", fmt.Sprintf(" %03d ", b),
		`"JOB_NUM":"000"`, fmt.Sprintf(`"JOB_NUM":"%03d"`, b), `"BLAST_ELB_BATCH_NUM":"0"`, fmt.Sprintf(`"BLAST_ELB_BATCH_NUM":"%d"`, b))
	var out fixturePod
	err = json.Unmarshal([]byte(r.Replace(string(raw))), &out)
	return r.Replace(name), out, err
}

// play is how a batch pod's containers behave: their lines and ends (s), what they
// use (use), and how long the blast container stalls after its third line.
type play struct {
	s     script
	use   usage
	stall time.Duration
	node  string // "": kubesim.DefaultNode
}

// evictNode is the node that runs out of ephemeral storage.
const evictNode = 2

// NodeName is node i of the cluster of the run with ElasticBLAST job id elbJobID: a
// cluster per search, as ElasticBLAST makes them, named as AKS names a node pool's
// nodes (aks-<pool>-<8 digits>-vmss<6 digits>).
func NodeName(elbJobID string, i int) string {
	h := fnv.New32a()
	h.Write([]byte(elbJobID))
	return fmt.Sprintf("aks-blast-%08d-vmss%06d", h.Sum32()%100_000_000, i)
}

// removeCluster deletes the run's nodes, as `elastic-blast delete` does.
func (p Player) removeCluster(elbJobID string) {
	for i := range Nodes {
		p.Sim.RemoveNode(NodeName(elbJobID, i))
	}
}

// stallOf is how long batch b stalls in this run.
func (p Player) stallOf(b int) time.Duration {
	if b == StallBatch {
		return p.Stall
	}
	return 0
}

// usage is what the metrics API says of a batch's blast container before its line i
// of n: its working set in bytes, its CPU in cores.
type usage func(i, n int) (memory int64, cpu float64)

// batchUsage: BLAST maps the database shard into memory as it searches, so a batch's
// working set grows from about 20Gi (more for some shards) with its queries; the
// OOMKilled batch's climbs to its 62Gi limit. Each uses its 15 cores but a little.
func batchUsage(b int, oom bool) usage {
	const gi = float64(1 << 30)
	return func(i, n int) (int64, float64) {
		done := float64(i+1) / float64(max(n, 1))
		cpu := 13.8 + float64(b%4)*0.3
		if oom {
			return int64((30 + 31.8*done) * gi), cpu
		}
		return int64((20 + float64(b%5)*3 + 6*done) * gi), cpu
	}
}

// batchScript makes batch b's blast container report its progress (one query batch of
// 40 queries), and plays the OOMKilled batch (when oom) and the restarted one.
func batchScript(b int, oom bool) script {
	return func(c string, lines []string) ([]string, int32, string, int) {
		switch c {
		case "blast":
			if len(lines) < 5 {
				return lines, 0, "", 0
			}
			head, tail := lines[:3], lines[3:]
			var progress []string
			for k := 1; k <= 8; k++ {
				progress = append(progress, fmt.Sprintf("batch_%03d: %d/40 queries searched, %d hits so far", b, 5*k, 37*k+b))
				if oom && k == 5 {
					progress = append(progress, "blastn: resident memory 61.8 GiB of a 62 GiB limit")
					return append(head, progress...), 137, "OOMKilled", 0
				}
				if b == 17 && k == 3 {
					progress = append(progress, fmt.Sprintf("Warning: [blastn] Query_12 batch_%03d: Could not calculate ungapped Karlin-Altschul parameters", b))
				}
			}
			out := append(append(head, progress...), tail...)
			if b == RestartBatch {
				// The first instance fails at its fourth line; the restarted one runs through.
				out = append(append(append([]string{}, head...), "Error: /shared/requests/batch_005.fa: Stale file handle"), out...)
				return out, 0, "", 4
			}
			return out, 0, "", 0
		case "results-export":
			if oom {
				return []string{"INFO: Scanning...", fmt.Sprintf("WARNING: no results for batch_%03d; nothing to export", b)}, 0, "", 0
			}
			url := fmt.Sprintf("INFO: uploading batch_%03d.out to https://stgelb.blob.core.windows.net/results/batch_%03d.out?sv=2023-11-03&sp=cw&sig=c2VjcmV0c2lnbmF0dXJlZm9yYmF0Y2gxMjM0NTY3ODkw%%3D", b, b)
			return append([]string{lines[0], url}, lines[1:]...), 0, "", 0
		}
		return lines, 0, "", 0
	}
}

func replaceAll(lines []string, old, new string) []string {
	out := make([]string, len(lines))
	for i, l := range lines {
		out[i] = strings.ReplaceAll(l, old, new)
	}
	return out
}

func sortedKeys(m map[string][]string) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
