package entra

import (
	"context"
	"fmt"
	"unicode/utf8"

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
	if len(u) > 128 || !utf8.ValidString(u) {
		return ports.Caller{}, fmt.Errorf("%w: X-Dev-User is not a usable user id", ports.ErrUnauthenticated)
	}
	for _, r := range u {
		if r < 0x20 || r == 0x7f {
			return ports.Caller{}, fmt.Errorf("%w: X-Dev-User is not a usable user id", ports.ErrUnauthenticated)
		}
	}
	return ports.Caller{OID: u, TenantID: "dev", Name: "dev user " + u}, nil
}
