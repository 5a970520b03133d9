package wiring

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/blastlog/blastlog/adapters/archive/azblob"
	"github.com/blastlog/blastlog/adapters/archive/fsdir"
	"github.com/blastlog/blastlog/adapters/azure"
	"github.com/blastlog/blastlog/functions/internal/envconf"
	"github.com/blastlog/blastlog/ports"
)

// ArchiveStore is the configured archive, both ports of one backend; both nil when
// BLASTLOG_ARCHIVE=off.
type ArchiveStore struct {
	Archive ports.Archive
	Index   ports.ArchiveIndex
}

// OpenArchive opens the archive backend of a (creating the directory, or the Blob
// container when the identity may).
func OpenArchive(a envconf.Archive, log *slog.Logger) (ArchiveStore, error) {
	switch a.Mode {
	case "dir":
		d, err := fsdir.New(a.Dir)
		if err != nil {
			return ArchiveStore{}, fmt.Errorf("BLASTLOG_ARCHIVE_DIR: %w", err)
		}
		return ArchiveStore{d, d}, nil
	case "azblob":
		var s *azblob.Store
		var err error
		if a.ConnectionString != "" {
			s, err = azblob.NewFromConnectionString(a.ConnectionString, a.Container)
		} else {
			cred, cerr := azure.Credential(a.Credential)
			if cerr != nil {
				return ArchiveStore{}, fmt.Errorf("BLASTLOG_ARCHIVE=azblob: %w", cerr)
			}
			s, err = azblob.New(a.URL, cred)
		}
		if err != nil {
			return ArchiveStore{}, err
		}
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := s.EnsureContainer(ctx); err != nil {
			// Blob Storage down at start must not stop the logs: the archiver retries,
			// and a write that finds no container creates it.
			log.Warn("archive: Blob Storage did not answer at start; writes are retried", "error", err)
		}
		return ArchiveStore{s, s}, nil
	}
	return ArchiveStore{}, nil
}
