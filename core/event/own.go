package event

import (
	"bytes"
	"encoding/binary"
	"math/bits"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// Strings holds the strings of the events decoded with it (DecodeOwnIn) in one
// growing buffer, so that a chunk's events cost a few allocations together instead
// of one or two each. A field equal to the previous event's (its job id, phase, pod
// …) is that same string, stored once. Its zero value is ready; it must not be copied
// after use.
type Strings struct {
	b    strings.Builder
	last [nShared]string
	tmp  []byte // an escaped string's unescaped bytes, on their way into b
}

// The fields whose previous value a Strings remembers.
const (
	sharedJobID = iota
	sharedSource
	sharedPhase
	sharedStream
	sharedPod
	sharedContainer
	sharedContainerID
	nShared
)

// Grow makes room for n more bytes of strings.
func (s *Strings) Grow(n int) { s.b.Grow(n) }

// add stores p and returns it as a string. strings.Builder never changes bytes it
// has written (growing copies them), so what String returned stays valid.
func (s *Strings) add(p []byte) string {
	start := s.b.Len()
	s.b.Write(p)
	return s.b.String()[start:]
}

// field is where a JSON string's content lies in an event's bytes; esc: it holds an
// escape (one of \" \\ \/ \n \r \t, the only ones the own shape reads).
type field struct {
	start, end int
	esc        bool
}

// appendTo appends f's content, unescaped, to dst.
func (f field) appendTo(dst, data []byte) []byte {
	if !f.esc {
		return append(dst, data[f.start:f.end]...)
	}
	run := f.start // the first byte not yet copied
	for j := f.start; j < f.end; j++ {
		if data[j] != '\\' {
			continue // a plain loop: BLAST's tabular lines have an escape every few bytes
		}
		dst = append(dst, data[run:j]...)
		j++
		switch c := data[j]; c { // str saw a valid escape
		case 'n':
			dst = append(dst, '\n')
		case 'r':
			dst = append(dst, '\r')
		case 't':
			dst = append(dst, '\t')
		default: // " \ /
			dst = append(dst, c)
		}
		run = j + 1
	}
	return append(dst, data[run:f.end]...)
}

func (f field) empty() bool { return f.start == f.end }

// own is an event in the own shape, found in its bytes but not yet copied out.
type own struct {
	id, jobID, source, phase, stream, pod, container, line, ts, containerID, pubID field
	schemaVersion, restart, seq                                                    int64
	hasID, hasContainerID, hasRestart, hasPubID, truncated                         bool
	// odd: the bytes hold something AppendJSON writes otherwise (\/, -0).
	odd bool
}

// scanOwn finds the fields of an event in the exact shape AppendJSON writes — every
// field in its order, the optional ones of a log line (container_id, restart,
// truncated, pub_id and seq) too; ok is false for any other shape (a notice's fields,
// another producer's order, an escape it does not read, bytes that are not UTF-8).
func scanOwn(data []byte) (o own, ok bool) {
	if !utf8.Valid(data) {
		return own{}, false // encoding/json replaces invalid bytes: Decode does as it does
	}
	p := ownParser{d: data}
	if !p.lit(`{`) {
		return own{}, false
	}
	if p.lit(`"id":`) {
		if o.id, ok = p.str(); !ok || !p.lit(`,`) {
			return own{}, false
		}
		o.hasID = true
	}
	if !p.lit(`"schema_version":`) {
		return own{}, false
	}
	if o.schemaVersion, ok = p.int(); !ok {
		return own{}, false
	}
	fields := [...]struct {
		name string
		dst  *field
	}{{`,"job_id":`, &o.jobID}, {`,"source":`, &o.source}, {`,"phase":`, &o.phase}, {`,"stream":`, &o.stream},
		{`,"pod":`, &o.pod}, {`,"container":`, &o.container}, {`,"line":`, &o.line}, {`,"ts":`, &o.ts}}
	for _, f := range fields {
		if !p.lit(f.name) {
			return own{}, false
		}
		if *f.dst, ok = p.str(); !ok {
			return own{}, false
		}
	}
	if o.ts.esc {
		return own{}, false // a time with escapes: Decode
	}
	if p.lit(`,"container_id":`) {
		if o.containerID, ok = p.str(); !ok {
			return own{}, false
		}
		o.hasContainerID = true
	}
	if p.lit(`,"restart":`) {
		if o.restart, ok = p.int(); !ok {
			return own{}, false
		}
		o.hasRestart = true
	}
	if p.lit(`,"truncated":true`) {
		o.truncated = true
	}
	if p.lit(`,"pub_id":`) {
		if o.pubID, ok = p.str(); !ok || !p.lit(`,"seq":`) {
			return own{}, false
		}
		o.hasPubID = true
		if o.seq, ok = p.int(); !ok {
			return own{}, false
		}
	}
	if !p.lit(`}`) || p.i != len(data) {
		return own{}, false // a notice, or fields this reader does not know: Decode
	}
	o.odd = p.odd
	return o, true
}

// separatorPrefix starts U+2028 and U+2029 in UTF-8.
var separatorPrefix = []byte{0xE2, 0x80}

// canonical: data is byte for byte what AppendJSON writes of the event it decodes to
// (so it can be handed out as it is).
func (o *own) canonical(data []byte) bool {
	if o.odd || o.hasID && o.id.empty() || o.source.empty() || o.stream.empty() ||
		o.hasContainerID && o.containerID.empty() || o.hasRestart && o.restart == 0 || o.hasPubID && o.pubID.empty() {
		return false // AppendJSON leaves out, fills in or writes otherwise
	}
	if _, ok := fastTime(data[o.ts.start:o.ts.end]); !ok && !o.ts.empty() {
		return false
	}
	// AppendJSON escapes U+2028 and U+2029 (E2 80 A8, E2 80 A9).
	for rest := data; ; {
		i := bytes.Index(rest, separatorPrefix)
		if i < 0 {
			return true
		}
		if i+2 < len(rest) && (rest[i+2] == 0xA8 || rest[i+2] == 0xA9) {
			return false
		}
		rest = rest[i+2:]
	}
}

// DecodeOwn decodes an event in the own shape (see scanOwn) without reflection and
// with one allocation for all its strings. ok is false for any other shape: Decode
// reads those. DecodeOwn(b) equals Decode(b) whenever ok.
func DecodeOwn(data []byte) (e Event, ok bool) {
	var s Strings
	s.Grow(len(data))
	return DecodeOwnIn(data, &s)
}

// DecodeOwnIn is DecodeOwn keeping the event's strings in s, shared with the other
// events decoded there.
func DecodeOwnIn(data []byte, s *Strings) (e Event, ok bool) {
	o, ok := scanOwn(data)
	if !ok || o.hasID && o.id.esc {
		return Event{}, false
	}
	str := func(f field, shared int) string { return s.field(f, shared, data) }
	e.ID, _ = o.eventID(data)
	e.SchemaVersion = int(o.schemaVersion)
	e.JobID = str(o.jobID, sharedJobID)
	e.Source, e.Stream = SourceTerminal, Stdout
	if !o.source.empty() {
		e.Source = Source(str(o.source, sharedSource))
	}
	e.Phase = str(o.phase, sharedPhase)
	if !o.stream.empty() {
		e.Stream = Stream(str(o.stream, sharedStream))
	}
	e.Pod, e.Container, e.Line = str(o.pod, sharedPod), str(o.container, sharedContainer), str(o.line, -1)
	e.TS = o.time(data)
	e.ContainerID = str(o.containerID, sharedContainerID)
	e.Restart, e.Truncated = int(o.restart), o.truncated
	if !o.pubID.empty() || o.seq != 0 {
		e.PubID, e.Seq = str(o.pubID, -1), o.seq
	}
	return e, true
}

// field stores f's content; shared (≥ 0) names a field whose previous value is
// reused when equal.
func (s *Strings) field(f field, shared int, data []byte) string {
	if shared >= 0 && !f.esc && string(data[f.start:f.end]) == s.last[shared] {
		return s.last[shared]
	}
	var v string
	if f.esc {
		s.tmp = f.appendTo(s.tmp[:0], data)
		v = s.add(s.tmp)
	} else {
		v = s.add(data[f.start:f.end])
	}
	if shared >= 0 {
		s.last[shared] = v
	}
	return v
}

// eventID is the event's id as Decode reads it (the zero id when it has none or its
// text is not an id); the caller has refused an escaped one, which Decode reads.
// canonical: AppendJSON writes the id as it stands (none, or "<ms>-<seq>" not zero).
func (o *own) eventID(data []byte) (id ID, canonical bool) {
	if !o.hasID {
		return ID{}, true
	}
	text := data[o.id.start:o.id.end]
	id = parseIDOrZero(text)
	var buf [41]byte
	return id, !id.IsZero() && bytes.Equal(appendID(buf[:0], id), text)
}

// time is the event's ts as Decode reads it.
func (o *own) time(data []byte) time.Time {
	ts := data[o.ts.start:o.ts.end]
	if t, ok := fastTime(ts); ok {
		return t
	}
	if len(ts) == 0 {
		return time.Time{}
	}
	return parseTime(string(ts))
}

// A LineFormat is how a download writes an event as one line.
type LineFormat uint8

const (
	// TextLine is AppendText's line.
	TextLine LineFormat = iota + 1
	// JSONLine is the event's JSON (AppendJSON) and a newline.
	JSONLine
)

// AppendLine appends e as one line in f.
func (e *Event) AppendLine(dst []byte, f LineFormat) []byte {
	if f == JSONLine {
		return append(e.AppendJSON(dst), '\n')
	}
	return e.AppendText(dst)
}

// LineOnly is e as DecodeLineIn reads it: its ID, Phase and Source, and its line in f
// as Line.
func (e *Event) LineOnly(f LineFormat) Event {
	return Event{ID: e.ID, Phase: e.Phase, Source: e.Source, Line: string(e.AppendLine(nil, f))}
}

// DecodeLineIn reads the event whose JSON is data for a reader that only writes it
// as a line in f: ID, Phase and Source as they decode (strings in s), Line its whole
// line, the rest unset — without decoding it: a text line is written from the fields
// found in place, a JSON line is data itself. ok is false when data is not in the own
// shape, or (JSONLine) not byte for byte what AppendJSON writes of it.
func DecodeLineIn(data []byte, s *Strings, f LineFormat) (e Event, ok bool) {
	o, ok := scanOwn(data)
	if !ok || o.hasID && o.id.esc {
		return Event{}, false
	}
	id, idCanonical := o.eventID(data)
	if f == JSONLine && (!idCanonical || !o.canonical(data)) {
		return Event{}, false // AppendJSON would write it otherwise
	}
	e.ID = id
	e.Phase = s.field(o.phase, sharedPhase, data)
	e.Source = SourceTerminal
	if !o.source.empty() {
		e.Source = Source(s.field(o.source, sharedSource, data))
	}
	if f == JSONLine {
		start := s.b.Len()
		s.b.Write(data)
		s.b.WriteByte('\n')
		e.Line = s.b.String()[start:]
		return e, true
	}
	s.tmp = o.appendText(s.tmp[:0], data)
	e.Line = s.add(s.tmp)
	return e, true
}

func (o *own) appendText(dst, data []byte) []byte {
	ts := data[o.ts.start:o.ts.end]
	if _, fast := fastTime(ts); fast {
		dst = append(dst, ts...) // AppendTime writes what fastTime reads, unchanged
	} else {
		dst = appendTextTime(dst, o.time(data))
	}
	dst = append(dst, ' ')
	if o.phase.empty() {
		dst = append(dst, '-')
	} else {
		dst = o.phase.appendTo(dst, data)
	}
	dst = append(dst, ' ')
	switch {
	case !o.source.esc && string(data[o.source.start:o.source.end]) == string(SourceSystem):
		dst = append(dst, SourceSystem...)
	case !o.pod.empty():
		dst = o.pod.appendTo(dst, data)
		dst = append(dst, '/')
		dst = o.container.appendTo(dst, data)
	default:
		dst = append(dst, "submit"...)
	}
	dst = append(dst, ' ')
	if o.stream.empty() {
		dst = append(dst, Stdout...)
	} else {
		dst = o.stream.appendTo(dst, data)
	}
	dst = append(dst, ": "...)
	dst = o.line.appendTo(dst, data)
	return append(dst, '\n')
}

// AppendText appends e as a line of the text download:
// "<ts> <phase> <pod/container, submit or system> <stream>: <line>".
func (e *Event) AppendText(dst []byte) []byte {
	dst = appendTextTime(dst, e.TS)
	dst = append(dst, ' ')
	if e.Phase == "" {
		dst = append(dst, '-')
	} else {
		dst = append(dst, e.Phase...)
	}
	dst = append(dst, ' ')
	switch {
	case e.Source == SourceSystem:
		dst = append(dst, SourceSystem...)
	case e.Pod != "":
		dst = append(dst, e.Pod...)
		dst = append(dst, '/')
		dst = append(dst, e.Container...)
	default:
		dst = append(dst, "submit"...)
	}
	dst = append(dst, ' ')
	dst = append(dst, e.Stream...)
	dst = append(dst, ": "...)
	dst = append(dst, e.Line...)
	return append(dst, '\n')
}

func appendTextTime(dst []byte, t time.Time) []byte {
	if t.IsZero() {
		return append(dst, '-')
	}
	return AppendTime(dst, t)
}

// fastTime reads ts in the shape AppendTime writes as time.Parse(time.RFC3339Nano)
// does; ok is false for any other shape: time.Parse reads those.
func fastTime[S string | []byte](ts S) (t time.Time, ok bool) {
	if len(ts) != len("2006-01-02T15:04:05.000Z") || ts[4] != '-' || ts[7] != '-' || ts[10] != 'T' ||
		ts[13] != ':' || ts[16] != ':' || ts[19] != '.' || ts[23] != 'Z' {
		return time.Time{}, false
	}
	y, ok1 := digits(ts[0:4])
	mo, ok2 := digits(ts[5:7])
	d, ok3 := digits(ts[8:10])
	h, ok4 := digits(ts[11:13])
	mi, ok5 := digits(ts[14:16])
	sec, ok6 := digits(ts[17:19])
	ms, ok7 := digits(ts[20:23])
	if !ok1 || !ok2 || !ok3 || !ok4 || !ok5 || !ok6 || !ok7 || mo < 1 || mo > 12 || d < 1 || d > daysIn(mo, y) || h > 23 || mi > 59 || sec > 59 {
		return time.Time{}, false
	}
	return time.Date(y, time.Month(mo), d, h, mi, sec, ms*1e6, time.UTC), true
}

// daysIn is the length of month mo (1-12) of year y.
func daysIn(mo, y int) int {
	switch mo {
	case 2:
		if y%4 == 0 && (y%100 != 0 || y%400 == 0) {
			return 29
		}
		return 28
	case 4, 6, 9, 11:
		return 30
	}
	return 31
}

func digits[S string | []byte](s S) (int, bool) {
	n := 0
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < '0' || c > '9' {
			return 0, false
		}
		n = n*10 + int(c-'0')
	}
	return n, true
}

