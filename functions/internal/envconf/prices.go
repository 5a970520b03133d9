package envconf

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"os"

	"github.com/blastlog/blastlog/core/diagnose"
)

// MaxPricesFile bounds the prices file read at start.
const MaxPricesFile = 1 << 20

// LoadPrices reads BLASTLOG_PRICES, a JSON file of USD per hour by instance type, a
// spot price under "<type>/spot": {"Standard_E32s_v3": 2.016, "Standard_E32s_v3/spot":
// 0.40}. Unset: fallback (the -dev stack's example; nil: node-hours only).
func LoadPrices(g Getenv, fallback []byte) (diagnose.Prices, error) {
	path := g("BLASTLOG_PRICES")
	raw := fallback
	switch path {
	case "":
		if raw == nil {
			return diagnose.Prices{}, nil
		}
	case "azure":
		return diagnose.Prices{}, errors.New("BLASTLOG_PRICES=azure (the Azure Retail Prices API) is not supported yet: give the path of a JSON file of USD per hour by instance type")
	default:
		st, err := os.Stat(path)
		if err != nil {
			return diagnose.Prices{}, fmt.Errorf("BLASTLOG_PRICES: %w", err)
		}
		if st.Size() > MaxPricesFile {
			return diagnose.Prices{}, fmt.Errorf("BLASTLOG_PRICES: %s is over %d bytes", path, MaxPricesFile)
		}
		if raw, err = os.ReadFile(path); err != nil {
			return diagnose.Prices{}, fmt.Errorf("BLASTLOG_PRICES: %w", err)
		}
	}
	var usd map[string]float64
	if err := json.Unmarshal(raw, &usd); err != nil {
		return diagnose.Prices{}, fmt.Errorf("BLASTLOG_PRICES: not a JSON object of USD per hour by instance type: %w", err)
	}
	for k, v := range usd {
		if k == "" || v < 0 || math.IsInf(v, 0) || math.IsNaN(v) {
			return diagnose.Prices{}, fmt.Errorf("BLASTLOG_PRICES: %q: a price is a non-negative number of USD per hour", k)
		}
	}
	return diagnose.Prices{USD: usd, Source: "file"}, nil
}
