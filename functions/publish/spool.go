package main

import (
	"context"
	"fmt"
	"sync"

	"github.com/blastlog/blastlog/adapters/spool"
	"github.com/blastlog/blastlog/core/app/publish"
	"github.com/blastlog/blastlog/functions/internal/envconf"
	"github.com/blastlog/blastlog/ports"
)

// spoolDir is the machine's spool directory as configured.
func (c cli) spoolDir(cfg envconf.Spool, store string) *spool.Dir {
	return &spool.Dir{Path: cfg.Dir, Max: cfg.Max, Store: store, OnTorn: func(segment string, n int64) {
		fmt.Fprintf(c.stderr, "blastlog-publish: warning: %d bytes at the end of spool file %s were torn by a crash and are skipped\n", n, segment)
	}}
}

// redisLabel names the configured Redis for the spool (stores() has refused a bad
// configuration before any spool is opened).
func (c cli) redisLabel() string {
	cfg, err := envconf.LoadRedis(c.getenv, true)
	if err != nil {
		return ""
	}
	return cfg.Label()
}

// openSpool opens this invocation's spool; without one (an unwritable directory),
// lines the log cannot take at once are dropped, and that is said now.
func (c cli) openSpool(dir *spool.Dir, pubID, who string) ports.Spool {
	sp, err := dir.Create(pubID)
	if err != nil {
		fmt.Fprintf(c.stderr, "blastlog-publish: warning: no spool for %s (%s): lines Redis cannot take at once will be dropped\n", who, oneLine(err.Error()))
		return nil
	}
	return sp
}

// publishConfig is the publisher's configuration with the warnings said on stderr,
// each at most once.
func (c cli) publishConfig(cfg publish.Config, dir *spool.Dir, who string) publish.Config {
	cfg.OnSpool = func(err error) {
		why := "is not keeping up"
		if err != nil {
			why = "is unreachable (" + oneLine(err.Error()) + ")"
		}
		fmt.Fprintf(c.stderr, "blastlog-publish: warning: Redis %s: lines of %s go to the spool %s and are stored when it is back; the command is not held up\n",
			why, who, dir.Path)
	}
	cfg.OnDrop = func(err error) {
		fmt.Fprintf(c.stderr, "blastlog-publish: warning: lines of %s are being dropped: %s (BLASTLOG_SPOOL_MAX %d bytes); they are counted and the count is stored\n",
			who, oneLine(err.Error()), dir.Max)
	}
	return cfg
}

// report says at exit what was not stored, and where it is.
func (c cli) report(who string, st publish.Stats, dir *spool.Dir) {
	if st.Spooled > 0 {
		used, _ := dir.Used()
		fmt.Fprintf(c.stderr, "blastlog-publish: warning: %d lines of %s are not stored yet (Redis: %s); they are in the spool %s (%d bytes in all) and the next blastlog-publish on this machine, or `blastlog-publish flush`, stores them\n",
			st.Spooled, who, errText(st.Err), dir.Path, used)
	}
	if st.Dropped > 0 {
		fmt.Fprintf(c.stderr, "blastlog-publish: warning: %d lines of %s were dropped: the spool %s was full\n", st.Dropped, who, dir.Path)
	}
}

func errText(err error) string {
	if err == nil {
		return "too slow"
	}
	return oneLine(err.Error())
}

// background runs a flush of what earlier invocations left, until stop.
type background struct {
	cancel context.CancelFunc
	wg     sync.WaitGroup
}

// flushLeftovers starts storing what earlier publishers on this machine left in the
// spool, alongside this invocation's own work.
func (c cli) flushLeftovers(log ports.EventLog, dir *spool.Dir) *background {
	ctx, cancel := context.WithCancel(context.Background())
	b := &background{cancel: cancel}
	b.wg.Add(1)
	go func() {
		defer b.wg.Done()
		publish.Flush(ctx, log, dir, publish.FlushConfig{})
	}()
	return b
}

// stop lets the flush go on until ctx ends, then ends it.
func (b *background) stop(ctx context.Context) {
	done := make(chan struct{})
	go func() { b.wg.Wait(); close(done) }()
	select {
	case <-done:
	case <-ctx.Done():
		b.cancel()
		<-done
	}
	b.cancel()
}

func (c cli) flush(args []string) (int, error) {
	fs := flags("flush")
	wait := fs.Duration("wait", 0, "how long to keep trying (default BLASTLOG_FLUSH_TIMEOUT)")
	if err := parse(fs, args); err != nil {
		return 0, err
	}
	if fs.NArg() > 0 {
		return 0, usagef("flush: unexpected argument %q", clip(fs.Arg(0)))
	}
	sc, err := envconf.LoadSpool(c.getenv)
	if err != nil {
		return 0, usageError{err.Error()}
	}
	if *wait <= 0 {
		*wait = sc.FlushTimeout
	}
	log, _, stop, err := c.stores()
	if err != nil {
		return 0, err
	}
	defer stop()
	dir := c.spoolDir(sc, c.redisLabel())
	ctx, cancel := context.WithTimeout(context.Background(), *wait)
	defer cancel()
	st := publish.Flush(ctx, log, dir, publish.FlushConfig{OnSpool: func(job string, n int64, err error) {
		if err != nil {
			fmt.Fprintf(c.stderr, "blastlog-publish: run %q: %d lines stored, the rest left in the spool: %s\n", clip(job), n, oneLine(err.Error()))
			return
		}
		fmt.Fprintf(c.stderr, "blastlog-publish: run %q: %d lines stored from the spool\n", clip(job), n)
	}})
	used, _ := dir.Used()
	fmt.Fprintf(c.stderr, "blastlog-publish: flush: %d of %d spools emptied, %d lines stored; %d bytes left in %s\n",
		st.Emptied, st.Spools, st.Stored, used, dir.Path)
	elsewhere, _ := dir.Elsewhere()
	for store, n := range elsewhere {
		fmt.Fprintf(c.stderr, "blastlog-publish: flush: %d spools hold lines for another Redis (%s), not %s: left alone; flush with BLASTLOG_REDIS_URL set to that one\n",
			n, store, dir.Store)
	}
	if st.Err != nil || st.Emptied < st.Spools {
		return exitStoreFailed, fmt.Errorf("flush: %d spools left: %s", st.Spools-st.Emptied, errText(st.Err))
	}
	if len(elsewhere) > 0 {
		return exitStoreFailed, fmt.Errorf("flush: spools for another Redis left")
	}
	return 0, nil
}
