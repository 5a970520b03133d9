package entratest

import (
	"encoding/json"
	"encoding/pem"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/golang-jwt/jwt/v5"
)

// Authority plays Entra ID's sign-in endpoints for azidentity's credentials, over
// TLS as MSAL requires: OpenID discovery, a token endpoint that answers the client
// credentials grant with a token signed by Key, and a device code endpoint whose
// sign-in never completes (a test sees the prompt). Point a process at it with
// Env(): AZURE_AUTHORITY_HOST, and SSL_CERT_FILE so that Go trusts its certificate.
type Authority struct {
	URL      string
	CertFile string // its certificate, PEM
	Key      Key

	mu     sync.Mutex
	claims jwt.MapClaims
}

// NewAuthority serves until the test ends, minting Claims() with k.
func NewAuthority(t testing.TB, k Key) *Authority {
	a := &Authority{Key: k, claims: Claims()}
	srv := httptest.NewTLSServer(http.HandlerFunc(a.serve))
	t.Cleanup(srv.Close)
	a.URL = srv.URL
	a.CertFile = filepath.Join(t.TempDir(), "authority.pem")
	pemBytes := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: srv.Certificate().Raw})
	if err := os.WriteFile(a.CertFile, pemBytes, 0o600); err != nil {
		t.Fatal(err)
	}
	return a
}

// SetClaims changes what the next tokens say (a wrong audience, another user).
func (a *Authority) SetClaims(c jwt.MapClaims) { a.mu.Lock(); a.claims = c; a.mu.Unlock() }

// Env is the environment of a process that signs in here with a client secret
// (azidentity's EnvironmentCredential).
func (a *Authority) Env() []string {
	return []string{"AZURE_AUTHORITY_HOST=" + a.URL + "/", "SSL_CERT_FILE=" + a.CertFile, "AZURE_TENANT_ID=" + Tenant,
		"AZURE_CLIENT_ID=cli-client", "AZURE_CLIENT_SECRET=cli-secret"}
}

func (a *Authority) serve(w http.ResponseWriter, r *http.Request) {
	base := a.URL + "/" + Tenant
	w.Header().Set("Content-Type", "application/json")
	switch {
	case strings.HasSuffix(r.URL.Path, "/.well-known/openid-configuration"):
		json.NewEncoder(w).Encode(map[string]string{"issuer": base + "/v2.0", "token_endpoint": base + "/oauth2/v2.0/token",
			"authorization_endpoint": base + "/oauth2/v2.0/authorize", "device_authorization_endpoint": base + "/oauth2/v2.0/devicecode",
			"jwks_uri": base + "/discovery/v2.0/keys"})
	case strings.HasSuffix(r.URL.Path, "/oauth2/v2.0/devicecode"):
		json.NewEncoder(w).Encode(map[string]any{"device_code": "dc", "user_code": "BLAST-CODE", "verification_uri": base + "/device",
			"expires_in": 900, "interval": 1,
			"message": "To sign in, use a web browser to open " + base + "/device and enter the code BLAST-CODE to authenticate."})
	case strings.HasSuffix(r.URL.Path, "/oauth2/v2.0/token"):
		r.ParseForm()
		if r.Form.Get("grant_type") != "client_credentials" {
			w.WriteHeader(http.StatusBadRequest)
			json.NewEncoder(w).Encode(map[string]string{"error": "authorization_pending", "error_description": "waiting for the user"})
			return
		}
		a.mu.Lock()
		c := With(a.claims)
		a.mu.Unlock()
		tok := jwt.NewWithClaims(jwt.SigningMethodRS256, c)
		tok.Header["kid"] = a.Key.KID
		s, err := tok.SignedString(a.Key.PK)
		if err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		json.NewEncoder(w).Encode(map[string]any{"token_type": "Bearer", "expires_in": 3600, "ext_expires_in": 3600, "access_token": s})
	default:
		http.NotFound(w, r)
	}
}
