package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"
	"time"

	"go.uber.org/fx"

	"github.com/blastlog/blastlog/adapters/redisstore"
	"github.com/blastlog/blastlog/core/app/publish"
	"github.com/blastlog/blastlog/core/event"
	"github.com/blastlog/blastlog/core/job"
	"github.com/blastlog/blastlog/functions/internal/envconf"
	"github.com/blastlog/blastlog/functions/internal/wiring"
	"github.com/blastlog/blastlog/ports"
	"github.com/redis/go-redis/v9"
)

const usage = `usage:
  blastlog-publish run   --job J [--phase submitting] [--source terminal_exec] [--task-id T] -- CMD [ARGS...]
  blastlog-publish lines --job J --phase P [--stream stdout|stderr] [--source S]      < input
  blastlog-publish job register --job J --owner OID [--elb-job-id ID] [--subscription S]
                                [--resource-group RG] [--cluster C] [--namespace NS]
  blastlog-publish job status   --job J --status queued|running|completed|failed|cancelled
  blastlog-publish flush [--wait 30s]

Redis: BLASTLOG_REDIS_URL, else CELERY_BROKER_URL. Lines Redis cannot take at once go to
the spool (BLASTLOG_SPOOL_DIR, default $XDG_CACHE_HOME/blastlog/spool; BLASTLOG_SPOOL_MAX,
default 256MiB) and are stored later; after CMD exits, run waits BLASTLOG_FLUSH_TIMEOUT
(default 30s) for them, and flush stores what earlier runs left.
Exit status: run exits with CMD's status (128+signal if it was killed); 2 for a usage or
configuration error; 1 when lines were dropped (spool full) or a record could not be
stored, or flush left lines in the spool.
`

// Exit statuses of the publisher's own failures.
const (
	exitStoreFailed = 1
	exitUsage       = 2
	exitNotFound    = 127 // as a shell says for a command it cannot find
	exitCannotRun   = 126
)

type cli struct {
	getenv func(string) string
	stdin  io.Reader
	stdout io.Writer
	stderr io.Writer
}

// usageError is a mistake in the arguments or configuration: exit 2, one line.
type usageError struct{ msg string }

func (e usageError) Error() string { return e.msg }

func usagef(format string, a ...any) error { return usageError{fmt.Sprintf(format, a...)} }

func (c cli) main(args []string) int {
	code, err := c.dispatch(args)
	if err == nil {
		return code
	}
	fmt.Fprintf(c.stderr, "blastlog-publish: %s\n", oneLine(err.Error()))
	var ue usageError
	switch {
	case errors.As(err, &ue), errors.Is(err, event.ErrInvalid):
		return exitUsage
	case code != 0:
		return code
	}
	return exitStoreFailed
}

func oneLine(s string) string { return strings.Join(strings.Fields(s), " ") }

func (c cli) dispatch(args []string) (int, error) {
	if len(args) == 0 {
		return 0, usagef("no subcommand (want run, lines, flush or job; -h for help)")
	}
	switch args[0] {
	case "-h", "--help", "help":
		fmt.Fprint(c.stdout, usage)
		return 0, nil
	case "run":
		return c.run(args[1:])
	case "lines":
		return c.lines(args[1:])
	case "flush":
		return c.flush(args[1:])
	case "job":
		if len(args) < 2 {
			return 0, usagef("job: no subcommand (want register or status)")
		}
		switch args[1] {
		case "register":
			return c.register(args[2:])
		case "status":
			return c.status(args[2:])
		}
		return 0, usagef("job: unknown subcommand %q (want register or status)", clip(args[1]))
	}
	return 0, usagef("unknown subcommand %q (want run, lines, flush or job; -h for help)", clip(args[0]))
}

func clip(s string) string {
	s = event.Cut(strings.ToValidUTF8(s, "?"), 41, "…")
	return strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f {
			return '?'
		}
		return r
	}, s)
}

// flags is a flag set that reports its errors as one usage line.
func flags(name string) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	fs.Usage = func() {}
	return fs
}

func parse(fs *flag.FlagSet, args []string) error {
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return usagef("%s: see blastlog-publish -h", fs.Name())
		}
		return usagef("%s: %v", fs.Name(), err)
	}
	return nil
}

