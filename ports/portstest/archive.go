package portstest

import (
	"bytes"
	"context"
	"fmt"
	"sort"
	"strconv"
	"sync"

	"github.com/blastlog/blastlog/core/chunk"
	"github.com/blastlog/blastlog/core/job"
	"github.com/blastlog/blastlog/ports"
)

// Archive is an in-memory ports.Archive and ports.ArchiveIndex. Chunks are kept
// encoded, so that what a reader gets is what a real store would give back.
type Archive struct {
	mu      sync.Mutex
	chunks  map[string][]byte
	indexes map[string][]byte
	version map[string]int
	// down_, while true, makes every call fail with ports.ErrUnavailable (SetDown).
	down_ bool
}

var (
	_ ports.Archive      = (*Archive)(nil)
	_ ports.ArchiveIndex = (*Archive)(nil)
)

// NewArchive returns an empty archive.
func NewArchive() *Archive {
	return &Archive{chunks: map[string][]byte{}, indexes: map[string][]byte{}, version: map[string]int{}}
}

func (a *Archive) down() error {
	if a.down_ {
		return fmt.Errorf("archive: %w", ports.ErrUnavailable)
	}
	return nil
}

// PutChunk implements ports.Archive.
func (a *Archive) PutChunk(_ context.Context, c chunk.Chunk) error {
	a.mu.Lock()
	defer a.mu.Unlock()
	if err := a.down(); err != nil {
		return err
	}
	name := chunk.Name(c.JobID, c.Step, c.Sequence)
	if _, ok := a.chunks[name]; ok {
		return fmt.Errorf("%s: %w", name, ports.ErrExists)
	}
	a.chunks[name] = c.Encode()
	return nil
}

// Chunk implements ports.Archive.
func (a *Archive) Chunk(_ context.Context, jobID, step string, seq int) ([]byte, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if err := a.down(); err != nil {
		return nil, err
	}
	name := chunk.Name(jobID, step, seq)
	b, ok := a.chunks[name]
	if !ok {
		return nil, fmt.Errorf("%s: %w", name, ports.ErrNotFound)
	}
	return bytes.Clone(b), nil
}

// Chunks implements ports.Archive.
func (a *Archive) Chunks(_ context.Context, jobID string) (map[string][]chunk.Ref, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if err := a.down(); err != nil {
		return nil, err
	}
	dir := chunk.LogsDir(jobID)
	out := map[string][]chunk.Ref{}
	for name := range a.chunks {
		if len(name) > len(dir) && name[:len(dir)] == dir {
			if step, seq, ok := chunk.ParseName(name[len(dir):]); ok {
				out[step] = append(out[step], chunk.Ref{Seq: seq})
			}
		}
	}
	return out, nil
}

// Index implements ports.ArchiveIndex.
func (a *Archive) Index(_ context.Context, jobID string) (chunk.Index, string, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if err := a.down(); err != nil {
		return chunk.Index{}, "", err
	}
	name := chunk.IndexName(jobID)
	b, ok := a.indexes[name]
	if !ok {
		return chunk.Index{}, "", fmt.Errorf("%s: %w", name, ports.ErrNotFound)
	}
	idx, err := chunk.DecodeIndex(b)
	return idx, strconv.Itoa(a.version[name]), err
}

// PutIndex implements ports.ArchiveIndex.
func (a *Archive) PutIndex(_ context.Context, idx chunk.Index, version string) (string, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if err := a.down(); err != nil {
		return "", err
	}
	name := chunk.IndexName(idx.JobID)
	_, exists := a.indexes[name]
	if (version == "" && exists) || (version != "" && (!exists || version != strconv.Itoa(a.version[name]))) {
		return "", fmt.Errorf("%s: %w", name, ports.ErrConflict)
	}
	a.indexes[name] = idx.Encode()
	a.version[name]++
	return strconv.Itoa(a.version[name]), nil
}

// OwnerRuns implements ports.ArchiveIndex.
func (a *Archive) OwnerRuns(_ context.Context, ownerOID string, limit int) ([]job.Record, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if err := a.down(); err != nil {
		return nil, err
	}
	var out []job.Record
	for _, b := range a.indexes {
		idx, err := chunk.DecodeIndex(b)
		if err == nil && ownerOID != "" && idx.Record.OwnerOID == ownerOID {
			out = append(out, idx.Record.Job(idx.JobID))
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].CreatedAt.After(out[j].CreatedAt) })
	return out[:min(len(out), limit)], nil
}

// SetDown makes the archive fail (true) or answer again (false).
func (a *Archive) SetDown(down bool) {
	a.mu.Lock()
	a.down_ = down
	a.mu.Unlock()
}

// Cursors is an in-memory ports.ArchiveCursors.
type Cursors struct {
	mu sync.Mutex
	m  map[string]chunk.Cursor
}

var _ ports.ArchiveCursors = (*Cursors)(nil)

// NewCursors returns an empty cursor store.
func NewCursors() *Cursors { return &Cursors{m: map[string]chunk.Cursor{}} }

// LoadCursor implements ports.ArchiveCursors.
func (c *Cursors) LoadCursor(_ context.Context, jobID string) (chunk.Cursor, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.m[jobID], nil
}

// SaveCursor implements ports.ArchiveCursors.
func (c *Cursors) SaveCursor(_ context.Context, jobID string, cur chunk.Cursor) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.m[jobID] = cur
	return nil
}
