package demo

import (
	"context"
	"encoding/json"
	"fmt"
	"sort"
	"strings"
	"sync"

	"github.com/blastlog/blastlog/adapters/kube/kubesim"
)

// pods plays the run's pods on the simulator as ElasticBLAST runs them: the setup pod
// (deleted a second after it succeeds), the submit pod, the batch jobs (Parallel at
// once; OOMBatch is OOMKilled, RestartBatch's blast container fails once and is
// restarted), the finalizer. failed: a batch job failed.
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
	batches := p.Batches
	if batches <= 0 {
		batches = DefaultBatches
	}
	parallel := p.Parallel
	if parallel <= 0 {
		parallel = DefaultParallel
	}

	setup := byApp["setup"]
	if !p.pod(ctx, setup, o.Pods[setup], nil) {
		return false, ctx.Err()
	}
	if !sleep(ctx, p.Pace) {
		return false, ctx.Err()
	}
	p.Sim.Delete("default", setup)
	submit := byApp["submit"]
	sp := o.Pods[submit]
	sp.Containers = map[string][]string{"submit-jobs": replaceAll(sp.Containers["submit-jobs"], "Submitted 120 jobs", fmt.Sprintf("Submitted %d jobs", batches))}
	if !p.pod(ctx, submit, sp, nil) {
		return false, ctx.Err()
	}

	var wg sync.WaitGroup
	slots := make(chan struct{}, parallel)
	var failedPod string
	for b := 0; b < batches; b++ {
		select {
		case slots <- struct{}{}:
		case <-ctx.Done():
		}
		if ctx.Err() != nil {
			break
		}
		name, bp, err := batchPod(byApp["blast"], o.Pods[byApp["blast"]], b)
		if err != nil {
			return false, err
		}
		if b == OOMBatch {
			failedPod = name
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer func() { <-slots }()
			p.pod(ctx, name, bp, batchScript(b))
		}()
	}
	wg.Wait()
	if ctx.Err() != nil {
		return false, ctx.Err()
	}

	fin := byApp["finalizer"]
	fp := o.Pods[fin]
	lines := replaceAll(fp.Containers["finalizer"], "Detected 10 BLAST job(s)", fmt.Sprintf("Detected %d BLAST job(s)", batches))
	if failedPod != "" {
		lines = replaceAll(lines, "SUCCESS: all BLAST jobs completed",
			fmt.Sprintf("ERROR: 1 of %d BLAST jobs failed: %s (OOMKilled)", batches, failedPod))
	}
	fp.Containers = map[string][]string{"finalizer": lines}
	if !p.pod(ctx, fin, fp, nil) {
		return false, ctx.Err()
	}
	return failedPod != "", nil
}

// script changes how one container of a pod plays: its lines, how it ends, and after
// which line (1-based; 0: none) its first instance fails and is restarted.
type script func(container string, lines []string) (out []string, exit int32, reason string, restartAfter int)

// pod adds the pod and plays its init containers, then its main containers, each from
// its first line to its end. It reports false when ctx ended.
func (p Player) pod(ctx context.Context, name string, fp fixturePod, s script) bool {
	spec := kubesim.PodSpec{Name: name, Job: fp.Job, Labels: fp.Labels, Env: fp.Env}
	spec.Init, spec.Main = sortedKeys(fp.Init), sortedKeys(fp.Containers)
	p.Sim.AddPod(spec)
	for _, group := range []map[string][]string{fp.Init, fp.Containers} {
		for _, c := range sortedKeys(group) {
			lines, exit, reason, restartAfter := group[c], int32(0), "", 0
			if s != nil {
				lines, exit, reason, restartAfter = s(c, lines)
			}
			p.Sim.Start("default", name, c)
			for i, l := range lines {
				if !sleep(ctx, p.Pace) {
					return false
				}
				p.Sim.Log("default", name, c, l)
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

// batchScript makes batch b's blast container report its progress (one query batch of
// 40 queries), and plays the OOMKilled batch and the restarted one.
func batchScript(b int) script {
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
				if b == OOMBatch && k == 5 {
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
			if b == OOMBatch {
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
