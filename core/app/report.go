package app

import (
	"cmp"
	"context"
	"encoding/csv"
	"io"
	"regexp"
	"strconv"
	"time"

	"github.com/blastlog/blastlog/core/diagnose"
	"github.com/blastlog/blastlog/core/job"
	"github.com/blastlog/blastlog/core/summary"
)

// Report is a run's report (docs/api.md §13): one row per batch, and the run's totals.
type Report struct {
	JobID   string       `json:"job_id"`
	Status  string       `json:"status"`
	Batches []ReportRow  `json:"batches"`
	Totals  ReportTotals `json:"totals"`
}

// ReportRow is one batch: its latest attempt's end, the most it was seen to use, and
// the hint of its cause. Figures not known are null.
type ReportRow struct {
	Batch       string     `json:"batch"`
	Shard       string     `json:"shard"`
	State       string     `json:"state"`
	Attempts    int        `json:"attempts"`
	Started     *time.Time `json:"started"`
	Ended       *time.Time `json:"ended"`
	Seconds     *float64   `json:"seconds"`
	ExitCode    *int       `json:"exit_code"`
	Reason      string     `json:"reason"`
	PeakMemory  string     `json:"peak_memory"`
	MemoryLimit string     `json:"memory_limit"`
	CPUMean     *float64   `json:"cpu_mean"`
	CPUPeak     *float64   `json:"cpu_peak"`
	NodeType    string     `json:"node_type"` // its latest attempt's node's instance type
	Hint        string     `json:"hint"`
}

// ReportTotals are the run's: its wall time (first batch start to the last end, or
// now), the batches' time added up, its failed batches, and its node-hours and cost
// (the diagnosis's; null when not known).
type ReportTotals struct {
	Batches       int      `json:"batches"`
	FailedBatches int      `json:"failed_batches"`
	WallSeconds   float64  `json:"wall_seconds"`
	BatchSeconds  float64  `json:"batch_seconds"`
	NodeHours     *float64 `json:"node_hours"`
	USD           *float64 `json:"usd"`
}

// ReportColumns are the CSV's header, the rows' JSON names in order.
var ReportColumns = []string{"batch", "shard", "state", "attempts", "started", "ended", "seconds", "exit_code", "reason",
	"peak_memory", "memory_limit", "cpu_mean", "cpu_peak", "node_type", "hint"}

// Report reads rec's summary and makes its report at now.
func (r *Reads) Report(ctx context.Context, rec job.Record, now time.Time) (Report, error) {
	sum, err := r.Summary(ctx, rec)
	if err != nil {
		return Report{}, err
	}
	return BuildReport(sum, now), nil
}

// shardOf is the database part of an ElasticBLAST batch Job's name:
// <program>-batch-<db>-job-<NNN>-<suffix>.
var shardOf = regexp.MustCompile(`-batch-(.+)-job-\d+`)

// BuildReport is sum as a report at now: the diagnosis's batches, with each one's CPU
// mean from its latest attempt's usage and the hint of its cause.
func BuildReport(sum RunSummary, now time.Time) Report {
	d := sum.Diagnosis
	out := Report{JobID: sum.JobID, Status: sum.Status, Batches: []ReportRow{}}
	usage := map[string]*summary.Container{}
	for _, c := range sum.Containers {
		usage[c.Pod+"/"+c.Container] = c
	}
	hints := map[string]string{}
	for _, c := range d.Causes {
		if c.Batch != "" && hints[c.Batch] == "" {
			hints[c.Batch] = c.Hint
		}
	}
	var first, last time.Time
	for _, b := range d.Batches {
		row := ReportRow{Batch: b.Batch, State: b.State, Attempts: len(batchAttempts(b)), Started: b.Started, Hint: hints[b.Batch]}
		if m := shardOf.FindStringSubmatch(b.Job); m != nil {
			row.Shard = m[1]
		}
		if b.Limit != nil {
			row.MemoryLimit = b.Limit.Memory
		}
		if b.Peak != nil {
			row.PeakMemory = b.Peak.Memory
			peak := b.Peak.CPU
			row.CPUPeak = &peak
		}
		if n := len(b.Attempts); n > 0 {
			a := b.Attempts[n-1]
			code := a.ExitCode
			row.ExitCode, row.Reason = &code, a.Reason
			row.NodeType = a.NodeType
			if c := usage[a.Pod+"/"+a.Container]; c != nil && c.Usage != nil {
				mean := c.Usage.CPUMean
				row.CPUMean = &mean
			}
			if b.State != diagnose.BatchRunning && b.State != diagnose.BatchPending && !a.FinishedAt.IsZero() {
				end := a.FinishedAt
				row.Ended = &end
			}
			if row.Started == nil && !b.Attempts[0].StartedAt.IsZero() {
				start := b.Attempts[0].StartedAt
				row.Started = &start
			}
		}
		if row.Started != nil {
			end := cmp.Or(timeOf(row.Ended), now)
			secs := end.Sub(*row.Started).Seconds()
			row.Seconds = &secs
			out.Totals.BatchSeconds += secs
			if first.IsZero() || row.Started.Before(first) {
				first = *row.Started
			}
			if end.After(last) {
				last = end
			}
		}
		if b.State == diagnose.BatchFailed {
			out.Totals.FailedBatches++
		}
		out.Batches = append(out.Batches, row)
	}
	out.Totals.Batches = len(out.Batches)
	if c := d.Cost; c != nil {
		hours := c.NodeHours
		out.Totals.NodeHours, out.Totals.USD = &hours, c.USD
	}
	if !first.IsZero() {
		out.Totals.WallSeconds = last.Sub(first).Seconds()
	}
	return out
}

// batchAttempts are a batch's attempts: its blast container's instances (its pods and
// their restarts), or every container's when it has no blast container (a batch's
// results-export runs in the same pod: not another attempt).
func batchAttempts(b diagnose.BatchState) []diagnose.Attempt {
	var out []diagnose.Attempt
	for _, a := range b.Attempts {
		if a.Container == "blast" {
			out = append(out, a)
		}
	}
	if len(out) == 0 {
		return b.Attempts
	}
	return out
}

func timeOf(t *time.Time) time.Time {
	if t == nil {
		return time.Time{}
	}
	return *t
}

// WriteCSV writes the report's batches as CSV (RFC 4180): a header of ReportColumns,
// then a row per batch; times in RFC 3339 (UTC), seconds whole, cores as decimals, an
// unknown figure empty. The API's format=csv and the terminal client's -o csv.
func (rep Report) WriteCSV(w io.Writer) error {
	cw := csv.NewWriter(w)
	cw.Write(ReportColumns)
	num := func(f *float64, digits int) string {
		if f == nil {
			return ""
		}
		return strconv.FormatFloat(*f, 'f', digits, 64)
	}
	at := func(t *time.Time) string {
		if t == nil {
			return ""
		}
		return t.UTC().Format(time.RFC3339)
	}
	for _, b := range rep.Batches {
		code := ""
		if b.ExitCode != nil {
			code = strconv.Itoa(*b.ExitCode)
		}
		cw.Write([]string{b.Batch, b.Shard, b.State, strconv.Itoa(b.Attempts), at(b.Started), at(b.Ended), num(b.Seconds, 0),
			code, b.Reason, b.PeakMemory, b.MemoryLimit, num(b.CPUMean, 2), num(b.CPUPeak, 1), b.NodeType, b.Hint})
	}
	cw.Flush()
	return cw.Error()
}
