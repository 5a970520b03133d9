package portstest

import (
	"context"
	"errors"
	"sync"
	"time"

	"github.com/blastlog/blastlog/core/ticket"
	"github.com/blastlog/blastlog/ports"
)

// TicketStore is an in-memory ports.TicketStore.
type TicketStore struct {
	mu  sync.Mutex
	m   map[string]ticketEntry
	now func() time.Time
}

type ticketEntry struct {
	r   ticket.Record
	exp time.Time
}

var _ ports.TicketStore = (*TicketStore)(nil)

// NewTicketStore returns an empty store.
func NewTicketStore() *TicketStore {
	return &TicketStore{m: map[string]ticketEntry{}, now: time.Now}
}

// Put implements ports.TicketStore.
func (s *TicketStore) Put(_ context.Context, hash string, r ticket.Record, ttl time.Duration) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if e, ok := s.m[hash]; ok && s.now().Before(e.exp) {
		return errors.New("ticket hash already stored")
	}
	s.m[hash] = ticketEntry{r, s.now().Add(ttl)}
	return nil
}

// Take implements ports.TicketStore.
func (s *TicketStore) Take(_ context.Context, hash string) (ticket.Record, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	e, ok := s.m[hash]
	delete(s.m, hash)
	if !ok || !s.now().Before(e.exp) {
		return ticket.Record{}, ports.ErrNotFound
	}
	return e.r, nil
}

// Peek implements ports.TicketStore.
func (s *TicketStore) Peek(_ context.Context, hash string) (ticket.Record, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	e, ok := s.m[hash]
	if !ok || !s.now().Before(e.exp) {
		return ticket.Record{}, ports.ErrNotFound
	}
	return e.r, nil
}
