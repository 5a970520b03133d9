package sanitize

import (
	"unicode/utf8"

	"github.com/blastlog/blastlog/core/event"
)

// MaxChars is the longest line, in characters, that Line returns.
const MaxChars = event.MaxLineChars

// Ellipsis ends a line that was cut at MaxChars.
const Ellipsis = "…"

// Line returns s without escape sequences or control characters (TAB is kept; CR and
// LF become spaces), with invalid UTF-8 replaced by U+FFFD, secrets masked, and at
// most MaxChars characters long.
func Line(s string) string {
	return finish(mask(clean(s)))
}

// finish cuts a masked line to MaxChars.
func finish(s string) string {
	// A cut can leave a mask or a secret's neighbourhood changed ("password=*…" from
	// "password=***", an AWS key id that now ends at a boundary): mask again, and cut
	// again if a mask made the line longer. mask is idempotent, so the result is too;
	// four rounds bound the loop (two settle every case found by fuzzing).
	for i := 0; i < 4 && utf8.RuneCountInString(s) > MaxChars; i++ {
		s = mask(cut(s))
	}
	return s
}

// cut keeps MaxChars-1 characters and appends Ellipsis.
func cut(s string) string { return event.Cut(s, MaxChars, Ellipsis) }

// clean removes ANSI/VT escape sequences (CSI, OSC, DCS/SOS/PM/APC strings and
// two-character escapes, in their 7-bit and C1 forms), removes every other C0/C1
// control character but TAB, turns CR and LF into spaces and replaces invalid UTF-8.
func clean(s string) string {
	i := 0
	for ; i < len(s); i++ {
		if c := s[i]; (c < 0x20 && c != '\t') || c >= 0x7f {
			break
		}
	}
	if i == len(s) {
		return s // printable ASCII: the common case, no allocation
	}
	b := make([]byte, 0, len(s))
	b = append(b, s[:i]...)
	for i < len(s) {
		c := s[i]
		switch {
		case c == 0x1b:
			i = skipEscape(s, i+1)
			continue
		case c == '\r' || c == '\n':
			b = append(b, ' ')
		case c == '\t' || (c >= 0x20 && c < 0x7f):
			b = append(b, c)
		case c < 0x80: // other C0 controls and DEL
		default:
			r, size := utf8.DecodeRuneInString(s[i:])
			switch {
			case r == utf8.RuneError && size == 1:
				b = append(b, "\uFFFD"...)
			case r == 0x9b: // C1 CSI
				i = skipCSI(s, i+size)
				continue
			case r == 0x90 || r == 0x98 || r == 0x9d || r == 0x9e || r == 0x9f: // C1 DCS SOS OSC PM APC
				i = skipString(s, i+size)
				continue
			case r >= 0x80 && r < 0xa0: // other C1 controls
			default:
				b = append(b, s[i:i+size]...)
			}
			i += size
			continue
		}
		i++
	}
	return string(b)
}

// skipEscape returns the index after the escape sequence whose ESC stood before i.
func skipEscape(s string, i int) int {
	if i >= len(s) {
		return i
	}
	switch c := s[i]; {
	case c == '[':
		return skipCSI(s, i+1)
	case c == ']' || c == 'P' || c == 'X' || c == '^' || c == '_':
		return skipString(s, i+1)
	case c >= 0x20 && c <= 0x2f: // intermediates, then one final byte
		for i < len(s) && s[i] >= 0x20 && s[i] <= 0x2f {
			i++
		}
		if i < len(s) && s[i] >= 0x30 && s[i] <= 0x7e {
			i++
		}
		return i
	case c >= 0x30 && c <= 0x7e:
		return i + 1
	}
	return i // a lone ESC: drop it, keep what follows
}

// skipCSI skips parameter and intermediate bytes and the final byte of a CSI sequence.
// A malformed sequence ends at the first byte that cannot belong to it.
func skipCSI(s string, i int) int {
	for i < len(s) && s[i] >= 0x20 && s[i] <= 0x3f {
		i++
	}
	if i < len(s) && s[i] >= 0x40 && s[i] <= 0x7e {
		i++
	}
	return i
}

// skipString skips a control string up to and including its terminator (BEL, ESC \
// or C1 ST); an unterminated string runs to the end of the line.
func skipString(s string, i int) int {
	for i < len(s) {
		switch {
		case s[i] == 0x07:
			return i + 1
		case s[i] == 0x1b:
			if i+1 < len(s) && s[i+1] == '\\' {
				return i + 2
			}
			return i + 1
		case s[i] == 0xc2 && i+1 < len(s) && s[i+1] == 0x9c:
			return i + 2
		}
		i++
	}
	return i
}
