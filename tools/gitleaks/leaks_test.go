// Package gitleaks runs gitleaks' detector (its default rules) over what blastlog
// stores of the secret corpus (core/sanitize/sanitizetest): every shape in every
// context, each line through the sanitiser as a publisher or collector stores it.
package gitleaks

import (
	"testing"

	"github.com/zricethezav/gitleaks/v8/detect"

	"github.com/blastlog/blastlog/core/sanitize"
	"github.com/blastlog/blastlog/core/sanitize/sanitizetest"
)

// Nothing gitleaks finds in the corpus survives the sanitiser. The test also says how
// much of the corpus gitleaks itself recognises, so that a corpus it no longer knows
// is noticed (the cross-check would then prove nothing).
func TestNothingGitleaksFindsSurvives(t *testing.T) {
	d, err := detect.NewDetectorDefaultConfig()
	if err != nil {
		t.Fatal(err)
	}
	cases := sanitizetest.Cases()
	found, survived := 0, 0
	for _, c := range cases {
		if len(d.DetectString(c.Line)) > 0 {
			found++
		}
		var st sanitize.Stream
		stored := st.Line(c.Line)
		for _, f := range d.DetectString(stored) {
			survived++
			t.Errorf("%s / %s: gitleaks rule %s finds %q in what blastlog stored: %q", c.Shape.Name, c.Context, f.RuleID, f.Secret, stored)
		}
	}
	t.Logf("gitleaks finds a secret in %d of %d corpus lines as written, in %d after blastlog's sanitiser", found, len(cases), survived)
	if found < len(cases)/3 {
		t.Fatalf("gitleaks recognises only %d of %d corpus lines: the cross-check says little", found, len(cases))
	}
}

// BenchmarkGitleaksLine is gitleaks' detector on one plain log line: why it is a
// cross-check in tests and not a second pass in the publisher (compare BenchmarkLine
// of core/sanitize, about a microsecond).
func BenchmarkGitleaksLine(b *testing.B) {
	d, err := detect.NewDetectorDefaultConfig()
	if err != nil {
		b.Fatal(err)
	}
	line := "2026-06-01T02:03:05.234567Z INFO: Splitting queries into batches for blastn against core_nt shard 07 (ok)"
	for b.Loop() {
		d.DetectString(line)
	}
}
