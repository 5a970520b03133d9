package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/blastlog/blastlog/core/app"
	"github.com/blastlog/blastlog/core/event"
	"github.com/blastlog/blastlog/ports"
)

func runsCmd(e *env, g *global) *cobra.Command {
	var limit int
	var output string
	cmd := &cobra.Command{
		Use:   "runs",
		Short: "List your runs, newest first",
		Example: `  blastlog runs
  blastlog runs --limit 5 -o json | jq -r '.runs[].job_id'`,
		Args: exactArgs(0, "no arguments"),
		RunE: func(cmd *cobra.Command, _ []string) error {
			if output != "table" && output != formatJSON {
				return usagef("-o must be table or json")
			}
			if limit < 0 || limit > app.RunsMaxLimit {
				return usagef("--limit must be from 1 to %d", app.RunsMaxLimit)
			}
			ctx := cmd.Context()
			c, err := g.client(ctx, e)
			if err != nil {
				return err
			}
			runs, err := c.Runs(ctx, limit)
			if err != nil {
				return err
			}
			if output == formatJSON {
				b, _ := json.Marshal(struct {
					Runs []app.RunInfo `json:"runs"`
				}{runs})
				_, err = fmt.Fprintf(e.stdout, "%s\n", b)
				return err
			}
			tw := tabwriter.NewWriter(e.stdout, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "RUN\tSTATUS\tCREATED\tUPDATED")
			for _, r := range runs {
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", r.JobID, r.Status, when(r.CreatedAt), when(r.UpdatedAt))
			}
			return tw.Flush()
		},
	}
	cmd.Flags().IntVar(&limit, "limit", 50, "at most this many runs (1..500)")
	cmd.Flags().StringVarP(&output, "output", "o", "table", "table or json")
	return cmd
}

func when(t time.Time) string {
	if t.IsZero() {
		return "-"
	}
	return t.Local().Format("2006-01-02 15:04")
}

