package fsdir

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"syscall"

	"github.com/blastlog/blastlog/adapters/archive"
	"github.com/blastlog/blastlog/core/chunk"
	"github.com/blastlog/blastlog/core/job"
	"github.com/blastlog/blastlog/ports"
)

// Dir is an archive rooted at a directory.
type Dir struct {
	root string
}

var (
	_ ports.Archive      = (*Dir)(nil)
	_ ports.ArchiveIndex = (*Dir)(nil)
)

// New opens (creating, mode 0700) the archive directory.
func New(root string) (*Dir, error) {
	if root == "" {
		return nil, errors.New("archive directory: no path given")
	}
	if err := os.MkdirAll(root, 0o700); err != nil {
		return nil, fmt.Errorf("archive directory: %w", err)
	}
	abs, err := filepath.Abs(root)
	if err != nil {
		return nil, fmt.Errorf("archive directory: %w", err)
	}
	return &Dir{root: abs}, nil
}

// Root is the directory.
func (d *Dir) Root() string { return d.root }

func (d *Dir) path(name string) string { return filepath.Join(d.root, filepath.FromSlash(name)) }

// failure maps a file-system error to the port's.
func failure(what string, err error) error {
	if errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("%s: %w", what, ports.ErrNotFound)
	}
	return fmt.Errorf("%s: %w: %w", what, ports.ErrUnavailable, err)
}

// PutChunk implements ports.Archive.
func (d *Dir) PutChunk(_ context.Context, c chunk.Chunk) error {
	name := chunk.Name(c.JobID, c.Step, c.Sequence)
	if err := d.create(name, c.Encode()); err != nil {
		return fmt.Errorf("chunk %s: %w", name, err)
	}
	return nil
}

// create writes data under name unless it exists: a synced temporary file, then
// link(2), which fails with EEXIST rather than replace anything.
func (d *Dir) create(name string, data []byte) error {
	p := d.path(name)
	dir := filepath.Dir(p)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return failure("mkdir", err)
	}
	tmp, err := writeTemp(dir, data)
	if err != nil {
		return err
	}
	defer os.Remove(tmp)
	if err := os.Link(tmp, p); err != nil {
		if errors.Is(err, fs.ErrExist) {
			return ports.ErrExists
		}
		return failure("link", err)
	}
	return syncDir(dir)
}

func writeTemp(dir string, data []byte) (string, error) {
	f, err := os.CreateTemp(dir, ".tmp-*")
	if err != nil {
		return "", failure("create", err)
	}
	_, err = f.Write(data)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		os.Remove(f.Name())
		return "", failure("write", err)
	}
	return f.Name(), nil
}

func syncDir(dir string) error {
	f, err := os.Open(dir)
	if err != nil {
		return failure("sync dir", err)
	}
	defer f.Close()
	if err := f.Sync(); err != nil {
		return failure("sync dir", err)
	}
	return nil
}

// Chunk implements ports.Archive.
func (d *Dir) Chunk(_ context.Context, jobID, step string, seq int) ([]byte, error) {
	name := chunk.Name(jobID, step, seq)
	b, err := os.ReadFile(d.path(name))
	if err != nil {
		return nil, failure("chunk "+name, err)
	}
	return b, nil
}

// Chunks implements ports.Archive.
func (d *Dir) Chunks(_ context.Context, jobID string) (map[string][]chunk.Ref, error) {
	base := d.path(chunk.LogsDir(jobID))
	steps, err := os.ReadDir(base)
	out := map[string][]chunk.Ref{}
	if errors.Is(err, fs.ErrNotExist) {
		return out, nil
	}
	if err != nil {
		return nil, failure("list "+base, err)
	}
	for _, s := range steps {
		if !s.IsDir() {
			continue
		}
		files, err := os.ReadDir(filepath.Join(base, s.Name()))
		if err != nil {
			return nil, failure("list "+s.Name(), err)
		}
		for _, f := range files {
			if step, seq, ok := chunk.ParseName(s.Name() + "/" + f.Name()); ok {
				out[step] = append(out[step], chunk.Ref{Seq: seq})
			}
		}
	}
	return out, nil
}

