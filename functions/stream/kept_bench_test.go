package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/blastlog/blastlog/adapters/redisstore"
	"github.com/blastlog/blastlog/core/app"
	"github.com/blastlog/blastlog/core/chunk"
	"github.com/blastlog/blastlog/core/event"
)

// A summary request of a 1,000,000-line run without an archive: the kept summary plus
// the few events after it, never the run. Reported: the request's time (median and
// p90 of 50) once the run is counted.
func BenchmarkSummaryWithoutArchive(b *testing.B) {
	for range b.N {
		s := newStack(b)
		srv := s.server(b, keptEnv)
		const run = "run-million"
		s.register(b, run, owner)
		var in strings.Builder
		for i := range 1_000_000 {
			fmt.Fprintf(&in, "batch_%03d: Query_%d hit %d\n", i%24, i, i)
		}
		if err := s.run(in.String(), "lines", "--job", run, "--phase", "running"); err != nil {
			b.Fatal(err)
		}
		deadline := time.Now().Add(5 * time.Minute)
		for {
			if countOf(b, srv.base, run) >= 1_000_000 {
				break
			}
			if time.Now().After(deadline) {
				b.Fatal("the run was not counted within 5 min")
			}
			time.Sleep(100 * time.Millisecond)
		}
		var took []time.Duration
		for range 50 {
			req, _ := http.NewRequest(http.MethodGet, srv.base+"/api/blast/logs/"+run+"/summary", nil)
			req.Header.Set("X-Dev-User", owner)
			start := time.Now()
			res, err := http.DefaultClient.Do(req)
			if err != nil {
				b.Fatal(err)
			}
			res.Body.Close()
			took = append(took, time.Since(start))
		}
		sort.Slice(took, func(i, j int) bool { return took[i] < took[j] })
		b.ReportMetric(float64(took[len(took)/2].Microseconds())/1000, "ms/summary")
		b.ReportMetric(float64(took[len(took)*9/10].Microseconds())/1000, "p90-ms/summary")
	}
}

// countOf is the run's summary count.
func countOf(b *testing.B, base, run string) int64 {
	req, _ := http.NewRequest(http.MethodGet, base+"/api/blast/logs/"+run+"/summary", nil)
	req.Header.Set("X-Dev-User", owner)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		b.Fatal(err)
	}
	defer res.Body.Close()
	var sum app.RunSummary
	json.NewDecoder(res.Body).Decode(&sum)
	return sum.Count
}

// The Redis memory of a run's kept summary (MEMORY USAGE of blastlog:summary:<id>), for
// a 24-batch and a 5,000-batch run, each batch with a Job, one attempt (one in ten a
// failed one and its retry) and its container's counts.
func BenchmarkKeptSummaryMemory(b *testing.B) {
	for _, batches := range []int{24, 5000} {
		b.Run(fmt.Sprint(batches), func(b *testing.B) {
			for range b.N {
				rdb := newStack(b).rdb
				kept := redisstore.NewSummaries(rdb, redisstore.Config{})
				idx := chunk.NewIndex("run-mem")
				at := time.Now().UTC()
				seq := 0
				add := func(e event.Event) {
					seq++
					e.ID = event.ID{MS: uint64(1_800_000_000_000 + seq)}
					idx.Summary.Add(&e)
				}
				for n := range batches {
					job := fmt.Sprintf("blastn-batch-core-nt-job-%03d-3ed51a95", n)
					notice := event.System("run-mem", event.PhaseRunning, event.NoticeBatch, "batch "+job, at)
					notice.Detail = &event.Detail{Object: "Job/" + job, Batch: fmt.Sprintf("%03d", n), State: "active", Memory: "62Gi", CPU: "15"}
					add(notice)
					tries := 1
					if n%10 == 0 {
						tries = 2
					}
					for a := range tries {
						pod := fmt.Sprintf("%s-p%d", job, a)
						add(event.Event{SchemaVersion: 1, JobID: "run-mem", Source: event.SourceK8s, Phase: event.PhaseRunning,
							Stream: event.Stdout, Pod: pod, Container: "blast", ContainerID: "containerd://" + pod,
							Line: "run start " + fmt.Sprint(n), TS: at})
						ended := event.System("run-mem", event.PhaseRunning, event.NoticeContainerEnded, pod+"/blast ended", at)
						ended.Pod, ended.Container, ended.ContainerID = pod, "blast", "containerd://"+pod
						code := 0
						if a+1 < tries {
							code = 1
						}
						ended.Ended = &event.Ended{ExitCode: code, StartedAt: at, FinishedAt: at, Completeness: event.Complete}
						add(ended)
					}
					done := notice
					done.Detail = &event.Detail{Object: "Job/" + job, Batch: fmt.Sprintf("%03d", n), State: "succeeded"}
					add(done)
				}
				idx.LastID, idx.Count = event.ID{MS: uint64(1_800_000_000_000 + seq)}, int64(seq)
				if _, err := kept.PutIndex(context.Background(), idx, ""); err != nil {
					b.Fatal(err)
				}
				n, err := rdb.MemoryUsage(context.Background(), redisstore.Config{}.SummaryKey("run-mem")).Result()
				if err != nil {
					b.Fatal(err)
				}
				b.ReportMetric(float64(n), "bytes/run")
			}
		})
	}
}
