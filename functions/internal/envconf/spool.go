package envconf

import (
	"errors"
	"path/filepath"
	"time"

	"github.com/blastlog/blastlog/adapters/spool"
)

// Spool is the publisher's spool (docs/api.md §4).
type Spool struct {
	Dir          string        // BLASTLOG_SPOOL_DIR: $XDG_CACHE_HOME/blastlog/spool
	Max          int64         // BLASTLOG_SPOOL_MAX: 256MiB per machine
	FlushTimeout time.Duration // BLASTLOG_FLUSH_TIMEOUT: 30s
}

// LoadSpool reads the spool's variables.
func LoadSpool(g Getenv) (Spool, error) {
	var s Spool
	var err error
	if s.Max, err = g.Bytes("BLASTLOG_SPOOL_MAX", spool.DefaultMax, 0, 1<<40); err != nil {
		return s, err
	}
	if s.FlushTimeout, err = g.Duration("BLASTLOG_FLUSH_TIMEOUT", 30*time.Second, 0, 24*time.Hour); err != nil {
		return s, err
	}
	if s.Dir = g("BLASTLOG_SPOOL_DIR"); s.Dir != "" {
		return s, nil
	}
	cache := g("XDG_CACHE_HOME")
	if cache == "" {
		if home := g("HOME"); home != "" {
			cache = filepath.Join(home, ".cache")
		}
	}
	if !filepath.IsAbs(cache) {
		return s, errors.New("BLASTLOG_SPOOL_DIR is unset and there is no cache directory (XDG_CACHE_HOME or HOME) to put the spool in")
	}
	s.Dir = filepath.Join(cache, "blastlog", "spool")
	return s, nil
}