func version(b []byte) string {
	h := sha256.Sum256(b)
	return hex.EncodeToString(h[:12])
}

// Index implements ports.ArchiveIndex; the version is a hash of the file's bytes.
func (d *Dir) Index(_ context.Context, jobID string) (chunk.Index, string, error) {
	name := chunk.IndexName(jobID)
	b, err := os.ReadFile(d.path(name))
	if err != nil {
		return chunk.Index{}, "", failure("index "+name, err)
	}
	idx, err := chunk.DecodeIndex(b)
	if err != nil {
		return chunk.Index{}, "", fmt.Errorf("index %s: %w: %w", name, ports.ErrUnavailable, err)
	}
	return idx, version(b), nil
}

// PutIndex implements ports.ArchiveIndex: under an exclusive flock(2) of the run's
// lock file, the current version is compared and the new index renamed into place.
func (d *Dir) PutIndex(_ context.Context, idx chunk.Index, ver string) (string, error) {
	name := chunk.IndexName(idx.JobID)
	p := d.path(name)
	dir := filepath.Dir(p)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return "", failure("mkdir", err)
	}
	lock, err := os.OpenFile(filepath.Join(dir, ".index.lock"), os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		return "", failure("lock", err)
	}
	defer lock.Close()
	if err := syscall.Flock(int(lock.Fd()), syscall.LOCK_EX); err != nil {
		return "", failure("lock", err)
	}
	cur, err := os.ReadFile(p)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		if ver != "" {
			return "", fmt.Errorf("index %s: %w", name, ports.ErrConflict)
		}
	case err != nil:
		return "", failure("index "+name, err)
	case version(cur) != ver:
		return "", fmt.Errorf("index %s: %w", name, ports.ErrConflict)
	}
	data := idx.Encode()
	tmp, err := writeTemp(dir, data)
	if err != nil {
		return "", err
	}
	if err := os.Rename(tmp, p); err != nil {
		os.Remove(tmp)
		return "", failure("rename", err)
	}
	if err := syncDir(dir); err != nil {
		return "", err
	}
	if err := d.putOwner(idx); err != nil {
		return "", err
	}
	return version(data), nil
}

// ownerRecord is the small per-owner file of a run.
type ownerRecord struct {
	JobID  string       `json:"job_id"`
	Record chunk.Record `json:"record"`
}

func ownerName(oid, jobID string) string {
	return archive.OwnersDir + job.SafeID(oid) + "/" + chunk.RunDir(jobID) + ".json"
}

func (d *Dir) putOwner(idx chunk.Index) error {
	if idx.Record.OwnerOID == "" {
		return nil
	}
	b, _ := json.Marshal(ownerRecord{JobID: idx.JobID, Record: idx.Record})
	p := d.path(ownerName(idx.Record.OwnerOID, idx.JobID))
	if cur, err := os.ReadFile(p); err == nil && bytes.Equal(cur, b) {
		return nil
	}
	dir := filepath.Dir(p)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return failure("mkdir", err)
	}
	tmp, err := writeTemp(dir, b)
	if err != nil {
		return err
	}
	if err := os.Rename(tmp, p); err != nil {
		os.Remove(tmp)
		return failure("rename", err)
	}
	return nil
}

// OwnerRuns implements ports.ArchiveIndex.
func (d *Dir) OwnerRuns(_ context.Context, ownerOID string, limit int) ([]job.Record, error) {
	if ownerOID == "" {
		return nil, nil
	}
	dir := d.path(archive.OwnersDir + job.SafeID(ownerOID))
	files, err := os.ReadDir(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, failure("list "+dir, err)
	}
	var out []job.Record
	for _, f := range files {
		if !strings.HasSuffix(f.Name(), ".json") {
			continue
		}
		b, err := os.ReadFile(filepath.Join(dir, f.Name()))
		if err != nil {
			continue
		}
		var or ownerRecord
		if json.Unmarshal(b, &or) == nil && or.Record.OwnerOID == ownerOID {
			out = append(out, or.Record.Job(or.JobID))
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].CreatedAt.After(out[j].CreatedAt) })
	return out[:min(len(out), limit)], nil
}
