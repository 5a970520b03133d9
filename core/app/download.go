package app

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"sort"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/blastlog/blastlog/core/app/history"
	"github.com/blastlog/blastlog/core/event"
	"github.com/blastlog/blastlog/core/job"
	"github.com/blastlog/blastlog/core/summary"
)

// Download formats (docs/api.md §3).
const (
	FormatText   = "text"
	FormatNDJSON = "ndjson"
)

// DownloadQuery is what a download asks for: a format, and one step or the whole run.
type DownloadQuery struct {
	Format string // text (default) or ndjson
	Phase  string // "" for every step
}

// Validate reports ErrBadQuery for an unknown format or an impossible phase.
func (q *DownloadQuery) Validate() error {
	if q.Format == "" {
		q.Format = FormatText
	}
	if q.Format != FormatText && q.Format != FormatNDJSON {
		return fmt.Errorf("%w: format must be text or ndjson", ErrBadQuery)
	}
	return validPhase(q.Phase)
}

func validPhase(p string) error {
	if utf8.RuneCountInString(p) > event.MaxPhaseChars || !utf8.ValidString(p) {
		return fmt.Errorf("%w: phase must be at most %d characters", ErrBadQuery, event.MaxPhaseChars)
	}
	for _, r := range p {
		if r < 0x20 || r == 0x7f {
			return fmt.Errorf("%w: phase contains control characters", ErrBadQuery)
		}
	}
	return nil
}

// knownPhases are ElasticBLAST's steps: a download or search of one of them is never
// refused, even before the step wrote its first line.
var knownPhases = map[string]bool{event.PhaseSubmitting: true, event.PhaseStagingDB: true, event.PhaseRunning: true,
	event.PhaseExportingResults: true, event.PhaseWarmingUp: true}

// CheckPhase refuses a phase that is neither one of ElasticBLAST's steps nor a step
// of the run (ErrBadQuery naming the run's steps), so that a typo is not answered
// with an empty download or no matches.
func (r *Reads) CheckPhase(ctx context.Context, rec job.Record, phase string) error {
	if phase == "" || knownPhases[phase] {
		return nil
	}
	sum, err := r.Summary(ctx, rec)
	if err != nil {
		return err
	}
	if _, ok := sum.Steps[phase]; ok && phase != summary.StepSystem {
		return nil
	}
	var names []string
	for name := range sum.Steps {
		if name != summary.StepSystem {
			names = append(names, name)
		}
	}
	sort.Strings(names)
	has := "it has no steps yet"
	if len(names) > 0 {
		has = "its steps are " + strings.Join(names, ", ")
	}
	return fmt.Errorf("%w: phase %q is not a step of this run; %s", ErrBadQuery, event.Cut(phase, 80, "…"), has)
}

// Downloaded says what a download wrote.
type Downloaded struct {
	Count    int64
	Complete bool // the run is terminal and no gap was crossed
}

// downloadPage is how many events one read of a download takes.
const downloadPage = 2000

// Download writes the run rec (checked with Authorize) to w, every event in stream
// order from the archive and then the stream, page by page (never the whole run in
// memory), and ends with the trailer line. It stops at the first write error.
func (r *Reads) Download(ctx context.Context, rec job.Record, w io.Writer, q DownloadQuery) (Downloaded, error) {
	if err := q.Validate(); err != nil {
		return Downloaded{}, err
	}
	bw := bufio.NewWriterSize(w, 64<<10)
	var d Downloaded
	gap := false
	var line []byte
	format := event.TextLine
	if q.Format == FormatNDJSON {
		format = event.JSONLine
	}
	// The scan's events are their lines already (history.Reader.ScanLines).
	err := r.History.ScanLines(ctx, rec.JobID, event.ID{}, downloadPage, format, func(p history.Page) error {
		gap = gap || p.Gap != nil
		for i := range p.Events {
			e := &p.Events[i]
			if q.Phase != "" && e.Phase != q.Phase {
				continue
			}
			if _, err := bw.WriteString(e.Line); err != nil {
				return err
			}
			d.Count++
		}
		return nil
	})
	if err != nil {
		return d, err
	}
	d.Complete = rec.Status.Terminal() && !gap
	if q.Format == FormatNDJSON {
		line = append(line[:0], `{"trailer":true,"count":`...)
		line = strconv.AppendInt(line, d.Count, 10)
		line = append(line, `,"complete":`...)
		line = strconv.AppendBool(line, d.Complete)
		line = append(line, "}\n"...)
	} else {
		word := "partial"
		if d.Complete {
			word = "complete"
		}
		line = fmt.Appendf(line[:0], "# %d lines, %s\n", d.Count, word)
	}
	if _, err := bw.Write(line); err != nil {
		return d, err
	}
	return d, bw.Flush()
}
