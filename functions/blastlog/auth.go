package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/Azure/azure-sdk-for-go/sdk/azidentity"
	"github.com/Azure/azure-sdk-for-go/sdk/azidentity/cache"
)

// scopeOf is the API's OAuth scope: --scope, else api://<client id>/<scope name> from
// BLASTLOG_ENTRA_CLIENT_ID and BLASTLOG_ENTRA_SCOPE ("" when neither says).
func scopeOf(e *env, g *global) (string, error) {
	if g.scope != "" {
		return g.scope, nil
	}
	client, name := e.getenv("BLASTLOG_ENTRA_CLIENT_ID"), e.getenv("BLASTLOG_ENTRA_SCOPE")
	switch {
	case client == "" && name == "":
		return "", nil
	case strings.Contains(name, "://"):
		return name, nil // a whole scope already
	case client == "":
		return "", usagef("BLASTLOG_ENTRA_SCOPE is set but not BLASTLOG_ENTRA_CLIENT_ID, the API's app id: set it, or pass --scope")
	case name == "":
		return "", usagef("BLASTLOG_ENTRA_CLIENT_ID is set but not BLASTLOG_ENTRA_SCOPE, the API's scope name (for example Logs.Read): set it, or pass --scope")
	}
	return "api://" + client + "/" + name, nil
}

// errNoSignIn: the server asked for a token and nothing says for which API.
var errNoSignIn = errors.New("this server uses Entra ID: set BLASTLOG_ENTRA_CLIENT_ID and BLASTLOG_ENTRA_SCOPE (or pass --scope), then sign in with `az login`")

// tokenSource returns how a request gets its bearer token, nil when no scope is
// configured (a dev-bypass server needs none; a server that does says 401, and the
// caller is told what to set). Credentials are tried in this order: environment,
// workload identity, managed identity, the Azure CLI's login (azidentity's
// DefaultAzureCredential), then a device code prompt when stdin is a terminal. The
// device code's tokens go to azidentity's persistent cache where the system has one,
// nowhere else; tokens are never printed.
func tokenSource(e *env, g *global) (func(context.Context) (string, error), string, error) {
	scope, err := scopeOf(e, g)
	if err != nil || scope == "" {
		return nil, "", err
	}
	opts := azcore.ClientOptions{}
	// Another authority (a sovereign cloud, a test's stand-in) is taken as given.
	disco := os.Getenv("AZURE_AUTHORITY_HOST") != ""
	tenant := firstOf(e.getenv("BLASTLOG_ENTRA_TENANT_ID"), e.getenv("AZURE_TENANT_ID"))
	creds := []azcore.TokenCredential{}
	if dac, err := azidentity.NewDefaultAzureCredential(&azidentity.DefaultAzureCredentialOptions{ClientOptions: opts,
		DisableInstanceDiscovery: disco, TenantID: tenant}); err == nil {
		creds = append(creds, dac)
	}
	if e.isTerminal(e.stdin) {
		dc, err := deviceCode(e, opts, disco, tenant)
		if err != nil {
			return nil, "", err
		}
		creds = append(creds, dc)
	}
	if len(creds) == 0 {
		return nil, "", fmt.Errorf("%w: no Azure credential can be set up: run `az login`", errNoCredential)
	}
	var mu sync.Mutex
	var tok azcore.AccessToken
	return func(ctx context.Context) (string, error) {
		mu.Lock()
		defer mu.Unlock()
		if tok.Token != "" && time.Until(tok.ExpiresOn) > 2*time.Minute {
			return tok.Token, nil
		}
		// Each in turn, whatever the one before said: azidentity's own chain stops at
		// a credential that failed rather than was unavailable (a network that
		// answers the managed identity endpoint with a 403 of its own), and the
		// device code would never be offered.
		var failed []string
		for _, c := range creds {
			t, err := c.GetToken(ctx, policy.TokenRequestOptions{Scopes: []string{scope}})
			if ctx.Err() != nil {
				return "", ctx.Err()
			}
			if err == nil {
				tok = t
				return tok.Token, nil
			}
			failed = append(failed, firstLine(err.Error()))
		}
		return "", fmt.Errorf("%w for %s: run `az login` (or set AZURE_CLIENT_ID, AZURE_TENANT_ID and AZURE_CLIENT_SECRET): %s",
			errNoCredential, scope, strings.Join(failed, "; "))
	}, scope, nil
}

var errNoCredential = errors.New("no Azure credential gave a token")

// deviceCode is the last credential: a prompt on stderr, its tokens in azidentity's
// persistent cache (when the system has one) and its account remembered (not a
// secret) in the user's config directory, so that the next run signs in silently.
func deviceCode(e *env, opts azcore.ClientOptions, disco bool, tenant string) (azcore.TokenCredential, error) {
	o := &azidentity.DeviceCodeCredentialOptions{ClientOptions: opts, DisableInstanceDiscovery: disco, TenantID: tenant,
		UserPrompt: func(_ context.Context, m azidentity.DeviceCodeMessage) error {
			_, err := fmt.Fprintln(e.stderr, m.Message)
			return err
		}}
	if c, err := cache.New(&cache.Options{Name: "blastlog"}); err == nil {
		o.Cache = c
	}
	recPath := ""
	if dir, err := os.UserConfigDir(); err == nil {
		recPath = filepath.Join(dir, "blastlog", "device-code-account.json")
		if b, err := os.ReadFile(recPath); err == nil {
			json.Unmarshal(b, &o.AuthenticationRecord)
		}
	}
	cred, err := azidentity.NewDeviceCodeCredential(o)
	if err != nil {
		return nil, err
	}
	return &remembering{cred: cred, path: recPath, known: o.AuthenticationRecord != azidentity.AuthenticationRecord{}}, nil
}

// remembering signs in with a device code once (Authenticate), keeps the account,
// and then gets tokens silently.
type remembering struct {
	cred  *azidentity.DeviceCodeCredential
	path  string
	known bool
}

func (r *remembering) GetToken(ctx context.Context, o policy.TokenRequestOptions) (azcore.AccessToken, error) {
	if !r.known && r.path != "" {
		rec, err := r.cred.Authenticate(ctx, &o)
		if err != nil {
			return azcore.AccessToken{}, err
		}
		r.known = true
		if b, err := json.Marshal(rec); err == nil && os.MkdirAll(filepath.Dir(r.path), 0o700) == nil {
			os.WriteFile(r.path, b, 0o600)
		}
	}
	return r.cred.GetToken(ctx, o)
}

func firstLine(s string) string {
	s, _, _ = strings.Cut(strings.TrimSpace(s), "\n")
	return s
}
