package azblob_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/blastlog/blastlog/adapters/archive/azblob"
	"github.com/blastlog/blastlog/adapters/archive/azblob/azuritetest"
	"github.com/blastlog/blastlog/ports"
	"github.com/blastlog/blastlog/ports/portstest"
)

func TestConformanceAgainstAzurite(t *testing.T) {
	az := azuritetest.Start(t)
	var n atomic.Int32
	portstest.TestArchive(t, func(t *testing.T) portstest.ArchiveStore {
		s, err := azblob.NewFromConnectionString(az.ConnectionString(), fmt.Sprintf("conformance-%d", n.Add(1)))
		if err != nil {
			t.Fatal(err)
		}
		if err := s.EnsureContainer(context.Background()); err != nil {
			t.Fatal(err)
		}
		return s
	})
}

// An outage is ErrUnavailable, and the store works again once Azurite is back.
func TestOutageIsUnavailable(t *testing.T) {
	az := azuritetest.Start(t)
	s, err := azblob.NewFromConnectionString(az.ConnectionString(), "")
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if err := s.EnsureContainer(ctx); err != nil {
		t.Fatal(err)
	}
	az.Stop()
	if err := s.PutChunk(ctx, portstest.Chunk("r", "running", 0, 1, 1)); !errors.Is(err, ports.ErrUnavailable) {
		t.Fatalf("while down: %v", err)
	}
	az.Restart(t)
	if err := s.PutChunk(ctx, portstest.Chunk("r", "running", 0, 1, 1)); err != nil {
		t.Fatalf("after restart: %v", err)
	}
}

func TestBadConfigurationSaysWhatAndHidesTheKey(t *testing.T) {
	_, err := azblob.NewFromConnectionString("AccountKey=secret-key-value;nonsense", "")
	if err == nil || strings.Contains(err.Error(), "secret-key-value") {
		t.Fatalf("error %v", err)
	}
	for _, u := range []string{"ftp://x/c", "https://acct.blob.core.windows.net/", "https://acct.blob.core.windows.net/a/b"} {
		if _, err := azblob.New(u, nil); err == nil {
			t.Errorf("%s accepted", u)
		}
	}
}
