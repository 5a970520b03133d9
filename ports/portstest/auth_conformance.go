package portstest

import (
	"context"
	"errors"
	"sync"
	"testing"

	"github.com/blastlog/blastlog/ports"
)

// AuthCase is what an Authenticator conformance run is given: the authenticator,
// credentials it must accept with the caller each names, credentials it must refuse,
// and, when the authenticator depends on a service, a way to take that service down.
type AuthCase struct {
	Auth    ports.Authenticator
	Valid   []ports.Credentials
	Callers []ports.Caller // Callers[i] is whom Valid[i] names
	Invalid []ports.Credentials
	// Down makes the identity provider unreachable (nil: the authenticator needs
	// none). Credentials that cannot be checked then are ErrUnavailable, never
	// ErrUnauthenticated: a user is not signed out because a key set is down.
	Down func()
}

// TestAuthenticator is the conformance suite of ports.Authenticator. newCase returns
// a fresh authenticator with its credentials.
func TestAuthenticator(t *testing.T, newCase func(t *testing.T) AuthCase) {
	ctx := context.Background()
	t.Run("valid credentials name their caller", func(t *testing.T) {
		c := newCase(t)
		if len(c.Valid) == 0 || len(c.Valid) != len(c.Callers) {
			t.Fatalf("the case has %d valid credentials and %d callers", len(c.Valid), len(c.Callers))
		}
		for i, cr := range c.Valid {
			got, err := c.Auth.Authenticate(ctx, cr)
			if err != nil {
				t.Fatalf("valid credentials %d refused: %v", i, err)
			}
			if got != c.Callers[i] {
				t.Fatalf("credentials %d: caller %+v, want %+v", i, got, c.Callers[i])
			}
			if got.OID == "" {
				t.Fatalf("credentials %d: a caller without an OID owns nothing", i)
			}
		}
	})
	t.Run("invalid credentials are ErrUnauthenticated", func(t *testing.T) {
		c := newCase(t)
		for i, cr := range c.Invalid {
			got, err := c.Auth.Authenticate(ctx, cr)
			if !errors.Is(err, ports.ErrUnauthenticated) || errors.Is(err, ports.ErrUnavailable) {
				t.Fatalf("invalid credentials %d: %v", i, err)
			}
			if got != (ports.Caller{}) {
				t.Fatalf("invalid credentials %d: a refusal named caller %+v", i, got)
			}
		}
	})
	t.Run("concurrent callers each get their own answer", func(t *testing.T) {
		c := newCase(t)
		var wg sync.WaitGroup
		errs := make(chan error, 8*(len(c.Valid)+len(c.Invalid)))
		for range 8 {
			wg.Go(func() {
				for i, cr := range c.Valid {
					if got, err := c.Auth.Authenticate(ctx, cr); err != nil || got != c.Callers[i] {
						errs <- errors.New("a valid credential was refused or misnamed under concurrency")
					}
				}
				for _, cr := range c.Invalid {
					if _, err := c.Auth.Authenticate(ctx, cr); !errors.Is(err, ports.ErrUnauthenticated) {
						errs <- errors.New("an invalid credential was not refused under concurrency")
					}
				}
			})
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Fatal(err)
		}
	})
	c := newCase(t)
	if c.Down == nil {
		return // this authenticator depends on no service
	}
	t.Run("an unreachable provider is ErrUnavailable", func(t *testing.T) {
		c.Down()
		for i, cr := range c.Valid {
			_, err := c.Auth.Authenticate(ctx, cr)
			if err == nil {
				continue // checked from what it already held: fine
			}
			if !errors.Is(err, ports.ErrUnavailable) || errors.Is(err, ports.ErrUnauthenticated) {
				t.Fatalf("credentials %d with the provider down: %v", i, err)
			}
		}
	})
}
