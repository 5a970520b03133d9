package envconf

import (
	"errors"
	"fmt"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/blastlog/blastlog/adapters/entra"
	"github.com/blastlog/blastlog/core/ticket"
)

// Auth is how callers are authenticated and how tickets are issued.
type Auth struct {
	Env   string // development or production
	Mode  string // entra or dev-bypass
	Entra entra.Config
	// PageClientID is the page's app registration (a single-page application), which
	// signs its users in; by default the API's own (BLASTLOG_ENTRA_CLIENT_ID).
	PageClientID string
	DevUser      string
	TicketTTL    time.Duration
	PerMinute    int
}

// DevBypass reports whether every caller is let in.
func (a Auth) DevBypass() bool { return a.Mode == "dev-bypass" }

// LoadAuth reads BLASTLOG_ENV, BLASTLOG_AUTH_MODE, the Entra settings, the dev user
// and the ticket settings. Dev-bypass is refused in production.
func LoadAuth(g Getenv) (Auth, error) {
	var a Auth
	var err error
	if a.Env, err = g.OneOf("BLASTLOG_ENV", "development", "development", "production"); err != nil {
		return a, err
	}
	if a.Mode, err = g.OneOf("BLASTLOG_AUTH_MODE", "entra", "entra", "dev-bypass"); err != nil {
		return a, err
	}
	if a.DevBypass() && a.Env == "production" {
		return a, errors.New("BLASTLOG_AUTH_MODE=dev-bypass is refused when BLASTLOG_ENV=production")
	}
	a.DevUser = g.String("BLASTLOG_DEV_USER", entra.DefaultDevUser)
	if a.DevBypass() && !entra.IsObjectID(a.DevUser) {
		return a, errors.New("BLASTLOG_DEV_USER must be a user's object id: a UUID such as " + entra.DefaultDevUser)
	}
	if a.TicketTTL, err = g.Duration("BLASTLOG_TICKET_TTL", ticket.DefaultTTL, ticket.MinTTL, ticket.MaxTTL); err != nil {
		return a, err
	}
	per, err := g.Int("BLASTLOG_TICKETS_PER_MINUTE", 30, 1, 10_000)
	if err != nil {
		return a, err
	}
	a.PerMinute = int(per)
	if a.DevBypass() {
		return a, nil
	}
	a.Entra = entra.Config{
		Authority: g.String("BLASTLOG_ENTRA_AUTHORITY", entra.PublicCloud),
		TenantID:  g("BLASTLOG_ENTRA_TENANT_ID"),
		ClientID:  g("BLASTLOG_ENTRA_CLIENT_ID"),
		Scope:     g("BLASTLOG_ENTRA_SCOPE"),
		JWKSURL:   g("BLASTLOG_ENTRA_JWKS_URL"),
	}
	for _, c := range strings.Split(g("BLASTLOG_ENTRA_ALLOWED_CLIENTS"), ",") {
		if c = strings.TrimSpace(c); c != "" {
			a.Entra.AllowedClients = append(a.Entra.AllowedClients, c)
		}
	}
	var missing []string
	for name, v := range map[string]string{"BLASTLOG_ENTRA_TENANT_ID": a.Entra.TenantID,
		"BLASTLOG_ENTRA_CLIENT_ID": a.Entra.ClientID, "BLASTLOG_ENTRA_SCOPE": a.Entra.Scope} {
		if v == "" {
			missing = append(missing, name)
		}
	}
	if len(missing) > 0 {
		return a, fmt.Errorf("BLASTLOG_AUTH_MODE=entra needs %s (or BLASTLOG_AUTH_MODE=dev-bypass outside production)", strings.Join(slices.Sorted(slices.Values(missing)), ", "))
	}
	if a.Entra.Authority, err = authority(a.Entra.Authority); err != nil {
		return a, err
	}
	a.PageClientID = g.String("BLASTLOG_PAGE_CLIENT_ID", a.Entra.ClientID)
	// The page's own tokens are always let in: an allowlist that forgot it would
	// refuse every user of the page.
	if len(a.Entra.AllowedClients) > 0 && !slices.Contains(a.Entra.AllowedClients, a.PageClientID) {
		a.Entra.AllowedClients = append(a.Entra.AllowedClients, a.PageClientID)
	}
	return a, nil
}

// authority checks BLASTLOG_ENTRA_AUTHORITY: an https origin, such as
// https://login.microsoftonline.us on a sovereign cloud (the tenant is added to it).
func authority(raw string) (string, error) {
	raw = strings.TrimSuffix(raw, "/")
	u, err := url.Parse(raw)
	if err != nil || u.Scheme != "https" || u.Host == "" || u.User != nil || u.Path != "" || u.RawQuery != "" || u.Fragment != "" {
		return "", errors.New("BLASTLOG_ENTRA_AUTHORITY must be an https origin such as " + entra.PublicCloud + " (the tenant is added to it)")
	}
	return raw, nil
}
