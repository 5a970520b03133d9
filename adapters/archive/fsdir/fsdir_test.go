package fsdir_test

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/blastlog/blastlog/adapters/archive/fsdir"
	"github.com/blastlog/blastlog/ports/portstest"
)

func TestConformance(t *testing.T) {
	portstest.TestArchive(t, func(t *testing.T) portstest.ArchiveStore {
		d, err := fsdir.New(filepath.Join(t.TempDir(), "archive"))
		if err != nil {
			t.Fatal(err)
		}
		return d
	})
}

// The layout is the seed system's, and nothing is readable by others.
func TestLayoutAndModes(t *testing.T) {
	root := filepath.Join(t.TempDir(), "archive")
	d, err := fsdir.New(root)
	if err != nil {
		t.Fatal(err)
	}
	if err := d.PutChunk(t.Context(), portstest.Chunk("run 42", "staging_db", 3, 2, 10)); err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(root, "run_42", "execution-steps", "logs", "staging_db", "000003.json")
	st, err := os.Stat(p)
	if err != nil {
		t.Fatal(err)
	}
	if st.Mode().Perm()&0o077 != 0 {
		t.Errorf("chunk mode %v", st.Mode())
	}
	if st, _ := os.Stat(root); st.Mode().Perm() != 0o700 {
		t.Errorf("root mode %v", st.Mode())
	}
	left, _ := filepath.Glob(filepath.Join(filepath.Dir(p), ".tmp-*"))
	if len(left) != 0 {
		t.Errorf("temporary files left: %v", left)
	}
}