func required(name, flagName, v string) error {
	if v == "" {
		return usagef("%s: --%s is required", name, flagName)
	}
	return nil
}

// stores builds the fx app that wires Redis to the ports and returns them.
func (c cli) stores() (ports.EventLog, ports.JobDirectory, func(), error) {
	log, jobs, _, stop, err := c.storesWithActive()
	return log, jobs, stop, err
}

// storesWithActive also returns the set of runs to collect, which the publisher keeps
// fresh so that a run's pods are followed even when nobody watches.
func (c cli) storesWithActive() (ports.EventLog, ports.JobDirectory, ports.ActiveRuns, func(), error) {
	cfg, err := envconf.LoadRedis(c.getenv, true)
	if err != nil {
		return nil, nil, nil, nil, usageError{err.Error()}
	}
	var (
		log    ports.EventLog
		jobs   ports.JobDirectory
		active ports.ActiveRuns
	)
	a := fx.New(options(cfg), fx.Populate(&log, &jobs, &active))
	if err := a.Err(); err != nil {
		return nil, nil, nil, nil, err
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := a.Start(ctx); err != nil {
		return nil, nil, nil, nil, err
	}
	stop := func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		a.Stop(ctx)
	}
	return log, jobs, active, stop, nil
}

// options is the whole fx graph of this function (fx.ValidateApp checks it in tests).
func options(cfg envconf.Redis) fx.Option {
	return fx.Options(
		fx.NopLogger,
		fx.Supply(cfg, cfg.Layout, cfg.Cluster),
		fx.Provide(wiring.Logger, wiring.RedisOptions),
		// No retries inside the client: a pipeline it re-sent to a hung server would be
		// stored twice when the server wakes up. The publisher retries itself, after
		// reading what the log already holds (exactly once, docs/api.md §4).
		fx.Decorate(func(o *redis.Options) *redis.Options { o.MaxRetries = -1; return o }),
		redisstore.Module,
	)
}

func (c cli) lines(args []string) (int, error) {
	fs := flags("lines")
	jobID := fs.String("job", "", "run id")
	phase := fs.String("phase", "", "execution step")
	stream := fs.String("stream", "stdout", "stdout or stderr")
	source := fs.String("source", string(event.SourceTerminal), "terminal_exec, k8s or system")
	if err := parse(fs, args); err != nil {
		return 0, err
	}
	if err := checkCommon("lines", *jobID, *source); err != nil {
		return 0, err
	}
	if err := required("lines", "phase", *phase); err != nil {
		return 0, err
	}
	if fs.NArg() > 0 {
		return 0, usagef("lines: unexpected argument %q (lines are read from standard input)", clip(fs.Arg(0)))
	}
	st := event.Stream(*stream)
	if !st.Valid() {
		return 0, usagef("lines: --stream %q is not stdout or stderr", clip(*stream))
	}
	sc, err := envconf.LoadSpool(c.getenv)
	if err != nil {
		return 0, usageError{err.Error()}
	}
	log, _, stop, err := c.stores()
	if err != nil {
		return 0, err
	}
	defer stop()
	who := fmt.Sprintf("run %q", clip(*jobID))
	dir := c.spoolDir(sc, c.redisLabel())
	pubID := publish.NewPubID()
	// Standard input has no pace to keep: lines wait for a working Redis rather than
	// going through the disk, and go to the spool only while it fails.
	p, err := publish.New(log, c.openSpool(dir, pubID, who), c.publishConfig(publish.Config{
		JobID: *jobID, Phase: *phase, Source: event.Source(*source), PubID: pubID, Wait: true}, dir, who))
	if err != nil {
		return 0, err
	}
	earlier := c.flushLeftovers(log, dir)
	w := p.Writer(st)
	_, readErr := io.Copy(w, c.stdin)
	w.Close()
	ctx, cancel := context.WithTimeout(context.Background(), sc.FlushTimeout)
	defer cancel()
	stats := p.Close(ctx)
	c.report(who, stats, dir)
	earlier.stop(ctx)
	if stats.Dropped > 0 {
		return exitStoreFailed, fmt.Errorf("%d lines stored, %d spooled, %d dropped", stats.Stored, stats.Spooled, stats.Dropped)
	}
	if readErr != nil {
		return exitStoreFailed, fmt.Errorf("reading standard input: %w", readErr)
	}
	return 0, nil
}

