package ports

import (
	"context"

	"github.com/blastlog/blastlog/core/diagnose"
	"github.com/blastlog/blastlog/core/target"
)

// PriceBook says what nodes cost by the hour (docs/api.md §13): a fixed list (the
// BLASTLOG_PRICES file) or a public price list read and cached (azure).
type PriceBook interface {
	// Prices returns the USD per hour of those of nodes' kinds it knows, keyed by
	// diagnose.PriceKey; a kind it does not know is left out (unpriced). An error
	// means the book could not be read now: the caller shows node-hours only.
	Prices(ctx context.Context, nodes []target.Node) (diagnose.Prices, error)
}
