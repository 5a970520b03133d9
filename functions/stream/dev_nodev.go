//go:build nodev

package main

import (
	"errors"

	"go.uber.org/fx"

	"github.com/blastlog/blastlog/adapters/redisstore"
)

// devPrices: the -dev stack's example prices are the demo's, not in this build.
var devPrices []byte

// devRedis: a production image is built with -tags nodev, without the embedded dev
// stack (miniredis, kubesim, the demo run), which `go tool task dev` runs instead.
func devRedis(redisstore.Config) fx.Option {
	return fx.Error(errors.New("-dev is not in this build (built with -tags nodev): run `go tool task dev` from a checkout"))
}
