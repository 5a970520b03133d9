package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/blastlog/blastlog/adapters/apiclient"
	"github.com/blastlog/blastlog/core/app"
	"github.com/blastlog/blastlog/core/diagnose"
	"github.com/blastlog/blastlog/core/job"
)

// statusPoll is how often status --wait reads the summary.
const statusPoll = 2 * time.Second

type statusOpts struct {
	wait   bool
	output string
}

func statusCmd(e *env, g *global) *cobra.Command {
	o := &statusOpts{}
	cmd := &cobra.Command{
		Use:   "status RUN",
		Short: "Where a run stands and, if it failed, why: progress, causes and hints",
		Long: `Print the run's diagnosis: its state, a headline, the batches done, running, pending
and failed with the time left, and the causes of a failure in ElasticBLAST's terms
(an OOMKilled batch, an image that cannot be pulled, a pod that cannot be scheduled)
with what to do about each.

With --wait it follows the run until it is over, printing progress as it changes,
and exits 0 if the run succeeded and 1 if it failed or was cancelled (as
elastic-blast status --exit-code does).`,
		Example: `  blastlog status run-42
  blastlog status run-42 --wait && echo "results are ready"
  blastlog status run-42 -o json | jq .diagnosis.causes`,
		Args: exactArgs(1, "RUN"),
		RunE: func(cmd *cobra.Command, args []string) error { return o.run(cmd.Context(), e, g, args[0]) },
	}
	cmd.Flags().BoolVar(&o.wait, "wait", false, "follow the run until it is over; exit by its outcome")
	cmd.Flags().StringVarP(&o.output, "output", "o", formatText, "text or json")
	return cmd
}

func (o *statusOpts) run(ctx context.Context, e *env, g *global, jobID string) error {
	if o.output != formatText && o.output != formatJSON {
		return usagef("-o must be text or json")
	}
	color, err := g.colored(e, e.stdout)
	if err != nil {
		return err
	}
	c, err := g.client(ctx, e)
	if err != nil {
		return err
	}
	sum, err := c.Summary(ctx, jobID)
	if err != nil {
		return err
	}
	if o.wait {
		if sum, err = waitDone(ctx, c, jobID, sum, func(s app.RunSummary) {
			if o.output == formatText {
				fmt.Fprintln(e.stderr, progressLine(s))
			}
		}); err != nil {
			return err
		}
	}
	if o.output == formatJSON {
		b, _ := json.Marshal(struct {
			JobID     string             `json:"job_id"`
			Status    string             `json:"status"`
			Diagnosis diagnose.Diagnosis `json:"diagnosis"`
		}{sum.JobID, sum.Status, sum.Diagnosis})
		_, err = fmt.Fprintf(e.stdout, "%s\n", b)
	} else {
		err = printStatus(e.stdout, sum, color)
	}
	if err != nil || !o.wait {
		return err
	}
	return verdict(sum)
}

// verdict is the exit of a run that is over, by its diagnosis as well as its record:
// a run recorded completed whose batch failed for good failed (docs/api.md §9).
func verdict(sum app.RunSummary) error {
	switch sum.Diagnosis.State {
	case diagnose.StateFailed, diagnose.StateCancelled:
		return runFailed{sum.Diagnosis.State}
	}
	return outcome(sum.Status)
}

// waitDone reads the summary until the run is terminal, telling changed progress.
func waitDone(ctx context.Context, c *apiclient.Client, jobID string, sum app.RunSummary, changed func(app.RunSummary)) (app.RunSummary, error) {
	last := ""
	for !job.Status(sum.Status).Terminal() {
		if l := progressLine(sum); l != last {
			changed(sum)
			last = l
		}
		select {
		case <-ctx.Done():
			return sum, ctx.Err()
		case <-time.After(statusPoll):
		}
		var err error
		if sum, err = c.Summary(ctx, jobID); err != nil {
			return sum, err
		}
	}
	return sum, nil
}

// progressLine is "run-42  running · 13 of 24 batches done, 6 running, 4 pending, 1
// failed · ~4 min left": the counts in the words of the headline and the page's bar.
func progressLine(s app.RunSummary) string {
	parts := []string{s.Status}
	if p := s.Diagnosis.Progress; p != nil && p.Batches > 0 {
		parts = append(parts, p.Text)
		if p.ETA != nil && !job.Status(s.Status).Terminal() {
			if left := time.Until(*p.ETA); left > 0 {
				parts = append(parts, "~"+diagnose.Duration(left)+" left")
			}
		}
	}
	return s.JobID + "  " + strings.Join(parts, " · ")
}

// printStatus writes the diagnosis for people.
func printStatus(w io.Writer, s app.RunSummary, color bool) error {
	st := func(style, text string) string {
		if !color {
			return text
		}
		return style + text + reset
	}
	d := s.Diagnosis
	var b strings.Builder
	fmt.Fprintln(&b, progressLine(s))
	head := d.Headline
	switch d.State {
	case diagnose.StateFailed:
		head = st(red+bold, head)
	case diagnose.StateStuck:
		head = st(yellow+bold, head)
	case diagnose.StateSucceeded:
		head = st(bold, head)
	}
	if head != "" {
		fmt.Fprintln(&b, head)
	}
	if c := d.Cost; c != nil && c.Text != "" {
		fmt.Fprintln(&b, st(dim, c.Text))
	}
	if ci := d.ClusterIdle; ci != nil {
		fmt.Fprintln(&b, st(yellow+bold, ci.Text))
	}
	for i, c := range d.Causes {
		if i == 3 {
			fmt.Fprintf(&b, "  … and %d more (blastlog status %s -o json)\n", len(d.Causes)-3, s.JobID)
			break
		}
		where := c.Batch
		if where == "" {
			where = firstOf(c.Pod, c.Step)
		}
		what := firstOf(c.Reason, c.Kind)
		var extra []string
		if c.ExitCode != nil {
			extra = append(extra, fmt.Sprintf("exit %d", *c.ExitCode))
		}
		if c.Peak != nil && c.Peak.Memory != "" {
			peak := "peak " + c.Peak.Memory
			if c.Limit != nil && c.Limit.Memory != "" {
				peak += " of " + c.Limit.Memory
			}
			extra = append(extra, peak)
		}
		if len(extra) > 0 {
			what += " (" + strings.Join(extra, ", ") + ")"
		}
		mark := st(red, "✗") // a failure
		if c.Kind == diagnose.KindWaiting {
			mark = st(yellow, "…") // waits: not a failure (yet)
		}
		fmt.Fprintf(&b, "  %s %s: %s", mark, where, what)
		if c.Message != "" {
			fmt.Fprintf(&b, " — %s", oneLine(c.Message))
		}
		fmt.Fprintln(&b)
		if c.Hint != "" {
			fmt.Fprintf(&b, "    %s %s\n", st(dim, "hint:"), oneLine(c.Hint))
		}
		if !c.ID.IsZero() {
			fmt.Fprintf(&b, "    %s blastlog logs %s --from %s\n", st(dim, "see:"), s.JobID, c.ID)
		}
	}
	_, err := io.WriteString(w, b.String())
	return err
}
