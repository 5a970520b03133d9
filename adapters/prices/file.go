package prices

import (
	"context"
	"encoding/json"
	"fmt"
	"math"

	"github.com/blastlog/blastlog/core/diagnose"
	"github.com/blastlog/blastlog/core/target"
	"github.com/blastlog/blastlog/ports"
)

// File is a fixed price list: USD per hour by instance type, a spot price under
// "<type>/spot" ({"Standard_E32s_v3": 2.016, "Standard_E32s_v3/spot": 0.40}). The
// same price holds in every region.
type File struct{ usd map[string]float64 }

var _ ports.PriceBook = (*File)(nil)

// ParseFile reads a price list's JSON.
func ParseFile(raw []byte) (*File, error) {
	var usd map[string]float64
	if err := json.Unmarshal(raw, &usd); err != nil {
		return nil, fmt.Errorf("not a JSON object of USD per hour by instance type: %w", err)
	}
	for k, v := range usd {
		if k == "" || v < 0 || math.IsInf(v, 0) || math.IsNaN(v) {
			return nil, fmt.Errorf("%q: a price is a non-negative number of USD per hour", k)
		}
	}
	return &File{usd: usd}, nil
}

// Prices implements ports.PriceBook.
func (f *File) Prices(_ context.Context, nodes []target.Node) (diagnose.Prices, error) {
	out := diagnose.Prices{USD: map[string]float64{}, Source: "file"}
	for _, n := range nodes {
		k := diagnose.PriceKey(n.InstanceType, n.Spot)
		if v, ok := f.usd[k]; ok {
			out.USD[k] = v
		}
	}
	return out, nil
}
