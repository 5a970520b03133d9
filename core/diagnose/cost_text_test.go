package diagnose

import "testing"

// A run's cost line is made once, here, for the page and the terminal client alike.
func TestCostText(t *testing.T) {
	f := func(v float64) *float64 { return &v }
	for _, c := range []struct {
		cost Cost
		want string
	}{
		{Cost{NodeHours: 12.4, USD: f(25), USDPerHourNow: f(8.06), ProjectedUSD: f(31.2)}, "12.4 node-hours · $25.00 · $8.06/h now · ≈ $31.20 at the end"},
		{Cost{NodeHours: 1, USD: f(2.02), USDPerHourNow: f(0), ProjectedUSD: f(2.02)}, "1.0 node-hours · $2.02"},
		{Cost{NodeHours: 0.0456, USD: f(0.09), USDPerHourNow: f(8.06), ProjectedUSD: f(0.09)}, "0.05 node-hours · $0.09 · $8.06/h now"},
		{Cost{NodeHours: 0.25}, "0.25 node-hours"},
		{Cost{NodeHours: 0}, "0.00 node-hours"},
	} {
		if got := c.cost.text(); got != c.want {
			t.Errorf("%+v: %q, want %q", c.cost, got, c.want)
		}
	}
}