func checkCommon(name, jobID, source string) error {
	if err := required(name, "job", jobID); err != nil {
		return err
	}
	if err := event.ValidateJobID(jobID); err != nil {
		return usagef("%s: --job: %v", name, strings.TrimPrefix(err.Error(), event.ErrInvalid.Error()+": "))
	}
	if !event.Source(source).Valid() {
		return usagef("%s: --source %q is not terminal_exec, k8s or system", name, clip(source))
	}
	return nil
}

func (c cli) register(args []string) (int, error) {
	fs := flags("job register")
	var r job.Record
	fs.StringVar(&r.JobID, "job", "", "run id")
	fs.StringVar(&r.OwnerOID, "owner", "", "Entra object id of the owner")
	fs.StringVar(&r.ELBJobID, "elb-job-id", "", "ElasticBLAST job id")
	fs.StringVar(&r.SubscriptionID, "subscription", "", "Azure subscription")
	fs.StringVar(&r.ResourceGroup, "resource-group", "", "resource group of the AKS cluster")
	fs.StringVar(&r.ClusterName, "cluster", "", "AKS cluster name")
	fs.StringVar(&r.Namespace, "namespace", "", "namespace of the run's pods (default \"default\")")
	ownerChange := fs.Bool("owner-change", false, "allow giving an existing run another owner")
	if err := parse(fs, args); err != nil {
		return 0, err
	}
	if err := checkCommon("job register", r.JobID, string(event.SourceTerminal)); err != nil {
		return 0, err
	}
	if err := required("job register", "owner", r.OwnerOID); err != nil {
		return 0, err
	}
	if err := r.Validate(); err != nil {
		return 0, usagef("job register: %v", strings.TrimPrefix(err.Error(), event.ErrInvalid.Error()+": "))
	}
	return c.withJobs("job register", func(ctx context.Context, jobs ports.JobDirectory, active ports.ActiveRuns) error {
		old, err := jobs.Get(ctx, r.JobID)
		switch {
		case err == nil && old.OwnerOID != r.OwnerOID && !*ownerChange:
			// A second register must not hand a run (and its logs) to someone else.
			return usagef("run %q already belongs to another owner; pass --owner-change to give it to %s",
				clip(r.JobID), clip(r.OwnerOID))
		case err != nil && !errors.Is(err, ports.ErrNotFound):
			return err
		}
		if err := jobs.Register(ctx, r); err != nil {
			return err
		}
		return active.Touch(ctx, r.JobID)
	})
}

// withJobs runs f against the job directory with a 10 s budget; its failures exit 1.
func (c cli) withJobs(name string, f func(context.Context, ports.JobDirectory, ports.ActiveRuns) error) (int, error) {
	_, jobs, active, stop, err := c.storesWithActive()
	if err != nil {
		return 0, err
	}
	defer stop()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := f(ctx, jobs, active); err != nil {
		var ue usageError
		if errors.As(err, &ue) {
			return exitUsage, usageError{name + ": " + ue.msg}
		}
		return exitStoreFailed, fmt.Errorf("%s: %w", name, err)
	}
	return 0, nil
}

func (c cli) status(args []string) (int, error) {
	fs := flags("job status")
	jobID := fs.String("job", "", "run id")
	status := fs.String("status", "", "queued, running, completed, failed or cancelled")
	if err := parse(fs, args); err != nil {
		return 0, err
	}
	if err := checkCommon("job status", *jobID, string(event.SourceTerminal)); err != nil {
		return 0, err
	}
	if err := required("job status", "status", *status); err != nil {
		return 0, err
	}
	st, err := job.ParseStatus(*status)
	if err != nil {
		return 0, usagef("job status: --status %q is not one of queued, running, completed, failed, cancelled", clip(*status))
	}
	return c.withJobs("job status", func(ctx context.Context, jobs ports.JobDirectory, active ports.ActiveRuns) error {
		err := jobs.SetStatus(ctx, *jobID, st)
		if errors.Is(err, ports.ErrNotFound) {
			return fmt.Errorf("run %q is not registered (run `blastlog-publish job register` first)", clip(*jobID))
		}
		if err != nil {
			return err
		}
		// A finished run stays active: its collector drains the pods, then removes it.
		return active.Touch(ctx, *jobID)
	})
}
