package portstest

import (
	"testing"

	"github.com/blastlog/blastlog/ports"
)

func TestMemorySpools(t *testing.T) {
	TestSpools(t, func(t *testing.T, max int64) func() ports.Spools {
		m := &Spools{Max: max}
		return func() ports.Spools { return m }
	})
}
