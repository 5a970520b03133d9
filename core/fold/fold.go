package fold

import (
	"bytes"
	"sync"
	"unsafe"
)

// Index is the index of the first place s holds lower (lower-case ASCII) in any ASCII
// case, or -1. Only ASCII letters fold: a multi-byte rune never matches an ASCII byte.
func Index(s, lower string) int {
	return IndexBytes(unsafe.Slice(unsafe.StringData(s), len(s)), unsafe.Slice(unsafe.StringData(lower), len(lower)))
}

// IndexBytes is Index of byte slices. It jumps between the places where lower's first
// byte stands, in either case, each found with bytes.IndexByte and found again only
// once passed. Text built to defeat that (a long near-match at every place: "aaa…ac"
// in "aaaa…") is caught by a budget of bytes compared — twice the text's length — past
// which the rest is lowered into a copy and searched with bytes.Index (Rabin-Karp for
// long patterns): linear in the text whatever the query.
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
	budget := 2*len(s) + 64
	for {
		i := min(lo, up)
		if i >= last {
			return -1
		}
		n := prefix(s[i:i+len(lower)], lower)
		if n == len(lower) {
			return i
		}
		if budget -= n + 1; budget < 0 {
			return indexLowered(s, lower, i)
		}
		if i == lo {
			lo = next(first, i+1)
		} else {
			up = next(upper, i+1)
		}
	}
}

// prefix is how many bytes of s are lower's in any ASCII case, from the start.
func prefix(s, lower []byte) int {
	for i, c := range s {
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		if c != lower[i] {
			return i
		}
	}
	return len(s)
}

// lowered holds the copies indexLowered searches (one per goroutine at a time).
var lowered = sync.Pool{New: func() any { return new([]byte) }}

// indexLowered is IndexBytes from i on, over a lowered copy of s.
func indexLowered(s, lower []byte, from int) int {
	bp := lowered.Get().(*[]byte)
	defer lowered.Put(bp)
	buf := append((*bp)[:0], s[from:]...)
	for j, c := range buf {
		if 'A' <= c && c <= 'Z' {
			buf[j] = c + 'a' - 'A'
		}
	}
	*bp = buf[:0]
	if j := bytes.Index(buf, lower); j >= 0 {
		return from + j
	}
	return -1
}
