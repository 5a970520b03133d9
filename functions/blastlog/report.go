package main

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/blastlog/blastlog/core/app"
	"github.com/blastlog/blastlog/core/diagnose"
)

const formatTable, formatCSV = "table", "csv"

type reportOpts struct {
	output string
	failed bool
}

func reportCmd(e *env, g *global) *cobra.Command {
	o := &reportOpts{}
	cmd := &cobra.Command{
		Use:   "report RUN",
		Short: "A row per batch: its state, attempts, time, exit, peak memory and CPU, and the hint of its failure",
		Long: `Print the run's report: one row per ElasticBLAST batch with its state, attempts, when it
started and ended, how long it ran, its exit code and reason, the most memory and CPU it
was seen to use against its limit, and the hint of its failure; then the run's totals.

-o csv is the report's CSV (a header row, one row per batch), as the page's
Download CSV; -o json the API's report. --failed prints the numbers of the failed
batches, one a line, for a re-run of just those.`,
		Example: `  blastlog report run-42
  blastlog report run-42 -o csv > run-42.csv
  blastlog report run-42 --failed`,
		Args: exactArgs(1, "RUN"),
		RunE: func(cmd *cobra.Command, args []string) error { return o.run(cmd.Context(), e, g, args[0]) },
	}
	cmd.Flags().StringVarP(&o.output, "output", "o", formatTable, "table, csv or json")
	cmd.Flags().BoolVar(&o.failed, "failed", false, "print only the failed batches' numbers, one a line")
	return cmd
}

func (o *reportOpts) run(ctx context.Context, e *env, g *global, jobID string) error {
	if o.output != formatTable && o.output != formatCSV && o.output != formatJSON {
		return usagef("-o must be table, csv or json")
	}
	c, err := g.client(ctx, e)
	if err != nil {
		return err
	}
	rep, err := c.Report(ctx, jobID)
	if err != nil {
		return err
	}
	switch {
	case o.failed:
		for _, b := range rep.Batches {
			if b.State == diagnose.BatchFailed {
				fmt.Fprintln(e.stdout, b.Batch)
			}
		}
		return nil
	case o.output == formatCSV:
		return rep.WriteCSV(e.stdout)
	case o.output == formatJSON:
		b, _ := json.Marshal(rep)
		_, err = fmt.Fprintf(e.stdout, "%s\n", b)
		return err
	}
	return printReport(e, rep)
}

// printReport is the report as a table, then its totals.
func printReport(e *env, rep app.Report) error {
	tw := tabwriter.NewWriter(e.stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "BATCH\tSHARD\tSTATE\tATTEMPTS\tTIME\tEXIT\tREASON\tPEAK MEMORY\tCPU PEAK")
	for _, b := range rep.Batches {
		dur, code, peak, cpu := "", "", b.PeakMemory, ""
		if b.Seconds != nil {
			dur = diagnose.Duration(secondsOf(*b.Seconds))
		}
		if b.ExitCode != nil {
			code = strconv.Itoa(*b.ExitCode)
		}
		if peak != "" && b.MemoryLimit != "" {
			peak += " of " + b.MemoryLimit
		}
		if b.CPUPeak != nil {
			cpu = strconv.FormatFloat(*b.CPUPeak, 'f', 1, 64)
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%d\t%s\t%s\t%s\t%s\t%s\n", b.Batch, b.Shard, b.State, b.Attempts, dur, code, b.Reason, peak, cpu)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	t := rep.Totals
	_, err := fmt.Fprintf(e.stdout, "\n%d batches, %d failed · wall time %s · batch time %s\n", t.Batches, t.FailedBatches,
		diagnose.Duration(secondsOf(t.WallSeconds)), diagnose.Duration(secondsOf(t.BatchSeconds)))
	return err
}

func secondsOf(s float64) time.Duration { return time.Duration(s * float64(time.Second)) }
