package entra

import (
	"context"

	"github.com/blastlog/blastlog/ports"
)

// DefaultDevUser is the dev-bypass caller when neither X-Dev-User nor
// BLASTLOG_DEV_USER names one.
const DefaultDevUser = "00000000-0000-0000-0000-000000000000"

// DevBypass authenticates everyone, as X-Dev-User or User. It exists for the dev stack
// and local tests; the functions refuse it when BLASTLOG_ENV=production.
type DevBypass struct{ User string }

var _ ports.Authenticator = DevBypass{}

// Authenticate implements ports.Authenticator.
func (d DevBypass) Authenticate(_ context.Context, c ports.Credentials) (ports.Caller, error) {
	u := c.DevUser
	if u == "" {
		u = d.User
	}
	if u == "" {
		u = DefaultDevUser
	}
	if !IsObjectID(u) {
		// An Entra ID object id is a UUID; the stand-in for one is too.
		return ports.Caller{}, &ports.Refusal{Err: ports.ErrUnauthenticated,
			Msg: "X-Dev-User (or BLASTLOG_DEV_USER) must be a user's object id: a UUID such as " + DefaultDevUser}
	}
	return ports.Caller{OID: u, TenantID: "dev", Name: "dev user " + u}, nil
}

// IsObjectID: s has an Entra ID object id's shape, 8-4-4-4-12 hexadecimal digits.
func IsObjectID(s string) bool {
	if len(s) != 36 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case i == 8 || i == 13 || i == 18 || i == 23:
			if c != '-' {
				return false
			}
		case c >= '0' && c <= '9', c >= 'a' && c <= 'f', c >= 'A' && c <= 'F':
		default:
			return false
		}
	}
	return true
}
