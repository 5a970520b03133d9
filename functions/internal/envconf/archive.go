package envconf

import (
	"errors"
	"net/url"
	"time"

	"github.com/blastlog/blastlog/core/chunk"
)

// Archive is the durable archive's configuration (docs/api.md §6 and §7), the same for
// the streaming container (which writes it) and the ticket function (which reads run
// records from it).
type Archive struct {
	Mode      string // off, dir, azblob
	Dir       string // dir: the directory
	URL       string // azblob: https://<account>.blob.core.windows.net/<container>
	Container string // azblob with a connection string
	// ConnectionString (azblob, Azurite or shared key) is a secret: never logged.
	ConnectionString string
	Credential       string // azblob with URL: the azidentity credential
	ChunkEvents      int
	Flush            time.Duration
	// HardMax caps a run's stream while the archive lags (BLASTLOG_STREAM_HARDMAX).
	HardMax int64
}

// DefaultHardMax is BLASTLOG_STREAM_HARDMAX's default.
const DefaultHardMax = 1_000_000

// On reports whether an archive is configured.
func (a Archive) On() bool { return a.Mode != "" && a.Mode != "off" }

// LoadArchive reads BLASTLOG_ARCHIVE and its variables; def is the mode when unset
// ("dir" in -dev, whose directory the caller then supplies).
func LoadArchive(g Getenv, def string) (Archive, error) {
	var a Archive
	var err error
	if a.Mode, err = g.OneOf("BLASTLOG_ARCHIVE", def, "off", "dir", "azblob"); err != nil {
		return a, err
	}
	n, err := g.Int("BLASTLOG_ARCHIVE_CHUNK", chunk.DefaultEvents, 1, chunk.MaxEvents)
	if err != nil {
		return a, err
	}
	a.ChunkEvents = int(n)
	if a.Flush, err = g.Duration("BLASTLOG_ARCHIVE_FLUSH", 5*time.Second, 100*time.Millisecond, 10*time.Minute); err != nil {
		return a, err
	}
	if a.HardMax, err = g.Int("BLASTLOG_STREAM_HARDMAX", DefaultHardMax, 1000, 100_000_000); err != nil {
		return a, err
	}
	a.Dir = g("BLASTLOG_ARCHIVE_DIR")
	a.URL = g("BLASTLOG_ARCHIVE_URL")
	a.ConnectionString = g("BLASTLOG_ARCHIVE_CONNECTION_STRING")
	a.Container = g.String("BLASTLOG_ARCHIVE_CONTAINER", "job-artifacts")
	if a.Credential, err = g.OneOf("BLASTLOG_AZURE_CREDENTIAL", "default", "default", "workload", "managed", "cli"); err != nil {
		return a, err
	}
	switch a.Mode {
	case "dir":
		if a.Dir == "" && def != "dir" {
			return a, errors.New("BLASTLOG_ARCHIVE=dir needs BLASTLOG_ARCHIVE_DIR (a directory; it is created with mode 0700)")
		}
	case "azblob":
		switch {
		case a.URL != "" && a.ConnectionString != "":
			return a, errors.New("BLASTLOG_ARCHIVE=azblob: set BLASTLOG_ARCHIVE_URL or BLASTLOG_ARCHIVE_CONNECTION_STRING, not both")
		case a.URL == "" && a.ConnectionString == "":
			return a, errors.New("BLASTLOG_ARCHIVE=azblob needs BLASTLOG_ARCHIVE_URL (https://<account>.blob.core.windows.net/<container>) or BLASTLOG_ARCHIVE_CONNECTION_STRING")
		case a.URL != "":
			if u, err := url.Parse(a.URL); err != nil || u.Scheme != "https" || u.Host == "" || len(u.Path) < 2 {
				// The value is not echoed: a URL may carry a SAS token.
				return a, errors.New("BLASTLOG_ARCHIVE_URL: want https://<account>.blob.core.windows.net/<container>")
			}
		}
	}
	return a, nil
}
