package ports

import (
	"context"
	"errors"
)

// ErrUnauthenticated: the caller's credentials are missing, malformed, expired or not
// for this API. It never means "the identity provider is down" (that is ErrUnavailable).
var ErrUnauthenticated = errors.New("unauthenticated")

// Credentials are what a request brought to prove who sent it.
type Credentials struct {
	Bearer  string // the token after "Bearer " in Authorization, "" if none
	DevUser string // X-Dev-User, honoured only by the dev-bypass authenticator
}

// Caller is an authenticated user.
type Caller struct {
	OID      string // Entra object id: the owner of runs
	TenantID string
	Name     string
}

// Authenticator turns credentials into a caller: ErrUnauthenticated or ErrUnavailable.
type Authenticator interface {
	Authenticate(ctx context.Context, c Credentials) (Caller, error)
}
