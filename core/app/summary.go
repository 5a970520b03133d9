package app

import (
	"context"
	"errors"
	"sort"
	"time"

	"github.com/blastlog/blastlog/core/app/history"
	"github.com/blastlog/blastlog/core/diagnose"
	"github.com/blastlog/blastlog/core/event"
	"github.com/blastlog/blastlog/core/job"
	"github.com/blastlog/blastlog/core/summary"
	"github.com/blastlog/blastlog/core/target"
	"github.com/blastlog/blastlog/ports"
)

// summaryTail bounds the events a summary reads beyond what the kept summary counted
// (the archiver's lag: what arrived since its last index write, a few seconds' worth).
const summaryTail = 200_000

// RunSummary is what the step headers and the batch table need (docs/api.md §3).
type RunSummary struct {
	JobID     string    `json:"job_id"`
	Status    string    `json:"status"`
	OwnerOID  string    `json:"owner_oid"`
	ELBJobID  string    `json:"elb_job_id"`
	CreatedAt time.Time `json:"created_at"`
	UpdatedAt time.Time `json:"updated_at"`
	// Record repeats the run record's fields as one object.
	Record     SummaryRecord            `json:"record"`
	Steps      map[string]*summary.Step `json:"steps"`
	Containers []*summary.Container     `json:"containers"`
	// Partial: more events followed than a summary reads; the counts stop at LastID.
	Partial bool     `json:"partial"`
	LastID  event.ID `json:"last_id"`
	Count   int64    `json:"count"`
	// Diagnosis: where the run stands and why it failed (docs/api.md §8).
	Diagnosis diagnose.Diagnosis `json:"diagnosis"`
}

// SummaryRecord is the run record as a summary shows it.
type SummaryRecord struct {
	OwnerOID  string    `json:"owner_oid"`
	Status    string    `json:"status"`
	ELBJobID  string    `json:"elb_job_id"`
	CreatedAt time.Time `json:"created_at"`
	UpdatedAt time.Time `json:"updated_at"`
}

// Summary is the run's summary: the counts and diagnosis kept beside the run (or, for
// a run Redis forgot, in the archive's index), as the archiver last wrote them, plus
// the few events after what they cover.
func (r *Reads) Summary(ctx context.Context, rec job.Record) (RunSummary, error) {
	run := summary.New()
	var from event.ID
	var count int64
	for _, store := range []ports.IndexStore{r.Kept, r.Index} {
		if store == nil {
			continue
		}
		idx, _, err := store.Index(ctx, rec.JobID)
		if errors.Is(err, ports.ErrNotFound) {
			continue
		}
		if err != nil {
			return RunSummary{}, err
		}
		run = idx.Summary.Clone()
		from = idx.LastID
		count = idx.Count
		break
	}
	out := RunSummary{JobID: rec.JobID, Status: string(rec.Status), OwnerOID: rec.OwnerOID, ELBJobID: rec.ELBJobID,
		CreatedAt: rec.CreatedAt, UpdatedAt: rec.UpdatedAt, LastID: from,
		Record: SummaryRecord{OwnerOID: rec.OwnerOID, Status: string(rec.Status), ELBJobID: rec.ELBJobID,
			CreatedAt: rec.CreatedAt, UpdatedAt: rec.UpdatedAt}}
	var read int64
	err := r.History.Scan(ctx, rec.JobID, from, downloadPage, func(p history.Page) error {
		for i := range p.Events {
			run.Add(&p.Events[i])
			out.LastID = p.Events[i].ID
			count++
			if read++; read >= summaryTail {
				out.Partial = true
				return errStopScan
			}
		}
		return nil
	})
	if err != nil && !errors.Is(err, errStopScan) {
		return RunSummary{}, err
	}
	out.Steps, out.Count = run.Steps, count
	out.Diagnosis = run.Diagnosis.Diagnose(diagnose.Run{Status: string(rec.Status), Now: r.now(), StuckAfter: r.StuckAfter,
		Prices: r.prices(ctx, &run.Diagnosis)})
	out.Containers = make([]*summary.Container, 0, len(run.Containers))
	for _, c := range run.Containers {
		out.Containers = append(out.Containers, c)
	}
	sort.Slice(out.Containers, func(i, j int) bool {
		a, b := out.Containers[i], out.Containers[j]
		if a.Pod != b.Pod {
			return a.Pod < b.Pod
		}
		if a.Container != b.Container {
			return a.Container < b.Container
		}
		return a.Restart < b.Restart
	})
	return out, nil
}

// prices are what the run's nodes cost by the hour; a book that cannot be read now
// leaves them unpriced (node-hours only).
func (r *Reads) prices(ctx context.Context, t *diagnose.Tracker) diagnose.Prices {
	if r.Prices == nil || len(t.Nodes) == 0 {
		return diagnose.Prices{}
	}
	nodes := make([]target.Node, 0, len(t.Nodes))
	for name, n := range t.Nodes {
		nodes = append(nodes, target.Node{Name: name, InstanceType: n.Type, Region: n.Region, Spot: n.Spot})
	}
	p, _ := r.Prices.Prices(ctx, nodes)
	return p
}
