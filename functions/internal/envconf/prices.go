package envconf

import (
	"fmt"
	"net/http"
	"net/url"
	"os"
	"time"

	"github.com/blastlog/blastlog/adapters/prices"
	"github.com/blastlog/blastlog/ports"
)

// MaxPricesFile bounds the prices file read at start.
const MaxPricesFile = 1 << 20

// LoadPrices reads BLASTLOG_PRICES: the path of a JSON file of USD per hour by instance
// type (a spot price under "<type>/spot": {"Standard_E32s_v3": 2.016,
// "Standard_E32s_v3/spot": 0.40}), or azure for the Azure Retail Prices API at
// BLASTLOG_PRICES_URL. Unset: fallback (the -dev stack's example; nil: no prices,
// node-hours only).
func LoadPrices(g Getenv, fallback []byte) (ports.PriceBook, error) {
	path := g("BLASTLOG_PRICES")
	raw := fallback
	switch path {
	case "":
		if raw == nil {
			return nil, nil
		}
	case "azure":
		u, err := url.Parse(g.String("BLASTLOG_PRICES_URL", prices.DefaultAzureURL))
		if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" || u.User != nil {
			return nil, fmt.Errorf("BLASTLOG_PRICES_URL: not an http(s) URL without credentials")
		}
		return &prices.Azure{URL: u.String(), Client: &http.Client{Timeout: 20 * time.Second}}, nil
	default:
		st, err := os.Stat(path)
		if err != nil {
			return nil, fmt.Errorf("BLASTLOG_PRICES: %w", err)
		}
		if st.Size() > MaxPricesFile {
			return nil, fmt.Errorf("BLASTLOG_PRICES: %s is over %d bytes", path, MaxPricesFile)
		}
		if raw, err = os.ReadFile(path); err != nil {
			return nil, fmt.Errorf("BLASTLOG_PRICES: %w", err)
		}
	}
	f, err := prices.ParseFile(raw)
	if err != nil {
		return nil, fmt.Errorf("BLASTLOG_PRICES: %w", err)
	}
	return f, nil
}
