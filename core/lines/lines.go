package lines

// DefaultMaxBytes bounds one raw line. It is well above the 4000-character cap of a
// stored line so that escape sequences and multi-byte text still fill the cap, and
// small enough that a newline-free stream cannot grow memory.
const DefaultMaxBytes = 64 << 10

// Splitter is an io.Writer that calls Emit once per line, in order, without the line
// break. A line longer than MaxBytes is cut: its first MaxBytes bytes are emitted
// (truncated = true) when its break arrives, and the rest is discarded. An empty line
// ended by a bare CR (a progress bar's leading CR) is not emitted. Not safe for
// concurrent use.
type Splitter struct {
	Emit     func(line []byte, truncated bool)
	MaxBytes int

	buf       []byte
	truncated bool
	afterCR   bool // the previous byte was a CR: an LF now completes a CRLF
}

// Write splits p; it never fails.
func (s *Splitter) Write(p []byte) (int, error) {
	max := s.MaxBytes
	if max <= 0 {
		max = DefaultMaxBytes
	}
	start := 0
	for i := 0; i < len(p); i++ {
		c := p[i]
		if c != '\n' && c != '\r' {
			continue
		}
		if c == '\n' && s.afterCR && i == start && len(s.buf) == 0 && !s.truncated {
			s.afterCR = false // the LF of a CRLF whose CR already ended the line
			start = i + 1
			continue
		}
		s.add(p[start:i], max)
		s.end(c == '\r')
		s.afterCR = c == '\r'
		start = i + 1
	}
	if start < len(p) {
		s.afterCR = false
		s.add(p[start:], max)
	}
	return len(p), nil
}

// Flush emits a last line that has no line break.
func (s *Splitter) Flush() {
	if len(s.buf) > 0 || s.truncated {
		s.end(false)
	}
	s.afterCR = false
}

func (s *Splitter) add(b []byte, max int) {
	if room := max - len(s.buf); len(b) > room {
		b = b[:room]
		s.truncated = true
	}
	s.buf = append(s.buf, b...)
}

func (s *Splitter) end(byCR bool) {
	if len(s.buf) > 0 || s.truncated || !byCR {
		s.Emit(s.buf, s.truncated)
	}
	s.buf, s.truncated = s.buf[:0], false
}
