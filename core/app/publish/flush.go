package publish

import (
	"cmp"
	"context"
	"errors"
	"time"

	"github.com/blastlog/blastlog/core/event"
	"github.com/blastlog/blastlog/ports"
)

// FlushStats is what a Flush did.
type FlushStats struct {
	Spools  int   // leftover spools found
	Emptied int   // of them, stored to the end
	Stored  int64 // events appended
	Err     error // why a spool was left, if one was
}

// FlushConfig tunes Flush. Zero values are defaults.
type FlushConfig struct {
	Timeout time.Duration // per append (0: DefaultTimeout)
	Backoff time.Duration // first wait after a failed append, doubled up to 5s (0: DefaultBackoff)
	// OnSpool is told of each spool flushed (or left, with the error).
	OnSpool func(jobID string, stored int64, err error)
}

// Flush appends what publishers that are gone left in the machine's spool, oldest
// first, until every spool is empty or ctx ends. Each batch is stored exactly once: a
// spool's first batch, and any after a failed append, begin by reading what the log
// already holds of that publisher.
func Flush(ctx context.Context, log ports.EventLog, spools ports.Spools, cfg FlushConfig) FlushStats {
	var st FlushStats
	left, err := spools.Leftovers()
	if err != nil {
		st.Err = err
	}
	st.Spools = len(left)
	for _, s := range left {
		if ctx.Err() != nil {
			s.Close()
			continue
		}
		job, n, err := flushOne(ctx, log, s, cfg)
		st.Stored += n
		if err == nil {
			st.Emptied++
		} else {
			st.Err = err
		}
		if cfg.OnSpool != nil && job != "" {
			cfg.OnSpool(job, n, err)
		}
		s.Close()
	}
	return st
}

func flushOne(ctx context.Context, log ports.EventLog, s ports.Spool, cfg FlushConfig) (string, int64, error) {
	var a *appender
	var stored int64
	for {
		b, ok, err := s.Oldest()
		if err != nil || !ok {
			job := ""
			if a != nil {
				job = a.jobID
			}
			return job, stored, err
		}
		if len(b.Events) == 0 {
			s.Ack()
			continue
		}
		if a == nil || a.jobID != b.JobID {
			a = &appender{log: log, jobID: b.JobID, pubID: b.Events[0].PubID,
				timeout: cmp.Or(cfg.Timeout, DefaultTimeout), after: b.After, uncertain: true}
		}
		events := b.Events
		wait := cmp.Or(cfg.Backoff, DefaultBackoff)
		for len(events) > 0 {
			n, err := a.storeFrom(ctx, &events)
			stored += int64(n)
			if err == nil {
				continue
			}
			if errors.Is(err, event.ErrInvalid) {
				break // never storable: skipped rather than blocking the rest
			}
			select {
			case <-ctx.Done():
				return a.jobID, stored, err
			case <-time.After(wait):
			}
			wait = min(2*wait, maxBackoff)
		}
		if err := s.Ack(); err != nil {
			return a.jobID, stored, err
		}
	}
}
