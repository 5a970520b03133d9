package redisstore

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/blastlog/blastlog/core/ticket"
	"github.com/blastlog/blastlog/ports"
)

// TicketStore is ports.TicketStore over Redis strings: SET NX PX to store, a Lua
// GET+DEL to take (Redis 6.0 has no GETDEL; a script is atomic on every version).
type TicketStore struct {
	rdb redis.UniversalClient
	cfg Config
}

var _ ports.TicketStore = (*TicketStore)(nil)

// NewTicketStore returns the ticket records stored through rdb.
func NewTicketStore(rdb redis.UniversalClient, cfg Config) *TicketStore {
	return &TicketStore{rdb: rdb, cfg: cfg}
}

func (s *TicketStore) key(hash string) string { return s.cfg.keyPrefix() + "ticket:" + hash }

// Put implements ports.TicketStore.
func (s *TicketStore) Put(ctx context.Context, hash string, r ticket.Record, ttl time.Duration) error {
	v, err := json.Marshal(r)
	if err != nil {
		return err
	}
	ok, err := s.rdb.SetNX(ctx, s.key(hash), v, ttl).Result()
	if err != nil {
		return unavailable("store ticket", err)
	}
	if !ok {
		return errors.New("store ticket: hash already present")
	}
	return nil
}

var takeScript = redis.NewScript(`
local v = redis.call('GET', KEYS[1])
if v then redis.call('DEL', KEYS[1]) end
return v`)

// Take implements ports.TicketStore.
func (s *TicketStore) Take(ctx context.Context, hash string) (ticket.Record, error) {
	v, err := takeScript.Run(ctx, s.rdb, []string{s.key(hash)}).Text()
	if errors.Is(err, redis.Nil) {
		return ticket.Record{}, ports.ErrNotFound
	}
	if err != nil {
		return ticket.Record{}, unavailable("take ticket", err)
	}
	return decodeRecord("take ticket", v)
}

// Peek implements ports.TicketStore.
func (s *TicketStore) Peek(ctx context.Context, hash string) (ticket.Record, error) {
	v, err := s.rdb.Get(ctx, s.key(hash)).Result()
	if errors.Is(err, redis.Nil) {
		return ticket.Record{}, ports.ErrNotFound
	}
	if err != nil {
		return ticket.Record{}, unavailable("peek ticket", err)
	}
	return decodeRecord("peek ticket", v)
}

func decodeRecord(what, v string) (ticket.Record, error) {
	var r ticket.Record
	if err := json.Unmarshal([]byte(v), &r); err != nil {
		return ticket.Record{}, fmt.Errorf("%s: stored record is not JSON: %w", what, ports.ErrNotFound)
	}
	return r, nil
}
