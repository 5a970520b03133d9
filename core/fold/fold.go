// Package fold finds ASCII text in any ASCII case, at memchr speed: the keyword rules
// of the error/warning classification and the search's look at a chunk's bytes both
// run it on every line, so it must not cost what strings.EqualFold at every position
// does.
package fold

import (
	"bytes"
	"unsafe"
)

// Index is the index of the first place s holds lower (lower-case ASCII) in any ASCII
// case, or -1. Only ASCII letters fold: a multi-byte rune never matches an ASCII byte.
func Index(s, lower string) int {
	return IndexBytes(unsafe.Slice(unsafe.StringData(s), len(s)), unsafe.Slice(unsafe.StringData(lower), len(lower)))
}

// IndexBytes is Index of byte slices. It jumps between the places where lower's first
// byte stands, in either case, each found with bytes.IndexByte and found again only
// once passed.
func IndexBytes(s, lower []byte) int {
	if len(lower) == 0 {
		return 0
	}
	if len(lower) > len(s) {
		return -1
	}
	first, upper := lower[0], lower[0]
	if 'a' <= first && first <= 'z' {
		upper = first - 'a' + 'A'
	}
	last := len(s) - len(lower) + 1 // where a match can start, at most
	next := func(c byte, from int) int {
		if j := bytes.IndexByte(s[from:last], c); j >= 0 {
			return from + j
		}
		return last
	}
	lo, up := next(first, 0), last
	if upper != first {
		up = next(upper, 0)
	}
	for {
		i := min(lo, up)
		if i >= last {
			return -1
		}
		if equal(s[i:i+len(lower)], lower) {
			return i
		}
		if i == lo {
			lo = next(first, i+1)
		} else {
			up = next(upper, i+1)
		}
	}
}

// equal reports whether s is lower in any ASCII case.
func equal(s, lower []byte) bool {
	for i, c := range s {
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		if c != lower[i] {
			return false
		}
	}
	return true
}
