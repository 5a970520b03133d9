package app

import (
	"encoding/json"
	"fmt"
	"io"
	"testing"
	"time"

	"github.com/blastlog/blastlog/core/diagnose"
	"github.com/blastlog/blastlog/core/event"
)

// BenchmarkReport5000: the report of a finished run of 5,000 batches, two attempts
// each (the first OOMKilled), sampled and on 40 nodes: its diagnosis from the run's
// tracker, the rows and totals, then its CSV and its JSON. Reported: ms per report
// and the CSV's bytes.
func BenchmarkReport5000(b *testing.B) {
	t0 := time.Date(2026, 12, 7, 0, 0, 0, 0, time.UTC)
	var tr diagnose.Tracker
	for i := range 5000 {
		job := fmt.Sprintf("blastn-batch-s%02d-job-%04d-3ed51a95", i%4, i)
		for a, end := range []struct {
			code   int
			reason string
		}{{137, "OOMKilled"}, {0, "Completed"}} {
			pod := fmt.Sprintf("%s-%c", job, 'a'+a)
			at := t0.Add(time.Duration(i)*time.Minute + time.Duration(a)*10*time.Minute)
			e := event.System("run-big", event.PhaseRunning, event.NoticeContainerEnded, pod+"/blast ended", at.Add(10*time.Minute))
			e.Pod, e.Container, e.ContainerID = pod, "blast", fmt.Sprintf("containerd://%d-%d", i, a)
			e.Ended = &event.Ended{ExitCode: end.code, Reason: end.reason, StartedAt: at, FinishedAt: at.Add(10 * time.Minute),
				Completeness: event.Complete, Memory: "62Gi", CPU: "15", Node: fmt.Sprintf("node-%d", (i+a)%40),
				Usage: &event.Usage{PeakMemory: 60 << 30, CPUMean: 14.2, CPUPeak: 14.6, Samples: 40, First: at, Last: at.Add(10 * time.Minute)}}
			tr.Add(&e)
		}
		j := event.System("run-big", "", event.NoticeBatch, job+" succeeded", t0.Add(time.Duration(i)*time.Minute+20*time.Minute))
		j.Detail = &event.Detail{Object: "Job/" + job, Batch: fmt.Sprintf("%04d", i), State: "succeeded", Memory: "62Gi"}
		tr.Add(&j)
	}
	now := t0.Add(100 * time.Hour)
	var csvBytes int
	for b.Loop() {
		sum := RunSummary{JobID: "run-big", Status: "completed",
			Diagnosis: tr.Diagnose(diagnose.Run{Status: "completed", Now: now})}
		rep := BuildReport(sum, now)
		if len(rep.Batches) != 5000 {
			b.Fatalf("%d rows", len(rep.Batches))
		}
		w := &countingWriter{}
		if err := rep.WriteCSV(w); err != nil {
			b.Fatal(err)
		}
		if err := json.NewEncoder(io.Discard).Encode(rep); err != nil {
			b.Fatal(err)
		}
		csvBytes = w.n
	}
	b.ReportMetric(float64(b.Elapsed().Microseconds())/1000/float64(b.N), "ms/report")
	b.ReportMetric(float64(csvBytes), "csv-bytes")
}

type countingWriter struct{ n int }

func (w *countingWriter) Write(p []byte) (int, error) { w.n += len(p); return len(p), nil }
