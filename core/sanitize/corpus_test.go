package sanitize

import (
	"strings"
	"testing"

	"github.com/blastlog/blastlog/core/sanitize/sanitizetest"
)

// Every known secret shape in every context is masked: no encoding of its value comes
// out of Line.
func TestSecretCorpus(t *testing.T) {
	failed := 0
	cases := sanitizetest.Cases()
	for _, c := range cases {
		var st Stream
		if out := st.Line(c.Line); c.Leaked(out) != "" {
			failed++
			t.Errorf("%s / %s: %q\n  came out as %q", c.Shape.Name, c.Context, c.Line, out)
		}
	}
	if failed > 0 {
		t.Logf("%d of %d cases leaked", failed, len(cases))
	}
}

// Plain BLAST output in every context comes out as it went in: sequences, paths, hit
// tables, -outfmt strings, ids.
func TestBLASTOutputIsUntouchedInEveryContext(t *testing.T) {
	lines := []string{
		"blastn -db core_nt -query /blast/queries/batch_007.fa -outfmt \"6 qseqid sseqid pident length evalue bitscore\" -num_threads 15",
		"Query_42\tgi|1234567|ref|NC_000913.3|\t99.10\t1543\t0.0\t2850",
		"TTGACAGTTAGCGATCGATCGGGATTACACGATTAGCTAGCATCGATCGACTAGCTAGGCGATCGAT",
		">XM_017290417.2 PREDICTED: Drosophila busckii uncharacterized protein LOC108601124",
		"job-429825360482416da20736cf3ed51a95 batch_013 exit code 0",
		"Selected BLAST database: core_nt (size 251.3 GiB, 144 shards)",
	}
	for _, l := range lines {
		for _, cx := range sanitizetest.Contexts {
			in := cx.Wrap(l)
			want := in
			if cx.Name == "carriage-return" {
				want = strings.ReplaceAll(in, "\r", " ")
			}
			if out := Line(in); out != want {
				t.Errorf("%s: %q\n  came out as %q", cx.Name, in, out)
			}
		}
	}
}