func searchCmd(e *env, g *global) *cobra.Command {
	q := app.SearchQuery{}
	var output string
	var limit int
	cmd := &cobra.Command{
		Use:   "search RUN [TEXT]",
		Short: "Find lines in a whole run, any case; with --issues, its errors and warnings",
		Long: `Search the whole run (the archive and the live tail) for TEXT as a case-insensitive
substring; a notice is also found by its reason and exit code (OOMKilled, 137). Each
match is printed with its step and its line number within the step. With --issues
only the lines the error and warning rules flag are kept, and TEXT may be left out.`,
		Example: `  blastlog search run-42 "out of memory"
  blastlog search run-42 --issues --phase running
  blastlog search run-42 oomkilled -o json | jq -r .id`,
		Args: func(cmd *cobra.Command, args []string) error {
			if len(args) < 1 || len(args) > 2 {
				return usagef("%s needs RUN and TEXT (see %s --help)", cmd.CommandPath(), cmd.CommandPath())
			}
			if len(args) == 1 && !q.Issues {
				return usagef("%s needs TEXT, or --issues", cmd.CommandPath())
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			if output != formatText && output != formatJSON {
				return usagef("-o must be text or json")
			}
			if len(args) == 2 {
				q.Q = args[1]
			}
			if err := q.Validate(); err != nil {
				return usageError{err.Error()}
			}
			ctx := cmd.Context()
			color, err := g.colored(e, e.stdout)
			if err != nil {
				return err
			}
			c, err := g.client(ctx, e)
			if err != nil {
				return err
			}
			w := bufio.NewWriter(e.stdout)
			printed := 0
			for limit == 0 || printed < limit {
				page := q
				if limit > 0 {
					page.Limit = min(app.SearchMaxLimit, limit-printed)
				} else {
					page.Limit = app.SearchMaxLimit
				}
				res, err := c.Search(ctx, args[0], page)
				if err != nil {
					return errors.Join(err, w.Flush())
				}
				for _, m := range res.Matches {
					if err := printMatch(w, m, output, color, q.Q); err != nil {
						return err
					}
					printed++
				}
				if err := w.Flush(); err != nil {
					return err
				}
				if !res.Truncated || res.NextAfter.IsZero() || res.NextAfter.String() == q.After {
					break
				}
				q.After = res.NextAfter.String()
			}
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&q.Phase, "phase", "", "only this step")
	f.StringVar(&q.Pod, "pod", "", "only this pod")
	f.BoolVar(&q.Issues, "issues", false, "only the lines the error and warning rules flag")
	f.IntVar(&limit, "limit", 0, "at most this many matches (0: all)")
	f.StringVarP(&output, "output", "o", formatText, "text or json")
	return cmd
}

// printMatch: text "<step's name>:<line_no> <pod or submit> <line>" with the text found
// highlighted; json the match (the event and its line_no).
func printMatch(w io.Writer, m app.Match, output string, color bool, text string) error {
	if output == formatJSON {
		b, _ := m.MarshalJSON()
		_, err := fmt.Fprintf(w, "%s\n", b)
		return err
	}
	who := "submit"
	switch {
	case m.Notice != "":
		who = "»"
	case m.Pod != "":
		who = m.Pod + " " + m.Container
	}
	where := event.PhaseLabel(m.Phase) + ":" + strconv.FormatInt(m.LineNo, 10)
	line := m.Line
	if color {
		where, who = dim+where+reset, podColour(m.Pod)+who+reset
		line = highlight(line, text)
	}
	_, err := fmt.Fprintf(w, "%s %s %s\n", where, who, line)
	return err
}

// highlight marks each place line holds text (any case) in bold red.
func highlight(line, text string) string {
	if text == "" {
		return line
	}
	lower, needle := strings.ToLower(line), strings.ToLower(text)
	if len(lower) != len(line) {
		return line // a rune changed size when lowered: no safe offsets
	}
	var b strings.Builder
	for {
		i := strings.Index(lower, needle)
		if i < 0 {
			b.WriteString(line)
			return b.String()
		}
		b.WriteString(line[:i])
		b.WriteString(bold + red + line[i:i+len(needle)] + reset)
		line, lower = line[i+len(needle):], lower[i+len(needle):]
	}
}

func downloadCmd(e *env, g *global) *cobra.Command {
	q := app.DownloadQuery{}
	var out string
	cmd := &cobra.Command{
		Use:   "download RUN",
		Short: "Save a whole run (or one step) as text or NDJSON",
		Long: `Save every line of the run (or of one step) in stream order, ending with the trailer
line that says how many lines there are and whether the run is complete. With -O FILE
it is written to FILE.part and renamed to FILE once the trailer is in; without -O
(or -O -) it goes to stdout. A download cut short is an error (exit 5).`,
		Example: `  blastlog download run-42 -O run-42.txt
  blastlog download run-42 --format ndjson --phase running -O running.ndjson
  blastlog download run-42 | grep -c ERROR`,
		Args: exactArgs(1, "RUN"),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := q.Validate(); err != nil {
				return usageError{err.Error()}
			}
			ctx := cmd.Context()
			c, err := g.client(ctx, e)
			if err != nil {
				return err
			}
			return download(ctx, e, c.Download, args[0], q, out)
		},
	}
	cmd.Flags().StringVar(&q.Format, "format", app.FormatText, "text or ndjson")
	cmd.Flags().StringVar(&q.Phase, "phase", "", "only this step")
	cmd.Flags().StringVarP(&out, "output-file", "O", "", "write to this file (- or empty: stdout)")
	return cmd
}

// download copies the run's download to out (stdout when "" or "-"), checking that
// it ends with its trailer, with progress on stderr when it is a terminal.
func download(ctx context.Context, e *env, get func(context.Context, string, app.DownloadQuery) (io.ReadCloser, error),
	jobID string, q app.DownloadQuery, out string) error {
	body, err := get(ctx, jobID, q)
	if err != nil {
		return err
	}
	defer body.Close()
	var w io.Writer = e.stdout
	var f *os.File
	if out != "" && out != "-" {
		if f, err = os.Create(out + ".part"); err != nil {
			return usageError{err.Error()}
		}
		defer func() {
			if f != nil {
				f.Close()
				os.Remove(f.Name())
			}
		}()
		w = f
	}
	tw := &tailWriter{w: w}
	var dst io.Writer = tw
	if f != nil && e.isTerminal(e.stderr) {
		dst = &progress{w: tw, to: e.stderr, name: filepath.Base(out)}
	}
	if _, err := io.Copy(dst, body); err != nil {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if errors.Is(err, os.ErrClosed) || isWriteErr(err) {
			return err
		}
		return fmt.Errorf("%w: the download was cut short: %v", ports.ErrUnavailable, err)
	}
	if p, ok := dst.(*progress); ok {
		p.done()
	}
	trailer := tw.trailer(q.Format)
	if trailer == "" {
		return fmt.Errorf("%w: the download was cut short (no trailer line)", ports.ErrUnavailable)
	}
	if f == nil {
		return nil
	}
	if err := f.Close(); err != nil {
		return err
	}
	if err := os.Rename(f.Name(), out); err != nil {
		return err
	}
	f = nil
	fmt.Fprintf(e.stderr, "blastlog: %s: %s\n", out, trailer)
	return nil
}

func isWriteErr(err error) bool {
	var we writeErr
	return errors.As(err, &we)
}

// writeErr marks an error of the destination, not of the download.
type writeErr struct{ error }

func (w writeErr) Unwrap() error { return w.error }

// tailWriter writes through and keeps the last line, to find the trailer.
type tailWriter struct {
	w    io.Writer
	last []byte
}

func (t *tailWriter) Write(p []byte) (int, error) {
	n, err := t.w.Write(p)
	if err != nil {
		return n, writeErr{err}
	}
	t.last = append(t.last, p...)
	if i := bytes.LastIndexByte(t.last[:max(0, len(t.last)-1)], '\n'); i >= 0 {
		t.last = t.last[i+1:]
	}
	if len(t.last) > 4096 {
		t.last = t.last[len(t.last)-4096:]
	}
	return n, nil
}

// trailer is the download's trailer in words ("" when the last line is not one).
func (t *tailWriter) trailer(format string) string {
	last := strings.TrimSuffix(string(t.last), "\n")
	if format == app.FormatNDJSON {
		var tr struct {
			Trailer  bool  `json:"trailer"`
			Count    int64 `json:"count"`
			Complete bool  `json:"complete"`
		}
		if json.Unmarshal([]byte(last), &tr) != nil || !tr.Trailer {
			return ""
		}
		word := "partial"
		if tr.Complete {
			word = "complete"
		}
		return fmt.Sprintf("%d lines, %s", tr.Count, word)
	}
	if s, ok := strings.CutPrefix(last, "# "); ok && (strings.HasSuffix(s, ", complete") || strings.HasSuffix(s, ", partial")) {
		return s
	}
	return ""
}

// progress tells on a terminal how much of a download is written, twice a second.
type progress struct {
	w    io.Writer
	to   io.Writer
	name string
	n    int64
	at   time.Time
}

func (p *progress) Write(b []byte) (int, error) {
	n, err := p.w.Write(b)
	p.n += int64(n)
	if time.Since(p.at) > 500*time.Millisecond {
		p.at = time.Now()
		fmt.Fprintf(p.to, "\r%s: %.1f MB", p.name, float64(p.n)/1e6)
	}
	return n, err
}

func (p *progress) done() { fmt.Fprintf(p.to, "\r%s: %.1f MB\n", p.name, float64(p.n)/1e6) }
