package portstest

import (
	"encoding/json"
	"errors"
	"sort"
	"sync"

	"github.com/blastlog/blastlog/ports"
)

// Spools is an in-memory ports.Spools: one machine's spools, kept for the life of the
// value. A batch's size is the length of its JSON.
type Spools struct {
	Max int64 // 0: no cap

	mu     sync.Mutex
	used   int64
	spools map[string]*memSpool
}

var _ ports.Spools = (*Spools)(nil)

func (m *Spools) Create(pubID string) (ports.Spool, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.spools == nil {
		m.spools = map[string]*memSpool{}
	}
	if _, ok := m.spools[pubID]; ok {
		return nil, errors.New("spool: publisher id in use")
	}
	s := &memSpool{m: m, pubID: pubID, held: true}
	m.spools[pubID] = s
	return s, nil
}

func (m *Spools) Leftovers() ([]ports.Spool, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []ports.Spool
	for _, s := range m.spools {
		if !s.held && len(s.batches) > 0 {
			s.held = true
			out = append(out, s)
		}
	}
	return out, nil
}

type memBatch struct {
	b    ports.SpoolBatch
	size int64
}

type memSpool struct {
	m       *Spools
	pubID   string
	held    bool
	batches []memBatch // by first Seq; guarded by m.mu
}

func (s *memSpool) Put(b ports.SpoolBatch) error {
	if len(b.Events) == 0 {
		return nil
	}
	raw, err := json.Marshal(b.Events)
	if err != nil {
		return err
	}
	b.Events = append(b.Events[:0:0], b.Events...)
	s.m.mu.Lock()
	defer s.m.mu.Unlock()
	if s.m.Max > 0 && s.m.used+int64(len(raw)) > s.m.Max {
		return ports.ErrSpoolFull
	}
	s.m.used += int64(len(raw))
	s.batches = append(s.batches, memBatch{b, int64(len(raw))})
	sort.SliceStable(s.batches, func(i, j int) bool {
		return s.batches[i].b.Events[0].Seq < s.batches[j].b.Events[0].Seq
	})
	return nil
}

func (s *memSpool) Oldest() (ports.SpoolBatch, bool, error) {
	s.m.mu.Lock()
	defer s.m.mu.Unlock()
	if len(s.batches) == 0 {
		return ports.SpoolBatch{}, false, nil
	}
	return s.batches[0].b, true, nil
}

func (s *memSpool) Ack() error {
	s.m.mu.Lock()
	defer s.m.mu.Unlock()
	if len(s.batches) == 0 {
		return errors.New("spool: Ack without Oldest")
	}
	s.m.used -= s.batches[0].size
	s.batches = s.batches[1:]
	return nil
}

func (s *memSpool) Close() error {
	s.m.mu.Lock()
	defer s.m.mu.Unlock()
	s.held = false
	if len(s.batches) == 0 {
		delete(s.m.spools, s.pubID)
	}
	return nil
}
