package portstest

import (
	"context"

	"github.com/blastlog/blastlog/ports"
)

// Authenticator is a ports.Authenticator that knows a fixed set of bearer tokens.
type Authenticator map[string]ports.Caller

// Authenticate implements ports.Authenticator.
func (a Authenticator) Authenticate(_ context.Context, c ports.Credentials) (ports.Caller, error) {
	if caller, ok := a[c.Bearer]; ok && c.Bearer != "" {
		return caller, nil
	}
	return ports.Caller{}, ports.ErrUnauthenticated
}
