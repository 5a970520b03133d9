package main

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"path"
	"time"

	"github.com/spf13/cobra"

	"github.com/blastlog/blastlog/adapters/apiclient"
	"github.com/blastlog/blastlog/core/app"
	"github.com/blastlog/blastlog/core/event"
	"github.com/blastlog/blastlog/core/job"
	"github.com/blastlog/blastlog/ports"
)

// pageSize is how many events a snapshot page of logs asks for (the API's most).
const pageSize = 2000

type logsOpts struct {
	follow, issues, timestamps bool
	phase, pod, container      string
	grep, output, from         string
	since                      time.Duration
	tail                       int
}

func logsCmd(e *env, g *global) *cobra.Command {
	o := &logsOpts{}
	cmd := &cobra.Command{
		Use:   "logs RUN",
		Short: "Print a run's lines: the submit process and every pod; follow them live with -f",
		Long: `Print a run's lines, in the order they were stored: the elastic-blast submit process,
every pod of the run (deleted ones too) and blastlog's notices (» marks them: a pod
waiting, a Kubernetes warning, a container that ended). Without -f it prints what
exists and exits; with -f it then follows the run live, through any break of the
connection, and exits when the run is over: 0 if it succeeded, 1 if it failed or was
cancelled.

Text output names the step when it changes and gives each pod a colour of its own (on
a terminal, unless NO_COLOR is set); -o json prints each event's JSON on a line of its
own (for jq), -o raw the lines alone.`,
		Example: `  blastlog logs run-42 -f
  blastlog logs run-42 --issues
  blastlog logs run-42 --phase running --pod 'blastn-batch-*-job-013-*'
  blastlog logs run-42 --since 10m -f
  blastlog logs run-42 --tail 100 --timestamps
  blastlog logs run-42 -o json | jq -r 'select(.stream == "stderr") | .line'`,
		Args: exactArgs(1, "RUN"),
		RunE: func(cmd *cobra.Command, args []string) error { return o.run(cmd.Context(), e, g, args[0]) },
	}
	f := cmd.Flags()
	f.BoolVarP(&o.follow, "follow", "f", false, "follow the run live until it is over")
	f.StringVar(&o.phase, "phase", "", "only this step (submitting, staging_db, running, exporting_results, ...)")
	f.StringVar(&o.pod, "pod", "", "only pods whose name matches this glob (blastn-batch-*)")
	f.StringVarP(&o.container, "container", "c", "", "only this container")
	f.StringVar(&o.grep, "grep", "", "only lines that contain this text (any case), as search finds them")
	f.BoolVar(&o.issues, "issues", false, "only lines the error and warning rules flag")
	f.DurationVar(&o.since, "since", 0, "start with the lines of the last duration (10m, 2h)")
	f.IntVar(&o.tail, "tail", 0, "start with the last N lines (of those kept)")
	f.StringVar(&o.from, "from", "", "start at this line's id (a permalink's #l-<id>)")
	f.BoolVarP(&o.timestamps, "timestamps", "t", false, "show each line's time (text)")
	f.StringVarP(&o.output, "output", "o", formatText, "text, json or raw")
	cmd.MarkFlagsMutuallyExclusive("since", "tail", "from")
	return cmd
}

func (o *logsOpts) filter() (*filter, error) {
	f := &filter{q: app.SearchQuery{Q: o.grep, Phase: o.phase, Issues: o.issues}, pod: o.pod, container: o.container}
	if err := f.q.Validate(); err != nil {
		return nil, usageError{err.Error()}
	}
	if _, err := path.Match(o.pod, ""); err != nil {
		return nil, usagef("--pod %q is not a glob: %v", o.pod, err)
	}
	return f, nil
}

func (o *logsOpts) run(ctx context.Context, e *env, g *global, jobID string) error {
	switch o.output {
	case formatText, formatJSON, formatRaw:
	default:
		return usagef("-o must be text, json or raw")
	}
	if o.tail < 0 || o.since < 0 {
		return usagef("--tail and --since must be positive")
	}
	f, err := o.filter()
	if err != nil {
		return err
	}
	color, err := g.colored(e, e.stdout)
	if err != nil {
		return err
	}
	c, err := g.client(ctx, e)
	if err != nil {
		return err
	}
	p := newPrinter(e.stdout, o.output, color, o.timestamps)
	gap := func(gp event.Gap) error {
		what := "the lines"
		if gp.Lost > 0 {
			what = fmt.Sprintf("%d lines", gp.Lost)
		}
		fmt.Fprintf(e.stderr, "blastlog: %s after %s up to %s are lost (%s)\n", what, gp.After, gp.FirstAvailable, gp.Reason)
		return nil
	}
	var after event.ID
	switch {
	case o.from != "":
		id, err := event.ParseID(o.from)
		if err != nil {
			return usagef("--from %q is not a line id (<ms>-<seq>)", o.from)
		}
		after, _ = id.Prev()
	case o.since > 0:
		after, _ = event.ID{MS: uint64(time.Now().Add(-o.since).UnixMilli())}.Prev()
	case o.tail > 0:
		if after, err = o.printTail(ctx, c, jobID, f, p); err != nil {
			return err
		}
	}
	if !o.follow {
		switch {
		case o.tail > 0:
		case after.IsZero():
			err = printDownload(ctx, c, jobID, f, p)
		default:
			err = printPages(ctx, c, jobID, after, f, p, gap)
		}
		return errors.Join(err, p.flush())
	}
	if err := p.flush(); err != nil {
		return err
	}
	done, err := c.Follow(ctx, jobID, after, apiclient.Handler{
		Event: func(ev *event.Event) error {
			if f.keep(ev) {
				return p.event(ev)
			}
			return nil
		},
		Gap:  gap,
		Idle: p.flush,
	})
	if err := errors.Join(err, p.flush()); err != nil {
		return err
	}
	// The run is over and drained: its diagnosis decides the exit (a run recorded
	// completed whose batch failed for good failed), its record where it cannot be read.
	if sum, err := c.Summary(ctx, jobID); err == nil {
		return verdict(sum)
	}
	return outcome(done.Status)
}

