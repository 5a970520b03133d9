package sanitize

import "testing"

var sink string

func BenchmarkLine(b *testing.B) {
	for _, c := range []struct{ name, line string }{
		{"plain120", "2026-06-01T02:03:05.234567Z INFO: Splitting queries into batches for blastn against core_nt shard 07 (ok)"},
		{"ansi", "\x1b[33m[1/5] Writing configuration to https://stgelb.blob.core.windows.net/results/v2/A1-fulldb/metadata/x.json\x1b[0m"},
		{"secrets", "curl -H 'Authorization: Bearer " + jwt + "' https://stgelb.blob.core.windows.net/c/b?sv=2022&sig=AbC%2Bdef password=hunter2"},
		{"fasta", "ACGTTGCAACGTAGCTAGCTAGGATCCGATCGATCGTAGCTAGCTAGCTAGCATCGATCGATACGTTGCAACGTAGCTAGCTAGGATCCGATCGATCGTAGCTAGCTAGCT"},
	} {
		b.Run(c.name, func(b *testing.B) {
			b.SetBytes(int64(len(c.line)))
			b.ReportAllocs()
			for b.Loop() {
				sink = Line(c.line)
			}
		})
	}
}
