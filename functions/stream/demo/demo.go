// Package demo replays the submit output of a representative ElasticBLAST run (the
// fixture beside this file) through the real publisher code path, for the dev stack.
package demo

import (
	"context"
	_ "embed"
	"encoding/json"
	"fmt"
	"io"
	"time"

	"github.com/blastlog/blastlog/core/app/publish"
	"github.com/blastlog/blastlog/core/event"
	"github.com/blastlog/blastlog/core/job"
	"github.com/blastlog/blastlog/ports"
)

//go:embed elastic-blast-output.json
var fixture []byte

// Run is what the fixture says of the demo run.
type Run struct {
	ELBJobID string `json:"elb_job_id"`
	Suffix   string `json:"suffix"`
	Cluster  string `json:"cluster"`
}

type output struct {
	Run    Run      `json:"run"`
	Stdout []string `json:"submit_stdout"`
	Stderr []string `json:"submit_stderr"`
}

func load() (output, error) {
	var o output
	err := json.Unmarshal(fixture, &o)
	return o, err
}

// Submit registers jobID for owner and plays `elastic-blast submit`: its ANSI-coloured
// stdout and its stderr are written, a line every pace, to a publisher, as a task
// worker's `blastlog-publish run` would. then, if then is not nil, runs it (the pods);
// finally the run is marked completed.
func Submit(ctx context.Context, log ports.EventLog, jobs ports.JobDirectory, jobID, owner string, pace time.Duration,
	then func(context.Context) error) error {
	o, err := load()
	if err != nil {
		return err
	}
	if err := jobs.Register(ctx, job.Record{JobID: jobID, OwnerOID: owner, ELBJobID: o.Run.ELBJobID,
		ClusterName: o.Run.Cluster, Status: job.Running}); err != nil {
		return err
	}
	pub, err := publish.New(log, nil, publish.Config{JobID: jobID, Phase: event.PhaseSubmitting})
	if err != nil {
		return err
	}
	out, errw := pub.Writer(event.Stdout), pub.Writer(event.Stderr)
	for i := 0; i < len(o.Stdout) || i < len(o.Stderr); i++ {
		for _, p := range []struct {
			w     io.Writer
			lines []string
		}{{out, o.Stdout}, {errw, o.Stderr}} {
			if i < len(p.lines) {
				fmt.Fprintln(p.w, p.lines[i])
			}
		}
		select {
		case <-ctx.Done():
			i = len(o.Stdout) + len(o.Stderr)
		case <-time.After(pace):
		}
	}
	out.Close()
	errw.Close()
	if st := pub.Close(ctx); st.Err != nil {
		return st.Err
	}
	if then != nil {
		if err := then(ctx); err != nil {
			return err
		}
	}
	return jobs.SetStatus(context.WithoutCancel(ctx), jobID, job.Completed)
}
