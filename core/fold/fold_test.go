package fold

import (
	"strings"
	"testing"
)

func TestIndex(t *testing.T) {
	for _, c := range []struct {
		s, sub string
		want   int
	}{{"", "", 0}, {"abc", "", 0}, {"", "a", -1}, {"Hello", "hello", 0}, {"xxHELLOxx", "hello", 2},
		{"hellx HeLLo", "hello", 6}, {"hell", "hello", -1}, {"eEeEeE", "ee", 0}, {"EeExit", "exit", 2},
		{"e.e.e.E", "ex", -1}, {"ERROR", "error", 0}, {"ab", "b", 1}, {"a", "b", -1},
		{"exit \u212aode", "exit kode", -1}, {"Exit Code 3", "exit code ", 0}, {"1 WARNING: x", "warning:", 2}} {
		if got := Index(c.s, c.sub); got != c.want {
			t.Errorf("Index(%q, %q) = %d want %d", c.s, c.sub, got, c.want)
		}
	}
}

// Index agrees with lowering both sides and strings.Index, for ASCII text.
func FuzzIndex(f *testing.F) {
	f.Add("Exit Code 3", "exit code ")
	f.Add("eEeEx", "ex")
	f.Fuzz(func(t *testing.T, s, sub string) {
		for _, r := range s + sub {
			if r >= 0x80 {
				return
			}
		}
		lower := strings.ToLower(sub)
		if got, want := Index(s, lower), strings.Index(strings.ToLower(s), lower); got != want {
			t.Fatalf("Index(%q, %q) = %d want %d", s, lower, got, want)
		}
	})
}

func BenchmarkIndex(b *testing.B) {
	line := "Query_700001\tgi|109001|ref|NC_000001.1|\t90.10\t101\t1e-41 elapsed 3 s, exit ok"
	for b.Loop() {
		Index(line, "exit code ")
	}
}

// Adversarial text: every place holds a near-match of a long query. The work stays
// linear in the text (compare ns/op across sizes: a quadratic matcher grows 4 × per
// doubling).
func BenchmarkIndexAdversarial(b *testing.B) {
	for _, c := range []struct{ name, line, q string }{
		{"aaa-c", strings.Repeat("a", 3990) + "b", strings.Repeat("a", 199) + "c"},
		{"aaa-c-8k", strings.Repeat("a", 7990) + "b", strings.Repeat("a", 199) + "c"},
		{"repeated-prefix", strings.Repeat("abcabcabd", 450), "abcabcabcabcabcabcabcabcabc"},
		{"miss", strings.Repeat("a", 3990) + "b", "zzz"},
	} {
		b.Run(c.name, func(b *testing.B) {
			b.SetBytes(int64(len(c.line)))
			for b.Loop() {
				Index(c.line, c.q)
			}
		})
	}
}

// Past the budget the lowered copy finds the same place, at any offset and case.
func TestIndexPastTheBudget(t *testing.T) {
	for _, c := range []struct {
		s, sub string
		want   int
	}{
		{strings.Repeat("A", 4000) + "AC", strings.Repeat("a", 199) + "c", 4001 - 199},
		{strings.Repeat("a", 4000), strings.Repeat("a", 199) + "c", -1},
		{strings.Repeat("aB", 3000) + "abX", "abababababababababx", 6000 - 16},
	} {
		want := strings.Index(strings.ToLower(c.s), c.sub)
		if got := Index(c.s, c.sub); got != want || want != c.want {
			t.Errorf("Index(%.20q…, %.20q…) = %d, strings.Index %d, want %d", c.s, c.sub, got, want, c.want)
		}
	}
}
