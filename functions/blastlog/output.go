package main

import (
	"bufio"
	"hash/fnv"
	"io"
	"path"
	"strconv"
	"strings"

	"github.com/blastlog/blastlog/core/app"
	"github.com/blastlog/blastlog/core/event"
	"github.com/blastlog/blastlog/core/summary"
)

// Output formats of logs.
const (
	formatText = "text"
	formatJSON = "json"
	formatRaw  = "raw"
)

// ANSI styles.
const (
	reset  = "\x1b[0m"
	bold   = "\x1b[1m"
	dim    = "\x1b[2m"
	red    = "\x1b[31m"
	yellow = "\x1b[33m"
	cyan   = "\x1b[36m"
)

// podColours are the colours pods are told apart by (stern's habit): a pod's is a
// hash of its name, the same in every run and every terminal.
var podColours = []string{"\x1b[32m", "\x1b[34m", "\x1b[35m", "\x1b[36m", "\x1b[92m", "\x1b[94m", "\x1b[95m", "\x1b[96m",
	"\x1b[38;5;208m", "\x1b[38;5;141m", "\x1b[38;5;43m", "\x1b[38;5;178m"}

func podColour(pod string) string {
	h := fnv.New32a()
	io.WriteString(h, pod)
	return podColours[h.Sum32()%uint32(len(podColours))]
}

// printer writes events in one of the formats.
type printer struct {
	w          *bufio.Writer
	format     string
	color      bool
	timestamps bool
	step       string // the step of the last event printed (text)
	printed    int64
	b          []byte
}

func newPrinter(w io.Writer, format string, color, timestamps bool) *printer {
	return &printer{w: bufio.NewWriterSize(w, 64<<10), format: format, color: color, timestamps: timestamps, step: "\x00"}
}

func (p *printer) style(s string) {
	if p.color {
		p.b = append(p.b, s...)
	}
}

// event prints e: json its event JSON, raw its line, text a line per event with the
// step named when it changes, the pod (or submit, or blastlog for a notice) in its
// colour, and notices marked.
func (p *printer) event(e *event.Event) error {
	p.b = p.b[:0]
	switch p.format {
	case formatJSON:
		p.b = append(e.AppendJSON(p.b), '\n')
	case formatRaw:
		p.b = append(append(p.b, e.Line...), '\n')
	default:
		p.text(e)
	}
	p.printed++
	_, err := p.w.Write(p.b)
	return err
}

func (p *printer) text(e *event.Event) {
	// A notice of no step (the collector's own) is told where it falls, without a
	// header of its own around it.
	if step := summary.StepOf(e); step != p.step && (e.Notice == "" || e.Phase != "") {
		p.step = step
		p.style(bold)
		p.b = append(p.b, "── "...)
		p.b = append(p.b, event.PhaseLabel(e.Phase)...)
		p.b = append(p.b, " ──"...)
		p.style(reset)
		p.b = append(p.b, '\n')
	}
	if p.timestamps {
		p.style(dim)
		p.b = event.AppendTime(p.b, e.TS)
		p.style(reset)
		p.b = append(p.b, ' ')
	}
	level := summary.Classify(e)
	switch {
	case e.Notice != "":
		// The notice's line is a sentence that names what it is about already.
		p.style(cyan)
		p.b = append(p.b, "»"...)
		p.style(reset)
		p.b = append(p.b, ' ')
	case e.Pod != "":
		p.style(podColour(e.Pod))
		p.b = append(p.b, e.Pod...)
		p.b = append(p.b, ' ')
		p.b = append(p.b, e.Container...)
		p.style(reset)
		p.b = append(p.b, ' ')
	default:
		p.style(bold)
		p.b = append(p.b, "submit"...)
		p.style(reset)
		p.b = append(p.b, ' ')
	}
	switch level {
	case summary.Error:
		p.style(red)
	case summary.Warning:
		p.style(yellow)
	}
	p.b = append(p.b, e.Line...)
	if level != summary.None {
		p.style(reset)
	}
	p.b = append(p.b, '\n')
}

// line writes a line of its own (a gap, a search match's place).
func (p *printer) line(style, s string) error {
	p.b = p.b[:0]
	p.style(style)
	p.b = append(p.b, s...)
	if style != "" {
		p.style(reset)
	}
	p.b = append(p.b, '\n')
	_, err := p.w.Write(p.b)
	return err
}

func (p *printer) flush() error { return p.w.Flush() }

// filter is what logs keeps of a run's events: the search's rules (phase, issues,
// grep as a case-insensitive substring, notices by reason and exit code) and a pod
// glob and a container.
type filter struct {
	q         app.SearchQuery
	pod       string
	container string
}

func (f *filter) any() bool {
	return f.q.Q != "" || f.q.Phase != "" || f.q.Issues || f.pod != "" || f.container != ""
}

func (f *filter) keep(e *event.Event) bool {
	if f.pod != "" {
		if ok, _ := path.Match(f.pod, e.Pod); !ok {
			return false
		}
	}
	if f.container != "" && e.Container != f.container {
		return false
	}
	return f.q.Match(e)
}

func plural(n int64, one, many string) string {
	if n == 1 {
		return "1 " + one
	}
	return strconv.FormatInt(n, 10) + " " + many
}

// oneLine keeps a message on one line.
func oneLine(s string) string { return strings.Join(strings.Fields(s), " ") }
