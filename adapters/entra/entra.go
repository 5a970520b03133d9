package entra

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/MicahParks/keyfunc/v3"
	"github.com/golang-jwt/jwt/v5"
	"golang.org/x/time/rate"

	"github.com/blastlog/blastlog/ports"
)

// Config is what an API's app registration says about its tokens.
type Config struct {
	// Authority is the sign-in host (default PublicCloud): the key set and the
	// accepted issuer derive from it and the tenant, as on a sovereign cloud.
	Authority      string
	TenantID       string   // tenant GUID: the only accepted tid
	ClientID       string   // the API's app id: aud is it or api://<it>
	Scope          string   // delegated scope required in scp
	AllowedClients []string // azp/appid allowlist; empty: any client
	JWKSURL        string   // default: <Authority>/<tenant>/discovery/v2.0/keys
	HTTPClient     *http.Client
	Logger         *slog.Logger
}

// PublicCloud is Entra ID's authority outside sovereign clouds.
const PublicCloud = "https://login.microsoftonline.com"

// MaxTokenBytes bounds what is parsed at all; Entra access tokens are a few KiB.
const MaxTokenBytes = 16 << 10

// Leeway for exp and nbf.
const Leeway = 60 * time.Second

// Validator is a ports.Authenticator for Entra ID access tokens, v1 and v2.
type Validator struct {
	cfg    Config
	kf     keyfunc.Keyfunc
	parser *jwt.Parser
	log    *slog.Logger
}

var _ ports.Authenticator = (*Validator)(nil)

// New fetches the key set (an unreachable key set is not an error here: tokens are
// answered with ErrUnavailable until it is reached) and keeps it fresh until ctx ends:
// hourly, and on an unknown kid at most once a minute.
func New(ctx context.Context, cfg Config) (*Validator, error) {
	if cfg.TenantID == "" || cfg.ClientID == "" || cfg.Scope == "" {
		return nil, errors.New("entra: tenant id, client id and scope are required")
	}
	if cfg.Authority == "" {
		cfg.Authority = PublicCloud
	}
	cfg.Authority = strings.TrimSuffix(cfg.Authority, "/")
	if cfg.JWKSURL == "" {
		cfg.JWKSURL = cfg.Authority + "/" + cfg.TenantID + "/discovery/v2.0/keys"
	}
	log := cfg.Logger
	if log == nil {
		log = slog.Default()
	}
	kf, err := keyfunc.NewDefaultOverrideCtx(ctx, []string{cfg.JWKSURL}, keyfunc.Override{
		Client:      cfg.HTTPClient,
		HTTPTimeout: 5 * time.Second,
		// An unknown kid refreshes the key set at most once a minute. jwkset waits for
		// the limiter under a context of RateLimitWaitMax and then reuses that context
		// for the HTTP refresh itself, so the cap must cover a real fetch; a request
		// still never waits for the next token (Wait returns at once when it lies
		// beyond the cap), only for a refresh already under way.
		RefreshUnknownKID: rate.NewLimiter(rate.Every(time.Minute), 1),
		RateLimitWaitMax:  refreshWait,
		RefreshInterval:   time.Hour,
		RefreshErrorHandlerFunc: func(u string) func(context.Context, error) {
			return func(ctx context.Context, err error) {
				log.WarnContext(ctx, "entra: refreshing the signing keys failed", "jwks_url", u, "error", err)
			}
		},
	})
	if err != nil {
		return nil, fmt.Errorf("entra: key set %s: %w", cfg.JWKSURL, err)
	}
	return &Validator{
		cfg: cfg, kf: kf, log: log,
		parser: jwt.NewParser(jwt.WithValidMethods([]string{"RS256"}), jwt.WithLeeway(Leeway),
			jwt.WithExpirationRequired()),
	}, nil
}

// refreshWait bounds an unknown-kid refresh (the wait for the limiter and the fetch).
const refreshWait = 5 * time.Second

type claims struct {
	jwt.RegisteredClaims
	TID   string   `json:"tid"`
	OID   string   `json:"oid"`
	SCP   string   `json:"scp"`
	Roles []string `json:"roles"`
	AZP   string   `json:"azp"`
	AppID string   `json:"appid"`
	Name  string   `json:"name"`
}

var errNoKeys = errors.New("no signing keys could be fetched")

// reject wraps a reason as ErrUnauthenticated, told to the caller: reasons are fixed
// words that never contain the token, and they tell an operator which setting is
// wrong (the audience, the scope, the tenant).
func reject(reason string) error {
	return &ports.Refusal{Err: ports.ErrUnauthenticated, Msg: "the access token was refused: " + reason}
}

// Authenticate implements ports.Authenticator.
func (v *Validator) Authenticate(ctx context.Context, c ports.Credentials) (ports.Caller, error) {
	if c.Bearer == "" {
		return ports.Caller{}, reject("no bearer token")
	}
	if len(c.Bearer) > MaxTokenBytes {
		return ports.Caller{}, reject("token too large")
	}
	var cl claims
	keys := v.kf.KeyfuncCtx(ctx)
	_, err := v.parser.ParseWithClaims(c.Bearer, &cl, func(t *jwt.Token) (any, error) {
		k, err := keys(t)
		if err != nil {
			if all, rerr := v.kf.Storage().KeyReadAll(ctx); rerr == nil && len(all) == 0 {
				return nil, errNoKeys
			}
		}
		return k, err
	})
	switch {
	case errors.Is(err, errNoKeys):
		return ports.Caller{}, fmt.Errorf("entra: %w: %w", ports.ErrUnavailable, errNoKeys)
	case errors.Is(err, jwt.ErrTokenExpired):
		return ports.Caller{}, reject("token expired")
	case errors.Is(err, jwt.ErrTokenNotValidYet):
		return ports.Caller{}, reject("token not valid yet")
	case errors.Is(err, jwt.ErrTokenSignatureInvalid), errors.Is(err, jwt.ErrTokenUnverifiable):
		return ports.Caller{}, reject("signature not verifiable with the tenant's keys")
	case err != nil:
		return ports.Caller{}, reject("malformed or unacceptable token")
	}
	return v.check(&cl)
}

func (v *Validator) check(cl *claims) (ports.Caller, error) {
	tid := v.cfg.TenantID
	switch {
	case cl.Issuer != v.cfg.Authority+"/"+tid+"/v2.0" && (v.cfg.Authority != PublicCloud || cl.Issuer != "https://sts.windows.net/"+tid+"/"):
		return ports.Caller{}, reject("issuer is not this tenant")
	case cl.TID != tid:
		return ports.Caller{}, reject("tenant mismatch")
	case !slices.ContainsFunc(cl.Audience, func(a string) bool { return a == v.cfg.ClientID || a == "api://"+v.cfg.ClientID }):
		return ports.Caller{}, reject("audience is not this API")
	case cl.SCP == "" && len(cl.Roles) > 0:
		return ports.Caller{}, reject("app-only tokens are not accepted")
	case !slices.Contains(strings.Fields(cl.SCP), v.cfg.Scope):
		return ports.Caller{}, reject("required scope missing")
	case cl.OID == "":
		return ports.Caller{}, reject("no oid claim")
	}
	if len(v.cfg.AllowedClients) > 0 {
		client := cl.AZP
		if client == "" {
			client = cl.AppID
		}
		if !slices.Contains(v.cfg.AllowedClients, client) {
			return ports.Caller{}, reject("client application not allowed")
		}
	}
	return ports.Caller{OID: cl.OID, TenantID: cl.TID, Name: cl.Name}, nil
}
