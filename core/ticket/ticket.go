package ticket

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"time"

	"github.com/blastlog/blastlog/core/event"
)

// Bytes of randomness in a ticket: 256 bits, 43 characters of base64url.
const Bytes = 32

// TTL bounds of the contract (BLASTLOG_TICKET_TTL).
const (
	MinTTL     = 5 * time.Second
	MaxTTL     = 5 * time.Minute
	DefaultTTL = 30 * time.Second
)

// Record is what is stored under a ticket's hash. It never holds the ticket.
type Record struct {
	JobID     string    `json:"job_id"`
	OwnerOID  string    `json:"owner_oid"`
	Tenant    string    `json:"tenant"`
	IssuedAt  time.Time `json:"issued_at"`
	ExpiresAt time.Time `json:"expires_at"`
}

// Mint returns a new ticket and its hash.
func Mint() (ticket, hash string, err error) {
	var b [Bytes]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", "", err
	}
	ticket = base64.RawURLEncoding.EncodeToString(b[:])
	return ticket, Hash(ticket), nil
}

// Hash is the storage key part of a ticket: hex SHA-256 of the string exactly as it
// was handed out.
func Hash(ticket string) string {
	sum := sha256.Sum256([]byte(ticket))
	return hex.EncodeToString(sum[:])
}

// ErrRejected is the one answer for every ticket that does not open a stream: unknown,
// already used, expired or bound to another job. Callers must not tell them apart.
var ErrRejected = errors.New("ticket rejected")

// WellFormed reports whether s could be a ticket at all, so that garbage is turned
// away without a store round trip (and without hashing megabytes).
func WellFormed(s string) bool {
	if len(s) != base64.RawURLEncoding.EncodedLen(Bytes) {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-' || c == '_') {
			return false
		}
	}
	return true
}

// Check applies the redeem rules to a record already taken from the store (taking
// consumes it, whatever Check then says).
func Check(r Record, jobID string, now time.Time) error {
	if r.JobID == "" || r.JobID != jobID || !now.Before(r.ExpiresAt) {
		return ErrRejected
	}
	return nil
}

// New builds the record for a ticket issued now for ttl.
func New(jobID, ownerOID, tenant string, now time.Time, ttl time.Duration) (Record, error) {
	if err := event.ValidateJobID(jobID); err != nil {
		return Record{}, err
	}
	if ttl < MinTTL || ttl > MaxTTL {
		return Record{}, errors.New("ticket TTL out of range")
	}
	now = now.UTC()
	return Record{JobID: jobID, OwnerOID: ownerOID, Tenant: tenant, IssuedAt: now, ExpiresAt: now.Add(ttl)}, nil
}
