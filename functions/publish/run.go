package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"runtime"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/blastlog/blastlog/core/app/publish"
	"github.com/blastlog/blastlog/core/event"
	"github.com/blastlog/blastlog/core/sanitize"
	"github.com/blastlog/blastlog/functions/internal/envconf"
)

// After the command exits, how long its output pipes may stay open (held by a
// process it left behind) before the publisher stops reading them.
const drainGrace = 2 * time.Second

func (c cli) run(args []string) (int, error) {
	fs := flags("run")
	jobID := fs.String("job", "", "run id")
	phase := fs.String("phase", event.PhaseSubmitting, "execution step")
	source := fs.String("source", string(event.SourceTerminal), "terminal_exec, k8s or system")
	taskID := fs.String("task-id", "", "Celery task id, named in warnings")
	if err := parse(fs, args); err != nil {
		return 0, err
	}
	if err := checkCommon("run", *jobID, *source); err != nil {
		return 0, err
	}
	argv := fs.Args()
	if len(argv) == 0 {
		return 0, usagef("run: no command given (put it after --)")
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
	if *taskID != "" {
		who += fmt.Sprintf(" (task %s)", clip(*taskID))
	}
	dir := c.spoolDir(sc, c.redisLabel())
	pubID := publish.NewPubID()
	pub, err := publish.New(log, c.openSpool(dir, pubID, who), c.publishConfig(publish.Config{
		JobID: *jobID, Phase: *phase, Source: event.Source(*source), PubID: pubID}, dir, who))
	if err != nil {
		return 0, err
	}
	earlier := c.flushLeftovers(log, dir)

	code, runErr := c.runCommand(argv, pub)
	pub.Ended(sanitize.Line(filepath.Base(argv[0])), code)
	// The command has exited: the spool has BLASTLOG_FLUSH_TIMEOUT to drain, then what
	// is left stays in it and the publisher exits with the command's status.
	ctx, cancel := context.WithTimeout(context.Background(), sc.FlushTimeout)
	defer cancel()
	c.report(who, pub.Close(ctx), dir)
	earlier.stop(ctx)
	return code, runErr
}

// runCommand starts argv in its own process group with its output going through pipes
// that this process reads, passes every byte through to its own stdout/stderr and
// every line to pub, forwards SIGTERM, SIGINT, SIGHUP and SIGQUIT to the group, and
// returns the command's exit status. SIGPIPE (a closed stdout) is caught, so it never
// ends the publisher; if the publisher dies anyway, the command gets SIGTERM.
func (c cli) runCommand(argv []string, pub *publish.Publisher) (int, error) {
	outR, outW, err := os.Pipe()
	if err != nil {
		return exitStoreFailed, err
	}
	errR, errW, err := os.Pipe()
	if err != nil {
		return exitStoreFailed, err
	}
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = c.stdin, outW, errW
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGTERM}

	sigs := make(chan os.Signal, 4)
	signal.Notify(sigs, syscall.SIGTERM, syscall.SIGINT, syscall.SIGHUP, syscall.SIGQUIT)
	defer signal.Stop(sigs)
	// Caught, not ignored: an ignored SIGPIPE would be inherited by the command.
	pipes := make(chan os.Signal, 1)
	signal.Notify(pipes, syscall.SIGPIPE)
	defer signal.Stop(pipes)

	// Pass-through first: each reader writes what it read to the publisher's own
	// stdout/stderr at once and hands a copy to one publishing goroutine, so a slow,
	// down or hung Redis never holds the command's output back. Within a stream,
	// lines keep their order exactly; across stdout and stderr the order is that in
	// which reads returned (once both pipes hold data the kernel keeps none).
	q := newHandoff(maxHandoffBytes)
	var drained sync.WaitGroup
	for _, p := range []struct {
		r    *os.File
		pass io.Writer
		pub  *publish.LineWriter
	}{{outR, c.stdout, pub.Writer(event.Stdout)}, {errR, c.stderr, pub.Writer(event.Stderr)}} {
		drained.Add(1)
		go func() {
			defer drained.Done()
			pump(p.r, p.pass, p.pub, q)
		}()
	}
	published := make(chan struct{})
	go func() {
		defer close(published)
		q.drain()
	}()
	defer func() {
		q.close()
		<-published
		if n := q.dropped.Load(); n > 0 {
			fmt.Fprintf(c.stderr, "blastlog-publish: warning: %d bytes of output were passed through but not published (the log fell too far behind)\n", n)
		}
	}()

	// The parent-death signal is sent when the thread that started the command ends,
	// so one locked thread starts it and waits for it.
	started, waited := make(chan error, 1), make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		if err := cmd.Start(); err != nil {
			started <- err
			return // the thread stays locked and ends with this goroutine: nothing to signal
		}
		started <- nil
		waited <- cmd.Wait()
	}()
	startErr := <-started
	outW.Close()
	errW.Close()
	if startErr != nil {
		drained.Wait() // the write ends are closed: the readers see EOF
		outR.Close()
		errR.Close()
		code := exitCannotRun
		if errors.Is(startErr, exec.ErrNotFound) || errors.Is(startErr, os.ErrNotExist) {
			code = exitNotFound
		}
		return code, fmt.Errorf("run: cannot start %q: %v", clip(argv[0]), errors.Unwrap(startErr))
	}

	var werr error
	for done := false; !done; {
		select {
		case s := <-sigs:
			syscall.Kill(-cmd.Process.Pid, s.(syscall.Signal))
		case <-pipes:
		case werr = <-waited:
			done = true
		}
	}
	// The command has exited; a process it left behind may still hold the pipes. Its
	// later output is neither passed through nor published once the grace is over.
	deadline := time.Now().Add(drainGrace)
	outR.SetReadDeadline(deadline)
	errR.SetReadDeadline(deadline)
	drained.Wait()
	outR.Close()
	errR.Close()

	var exitErr *exec.ExitError
	switch {
	case werr == nil:
		return 0, nil
	case errors.As(werr, &exitErr):
		if ws, ok := exitErr.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
			return 128 + int(ws.Signal()), nil
		}
		return exitErr.ExitCode(), nil
	}
	return exitStoreFailed, fmt.Errorf("run: waiting for %q: %v", clip(argv[0]), werr)
}

