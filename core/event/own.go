package event

import (
	"strconv"
	"time"
	"unicode/utf8"
)

// DecodeOwn decodes an event in the exact shape AppendJSON writes — every field in its
// order, the optional ones of a log line (container_id, restart, truncated, pub_id
// and seq) too — without reflection and with one allocation for all its strings.
// ok is false for any other shape (a notice's fields, another producer's order, an
// escape it does not read): Decode reads those. DecodeOwn(b) equals Decode(b)
// whenever ok.
func DecodeOwn(data []byte) (e Event, ok bool) {
	if !utf8.Valid(data) {
		return Event{}, false // encoding/json replaces invalid bytes: Decode does as it does
	}
	s := string(data) // one allocation: every string field is a substring of it
	p := ownParser{s: s}
	if !p.lit(`{`) {
		return Event{}, false
	}
	if p.lit(`"id":`) {
		if e.ID, ok = p.str(); !ok || !p.lit(`,`) {
			return Event{}, false
		}
	}
	var sv int64
	var src, stream, ts string
	if !p.lit(`"schema_version":`) {
		return Event{}, false
	}
	if sv, ok = p.int(); !ok {
		return Event{}, false
	}
	fields := []struct {
		name string
		dst  *string
	}{{`,"job_id":`, &e.JobID}, {`,"source":`, &src}, {`,"phase":`, &e.Phase}, {`,"stream":`, &stream},
		{`,"pod":`, &e.Pod}, {`,"container":`, &e.Container}, {`,"line":`, &e.Line}, {`,"ts":`, &ts}}
	for _, f := range fields {
		if !p.lit(f.name) {
			return Event{}, false
		}
		if *f.dst, ok = p.str(); !ok {
			return Event{}, false
		}
	}
	e.SchemaVersion = int(sv)
	e.Source, e.Stream = SourceTerminal, Stdout
	if src != "" {
		e.Source = Source(src)
	}
	if stream != "" {
		e.Stream = Stream(stream)
	}
	if ts != "" {
		t, err := time.Parse(time.RFC3339Nano, ts)
		if err == nil {
			e.TS = t
		}
	}
	if p.lit(`,"container_id":`) {
		if e.ContainerID, ok = p.str(); !ok {
			return Event{}, false
		}
	}
	if p.lit(`,"restart":`) {
		n, ok := p.int()
		if !ok {
			return Event{}, false
		}
		e.Restart = int(n)
	}
	if p.lit(`,"truncated":true`) {
		e.Truncated = true
	}
	if p.lit(`,"pub_id":`) {
		if e.PubID, ok = p.str(); !ok || !p.lit(`,"seq":`) {
			return Event{}, false
		}
		if e.Seq, ok = p.int(); !ok {
			return Event{}, false
		}
	}
	if !p.lit(`}`) || p.i != len(s) {
		return Event{}, false // a notice, or fields this reader does not know: Decode
	}
	return e, true
}

type ownParser struct {
	s string
	i int
}

func (p *ownParser) lit(l string) bool {
	if len(p.s)-p.i >= len(l) && p.s[p.i:p.i+len(l)] == l {
		p.i += len(l)
		return true
	}
	return false
}

// str reads a JSON string without escapes other than \" \\ \/ \n \r \t; one with any
// other escape is not read here (false).
func (p *ownParser) str() (string, bool) {
	if p.i >= len(p.s) || p.s[p.i] != '"' {
		return "", false
	}
	start := p.i + 1
	for j := start; j < len(p.s); j++ {
		switch c := p.s[j]; {
		case c == '"':
			p.i = j + 1
			return p.s[start:j], true
		case c == '\\':
			return p.escaped(start)
		case c < 0x20:
			return "", false
		}
	}
	return "", false
}

func (p *ownParser) escaped(start int) (string, bool) {
	b := make([]byte, 0, 64)
	run := start // the first byte not yet copied
	for j := start; j < len(p.s); j++ {
		c := p.s[j]
		switch {
		case c == '"':
			p.i = j + 1
			return string(append(b, p.s[run:j]...)), true
		case c < 0x20:
			return "", false
		case c != '\\':
			continue
		}
		if j+1 >= len(p.s) {
			return "", false
		}
		b = append(b, p.s[run:j]...)
		j++
		switch p.s[j] {
		case '"', '\\', '/':
			b = append(b, p.s[j])
		case 'n':
			b = append(b, '\n')
		case 'r':
			b = append(b, '\r')
		case 't':
			b = append(b, '\t')
		default:
			return "", false // \u, \b, \f: Decode
		}
		run = j + 1
	}
	return "", false
}

func (p *ownParser) int() (int64, bool) {
	j := p.i
	if j < len(p.s) && p.s[j] == '-' {
		j++
	}
	digits := j
	for j < len(p.s) && p.s[j] >= '0' && p.s[j] <= '9' {
		j++
	}
	if j-digits > 1 && p.s[digits] == '0' {
		return 0, false // JSON has no leading zeros
	}
	n, err := strconv.ParseInt(p.s[p.i:j], 10, 64)
	if err != nil {
		return 0, false
	}
	p.i = j
	return n, true
}