type ownParser struct {
	d   []byte
	i   int
	odd bool // a \/ or a -0 was read
}

func (p *ownParser) lit(l string) bool {
	if len(p.d)-p.i >= len(l) && string(p.d[p.i:p.i+len(l)]) == l {
		p.i += len(l)
		return true
	}
	return false
}

// str finds the JSON string at p.i: false when it is not one, holds a raw control
// character, or an escape other than \" \\ \/ \n \r \t.
func (p *ownParser) str() (field, bool) {
	if p.i >= len(p.d) || p.d[p.i] != '"' {
		return field{}, false
	}
	f := field{start: p.i + 1}
	for j := f.start; j < len(p.d); j++ {
		j = special(p.d, j)
		if j == len(p.d) {
			break
		}
		switch c := p.d[j]; {
		case c == '"':
			f.end, p.i = j, j+1
			return f, true
		case c < 0x20:
			return field{}, false
		case c == '\\':
			if j+1 >= len(p.d) {
				return field{}, false
			}
			j++
			switch p.d[j] {
			case '/':
				f.esc, p.odd = true, true
			case '"', '\\', 'n', 'r', 't':
				f.esc = true
			default:
				return field{}, false // \u, \b, \f: Decode
			}
		}
	}
	return field{}, false
}

// special is the index of the first byte from i on that ends or escapes a JSON
// string's plain run — '"', '\\' or a control character — or len(d): eight bytes at a
// time, the run of a line being most of an event.
func special(d []byte, i int) int {
	const ones, highs = 0x0101010101010101, 0x8080808080808080
	for ; i+8 <= len(d); i += 8 {
		w := binary.LittleEndian.Uint64(d[i:])
		// A byte below 0x20 (the lowest flagged byte is exact; a borrow can flag
		// only bytes above it), equal to '"', equal to '\\'.
		q, b := w^(ones*'"'), w^(ones*'\\')
		m := (w - ones*0x20) &^ w & highs
		m |= (q - ones) &^ q & highs
		m |= (b - ones) &^ b & highs
		if m != 0 {
			return i + bits.TrailingZeros64(m)/8
		}
	}
	for ; i < len(d); i++ {
		if c := d[i]; c == '"' || c == '\\' || c < 0x20 {
			return i
		}
	}
	return i
}

func (p *ownParser) int() (int64, bool) {
	j := p.i
	if j < len(p.d) && p.d[j] == '-' {
		j++
	}
	digits := j
	for j < len(p.d) && p.d[j] >= '0' && p.d[j] <= '9' {
		j++
	}
	if j-digits > 1 && p.d[digits] == '0' {
		return 0, false // JSON has no leading zeros
	}
	n, err := strconv.ParseInt(string(p.d[p.i:j]), 10, 64)
	if err != nil {
		return 0, false
	}
	p.odd = p.odd || n == 0 && p.d[p.i] == '-'
	p.i = j
	return n, true
}
