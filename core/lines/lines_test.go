package lines

import (
	"bytes"
	"fmt"
	"reflect"
	"strings"
	"testing"
)

func split(chunks ...string) []string {
	var got []string
	s := Splitter{MaxBytes: 8, Emit: func(l []byte, tr bool) {
		got = append(got, fmt.Sprintf("%s%s", l, map[bool]string{true: "+"}[tr]))
	}}
	for _, c := range chunks {
		s.Write([]byte(c))
	}
	s.Flush()
	return got
}

func TestSplit(t *testing.T) {
	cases := []struct {
		chunks []string
		want   []string
	}{
		{[]string{"a\nb\n"}, []string{"a", "b"}},
		{[]string{"50%\r100%\n"}, []string{"50%", "100%"}},
		{[]string{"a\r\nb\r\n"}, []string{"a", "b"}},
		{[]string{"a\r", "\nb"}, []string{"a", "b"}},         // CRLF split across writes
		{[]string{"a\n\nb"}, []string{"a", "", "b"}},         // blank lines are kept
		{[]string{"\r10%\r20%\r\n"}, []string{"10%", "20%"}}, // leading CR of a progress bar
		{[]string{"a\r\r\nb"}, []string{"a", "b"}},           // CR then CRLF: the empty CR line is dropped
		{[]string{"par", "tial"}, []string{"partial"}},       // no break at EOF
		{[]string{"0123456789ab\nz\n"}, []string{"01234567+", "z"}},
		{[]string{"0123", "4567", "89\n"}, []string{"01234567+"}},
		{[]string{"\n"}, []string{""}},
		{nil, nil},
	}
	for _, c := range cases {
		if got := split(c.chunks...); !reflect.DeepEqual(got, c.want) {
			t.Errorf("%q: got %q want %q", c.chunks, got, c.want)
		}
	}
}

func TestMemoryBoundedOnEndlessLine(t *testing.T) {
	var n int
	s := Splitter{Emit: func(l []byte, tr bool) {
		n++
		if len(l) != DefaultMaxBytes || !tr {
			t.Fatalf("len %d truncated %v", len(l), tr)
		}
	}}
	chunk := bytes.Repeat([]byte("x"), 32<<10)
	for i := 0; i < 64; i++ { // 2 MiB without a break
		s.Write(chunk)
	}
	if cap(s.buf) > 2*DefaultMaxBytes {
		t.Fatalf("buffer grew to %d", cap(s.buf))
	}
	s.Flush()
	if n != 1 {
		t.Fatalf("%d lines", n)
	}
}

func FuzzSplitter(f *testing.F) {
	f.Add("a\r\nb\rc\n", 3)
	f.Fuzz(func(t *testing.T, in string, cut int) {
		var got []string
		s := Splitter{MaxBytes: 1 << 20, Emit: func(l []byte, _ bool) { got = append(got, string(l)) }}
		if cut < 0 || cut > len(in) {
			cut = len(in) / 2
		}
		s.Write([]byte(in[:cut]))
		s.Write([]byte(in[cut:]))
		s.Flush()
		var whole []string
		w := Splitter{MaxBytes: 1 << 20, Emit: func(l []byte, _ bool) { whole = append(whole, string(l)) }}
		w.Write([]byte(in))
		w.Flush()
		if !reflect.DeepEqual(got, whole) {
			t.Fatalf("chunking changed the lines: %q vs %q", got, whole)
		}
		for _, l := range got {
			if strings.ContainsAny(l, "\r\n") {
				t.Fatalf("line with a break: %q", l)
			}
		}
		if strings.Join(got, "") != strings.NewReplacer("\r", "", "\n", "").Replace(in) {
			t.Fatalf("bytes lost or added")
		}
	})
}