// pump copies r to pass byte for byte, and queues a copy for pub. A failing
// pass-through (a closed stdout) does not stop the publishing; publishing never holds
// the reads back.
func pump(r io.Reader, pass io.Writer, pub *publish.LineWriter, q *handoff) {
	defer q.put(pub, nil) // the last unterminated line
	buf := make([]byte, 32<<10)
	passing := true
	for {
		n, err := r.Read(buf)
		if n > 0 {
			if passing {
				if _, werr := pass.Write(buf[:n]); werr != nil {
					passing = false
				}
			}
			q.put(pub, append([]byte(nil), buf[:n]...))
		}
		if err != nil {
			return
		}
	}
}

// maxHandoffBytes bounds the output read but not yet published.
const maxHandoffBytes = 16 << 20

// handoff is the bounded queue between the readers and the publishing goroutine: what
// does not fit is counted and dropped from publishing (never from the pass-through).
type handoff struct {
	mu      sync.Mutex
	cond    *sync.Cond
	items   []handoffItem
	bytes   int
	max     int
	closed  bool
	dropped atomic.Int64
}

type handoffItem struct {
	w *publish.LineWriter
	b []byte // nil: close the writer
}

func newHandoff(max int) *handoff {
	h := &handoff{max: max}
	h.cond = sync.NewCond(&h.mu)
	return h
}

func (h *handoff) put(w *publish.LineWriter, b []byte) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if b != nil && h.bytes+len(b) > h.max {
		h.dropped.Add(int64(len(b)))
		return
	}
	h.items = append(h.items, handoffItem{w, b})
	h.bytes += len(b)
	h.cond.Signal()
}

func (h *handoff) close() {
	h.mu.Lock()
	h.closed = true
	h.cond.Signal()
	h.mu.Unlock()
}

// drain publishes what is queued, in order, until close.
func (h *handoff) drain() {
	for {
		h.mu.Lock()
		for len(h.items) == 0 && !h.closed {
			h.cond.Wait()
		}
		if len(h.items) == 0 {
			h.mu.Unlock()
			return
		}
		it := h.items[0]
		h.items = h.items[1:]
		h.bytes -= len(it.b)
		h.mu.Unlock()
		if it.b == nil {
			it.w.Close()
		} else {
			it.w.Write(it.b)
		}
	}
}