// outcome is the exit of a run that is over: nil for one that succeeded.
func outcome(status string) error {
	switch job.Status(status) {
	case job.Failed, job.Cancelled:
		return runFailed{status}
	}
	return nil
}

// printTail prints the last o.tail events f keeps, read backwards a page at a time
// from the run's newest, and returns that newest id (where a follow goes on).
func (o *logsOpts) printTail(ctx context.Context, c *apiclient.Client, jobID string, f *filter, p *printer) (event.ID, error) {
	sum, err := c.Summary(ctx, jobID)
	if err != nil || sum.LastID.IsZero() {
		return event.ID{}, err
	}
	before, _ := sum.LastID.Next()
	var kept []event.Event // oldest first
	for len(kept) < o.tail {
		snap, err := c.Snapshot(ctx, jobID, app.SnapshotQuery{Before: before.String(), Limit: pageSize})
		if err != nil {
			return event.ID{}, err
		}
		var page []event.Event
		for i := range snap.Events {
			if f.keep(&snap.Events[i]) {
				page = append(page, snap.Events[i])
			}
		}
		kept = append(page, kept...)
		if len(snap.Events) < pageSize || snap.Events[0].ID == before {
			break
		}
		before = snap.Events[0].ID
	}
	kept = kept[max(0, len(kept)-o.tail):]
	for i := range kept {
		if err := p.event(&kept[i]); err != nil {
			return event.ID{}, err
		}
	}
	return sum.LastID, nil
}

// printPages prints the events after after that f keeps, a snapshot page at a time,
// up to the run's newest.
func printPages(ctx context.Context, c *apiclient.Client, jobID string, after event.ID, f *filter, p *printer, gap func(event.Gap) error) error {
	for {
		snap, err := c.Snapshot(ctx, jobID, app.SnapshotQuery{After: after.String(), Limit: pageSize})
		if err != nil {
			return err
		}
		if snap.Gap != nil {
			gap(*snap.Gap)
		}
		for i := range snap.Events {
			if f.keep(&snap.Events[i]) {
				if err := p.event(&snap.Events[i]); err != nil {
					return err
				}
			}
		}
		if len(snap.Events) < pageSize || snap.NextAfter.IsZero() || snap.NextAfter == after {
			return nil
		}
		after = snap.NextAfter
	}
}

// printDownload prints the whole run (or its step) from one NDJSON download, the
// fastest read there is, and checks its trailer: a download cut short is an error.
func printDownload(ctx context.Context, c *apiclient.Client, jobID string, f *filter, p *printer) error {
	body, err := c.Download(ctx, jobID, app.DownloadQuery{Format: app.FormatNDJSON, Phase: f.q.Phase})
	if err != nil {
		return err
	}
	defer body.Close()
	rd := bufio.NewReaderSize(body, 256<<10)
	trailer := []byte(`{"trailer":`)
	for {
		line, err := rd.ReadSlice('\n')
		if errors.Is(err, bufio.ErrBufferFull) {
			return fmt.Errorf("%w: a line of the download is longer than %d bytes", ports.ErrUnavailable, rd.Size())
		}
		if err != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			return fmt.Errorf("%w: the download was cut short after %s", ports.ErrUnavailable, plural(p.printed, "line", "lines"))
		}
		if bytes.HasPrefix(line, trailer) {
			return nil
		}
		ev, ok := event.DecodeOwn(line[:len(line)-1])
		if !ok {
			if ev, err = event.Decode(line); err != nil {
				return fmt.Errorf("%w: a line of the download is not an event: %v", ports.ErrUnavailable, err)
			}
		}
		if f.keep(&ev) {
			if err := p.event(&ev); err != nil {
				return err
			}
		}
	}
}

// exactArgs is cobra.ExactArgs with a message that names the arguments.
func exactArgs(n int, names string) cobra.PositionalArgs {
	return func(cmd *cobra.Command, args []string) error {
		if len(args) != n {
			return usagef("%s needs %s (see %s --help)", cmd.CommandPath(), names, cmd.CommandPath())
		}
		return nil
	}
}
