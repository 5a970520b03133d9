package entratest

import (
	"crypto/rand"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"math/big"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// PageClient is the app id of the page's app registration (a single-page
// application) that Authority knows besides Client.
const PageClient = "22222222-3333-4444-5555-666666666666"

// Authority plays Entra ID over TLS, as MSAL (Go and JavaScript) and azidentity
// require, for one tenant (Tenant):
//   - OpenID discovery at <URL>/<tenant>/v2.0/.well-known/openid-configuration and
//     the key set (Key), with CORS as Entra sends it;
//   - the authorization code flow of a single-page application: /authorize signs in
//     the configured user at once (or refuses, see Refuse) and answers the registered
//     redirect URI; /token redeems a code once, verifying its PKCE verifier (S256),
//     the redirect URI and that the request is cross-origin, and renews with refresh
//     tokens; the id token carries the nonce of the authorize request;
//   - logout, which ends the sign-in and goes back to post_logout_redirect_uri;
//   - the client credentials grant (azidentity's EnvironmentCredential) and a device
//     code endpoint whose sign-in never completes (a test sees the prompt).
//
// Its tokens are v2 tokens as Entra mints them: aud is the API's app id, scp the
// scope names, iss <URL>/<tenant>/v2.0, with oid, tid, azp and name.
type Authority struct {
	URL      string
	CertFile string // its certificate, PEM
	Key      Key

	cert *x509.Certificate

	mu        sync.Mutex
	claims    jwt.MapClaims // of the client credentials grant
	user      jwt.MapClaims // who signs in at /authorize
	refusal   [2]string     // error and error_description /authorize answers with
	accessTTL time.Duration
	audience  string
	redirects []string
	codes     map[string]grant
	refresh   map[string]grant
	hits      map[string]int
	issued    []string
	signedIn  bool
}

// grant is what a code or a refresh token stands for.
type grant struct {
	client, redirect, challenge, nonce, scope string
	user                                      jwt.MapClaims
}

// NewAuthority serves until the test ends, minting Claims() with k for the client
// credentials grant and signing in User() at /authorize.
func NewAuthority(t testing.TB, k Key) *Authority {
	a := &Authority{Key: k, claims: Claims(), user: User(), accessTTL: time.Hour, audience: Client,
		codes: map[string]grant{}, refresh: map[string]grant{}, hits: map[string]int{}}
	srv := httptest.NewTLSServer(http.HandlerFunc(a.serve))
	t.Cleanup(srv.Close)
	a.URL = srv.URL
	a.cert = srv.Certificate()
	a.CertFile = filepath.Join(t.TempDir(), "authority.pem")
	pemBytes := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: a.cert.Raw})
	if err := os.WriteFile(a.CertFile, pemBytes, 0o600); err != nil {
		t.Fatal(err)
	}
	return a
}

// User is who signs in by default: a member of Tenant.
func User() jwt.MapClaims {
	return jwt.MapClaims{"oid": OID, "sub": "sub-" + OID, "tid": Tenant, "name": "Ada Lovelace",
		"preferred_username": "ada@contoso.example"}
}

// Client is an HTTP client that trusts the authority's certificate.
func (a *Authority) Client() *http.Client {
	pool := x509.NewCertPool()
	pool.AddCert(a.cert)
	return &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}
}

// SetClaims changes what the client credentials grant's next tokens say.
func (a *Authority) SetClaims(c jwt.MapClaims) { a.mu.Lock(); a.claims = c; a.mu.Unlock() }

// SignInAs changes who the next sign-in is.
func (a *Authority) SignInAs(c jwt.MapClaims) { a.mu.Lock(); a.user = c; a.mu.Unlock() }

// Refuse makes /authorize answer with an error (such as access_denied) and its
// description instead of a code; Refuse("", "") signs in again.
func (a *Authority) Refuse(code, description string) {
	a.mu.Lock()
	a.refusal = [2]string{code, description}
	a.mu.Unlock()
}

// SetAccessTTL sets the lifetime of the access tokens of the next grants.
func (a *Authority) SetAccessTTL(d time.Duration) { a.mu.Lock(); a.accessTTL = d; a.mu.Unlock() }

// SetAudience sets the aud of the next users' access tokens (another API's).
func (a *Authority) SetAudience(aud string) { a.mu.Lock(); a.audience = aud; a.mu.Unlock() }

// AllowRedirect registers a redirect URI (and post-logout URI) of the page's app.
func (a *Authority) AllowRedirect(uri string) {
	a.mu.Lock()
	a.redirects = append(a.redirects, uri)
	a.mu.Unlock()
}

// Hits is how often an endpoint was asked: discovery, keys, authorize, token
// (of a user: codes and renewals), logout.
func (a *Authority) Hits(endpoint string) int {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.hits[endpoint]
}

// Issued is every code, access, id and refresh token handed out, for tests that
// look for them where they must not be.
func (a *Authority) Issued() []string {
	a.mu.Lock()
	defer a.mu.Unlock()
	return slices.Clone(a.issued)
}

// Env is the environment of a process that signs in here with a client secret
// (azidentity's EnvironmentCredential).
func (a *Authority) Env() []string {
	return []string{"AZURE_AUTHORITY_HOST=" + a.URL + "/", "SSL_CERT_FILE=" + a.CertFile, "AZURE_TENANT_ID=" + Tenant,
		"AZURE_CLIENT_ID=cli-client", "AZURE_CLIENT_SECRET=cli-secret"}
}

func (a *Authority) serve(w http.ResponseWriter, r *http.Request) {
	base := a.URL + "/" + Tenant
	p := r.URL.Path
	if origin := r.Header.Get("Origin"); origin != "" {
		// Entra answers a browser's discovery, key and token requests from any origin.
		w.Header().Set("Access-Control-Allow-Origin", origin)
		w.Header().Set("Vary", "Origin")
	}
	if r.Method == http.MethodOptions {
		w.Header().Set("Access-Control-Allow-Methods", "GET, POST, OPTIONS")
		w.Header().Set("Access-Control-Allow-Headers", r.Header.Get("Access-Control-Request-Headers"))
		w.Header().Set("Access-Control-Max-Age", "86400")
		w.WriteHeader(http.StatusNoContent)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	switch {
	case strings.HasSuffix(p, "/.well-known/openid-configuration"):
		a.hit("discovery")
		json.NewEncoder(w).Encode(map[string]any{"issuer": base + "/v2.0", "token_endpoint": base + "/oauth2/v2.0/token",
			"authorization_endpoint": base + "/oauth2/v2.0/authorize", "device_authorization_endpoint": base + "/oauth2/v2.0/devicecode",
			"end_session_endpoint": base + "/oauth2/v2.0/logout", "jwks_uri": base + "/discovery/v2.0/keys",
			"response_modes_supported": []string{"query", "fragment", "form_post"}, "response_types_supported": []string{"code", "id_token", "code id_token", "id_token token"},
			"code_challenge_methods_supported": []string{"S256"}, "scopes_supported": []string{"openid", "profile", "email", "offline_access"},
			"subject_types_supported": []string{"pairwise"}, "id_token_signing_alg_values_supported": []string{"RS256"},
			"token_endpoint_auth_methods_supported": []string{"client_secret_post", "private_key_jwt", "client_secret_basic"},
			"tenant_region_scope":                   "EU", "cloud_instance_name": "microsoftonline.com"})
	case strings.HasSuffix(p, "/discovery/v2.0/keys"):
		a.hit("keys")
		k := a.Key
		json.NewEncoder(w).Encode(map[string]any{"keys": []map[string]string{{"kty": "RSA", "use": "sig", "alg": "RS256", "kid": k.KID,
			"n": base64.RawURLEncoding.EncodeToString(k.PK.N.Bytes()),
			"e": base64.RawURLEncoding.EncodeToString(big.NewInt(int64(k.PK.E)).Bytes())}}})
	case strings.HasSuffix(p, "/oauth2/v2.0/devicecode"):
		json.NewEncoder(w).Encode(map[string]any{"device_code": "dc", "user_code": "BLAST-CODE", "verification_uri": base + "/device",
			"expires_in": 900, "interval": 1,
			"message": "To sign in, use a web browser to open " + base + "/device and enter the code BLAST-CODE to authenticate."})
	case strings.HasSuffix(p, "/oauth2/v2.0/authorize"):
		a.authorize(w, r)
	case strings.HasSuffix(p, "/oauth2/v2.0/logout"):
		a.logout(w, r)
	case strings.HasSuffix(p, "/oauth2/v2.0/token"):
		a.token(w, r)
	default:
		http.NotFound(w, r)
	}
}

func (a *Authority) hit(endpoint string) { a.mu.Lock(); a.hits[endpoint]++; a.mu.Unlock() }

// page answers with a page of the authority's own, as Entra does when it cannot
// send the answer back to the application.
func page(w http.ResponseWriter, status int, text string) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.WriteHeader(status)
	w.Write([]byte(text))
}

func (a *Authority) registered(uri string) bool {
	a.mu.Lock()
	defer a.mu.Unlock()
	return slices.Contains(a.redirects, uri)
}

func (a *Authority) authorize(w http.ResponseWriter, r *http.Request) {
	a.hit("authorize")
	q := r.URL.Query()
	redirect := q.Get("redirect_uri")
	switch {
	case q.Get("client_id") != PageClient && q.Get("client_id") != Client:
		page(w, http.StatusBadRequest, "AADSTS700016: Application with identifier '"+q.Get("client_id")+"' was not found in the directory.")
		return
	case !a.registered(redirect):
		page(w, http.StatusBadRequest, "AADSTS50011: The redirect URI '"+redirect+"' specified in the request does not match the redirect URIs configured for the application.")
		return
	}
	answer := func(v url.Values) {
		v.Set("state", q.Get("state"))
		sep := "#"
		if q.Get("response_mode") == "query" {
			sep = "?"
		}
		http.Redirect(w, r, redirect+sep+v.Encode(), http.StatusFound)
	}
	a.mu.Lock()
	refusal, user, signedIn := a.refusal, a.user, a.signedIn
	a.mu.Unlock()
	switch {
	case refusal[0] != "":
		answer(url.Values{"error": {refusal[0]}, "error_description": {refusal[1]}})
		return
	case q.Get("prompt") == "none" && !signedIn:
		answer(url.Values{"error": {"login_required"}, "error_description": {"AADSTS50058: A silent sign-in request was sent but no user is signed in."}})
		return
	case q.Get("response_type") != "code" || q.Get("code_challenge_method") != "S256" || len(q.Get("code_challenge")) != 43:
		answer(url.Values{"error": {"invalid_request"}, "error_description": {"AADSTS9002325: Proof Key for Code Exchange is required for cross-origin authorization code redemption."}})
		return
	}
	code := random()
	a.mu.Lock()
	a.signedIn = true
	a.codes[code] = grant{client: q.Get("client_id"), redirect: redirect, challenge: q.Get("code_challenge"),
		nonce: q.Get("nonce"), scope: q.Get("scope"), user: user}
	a.issued = append(a.issued, code)
	a.mu.Unlock()
	answer(url.Values{"code": {code}, "client_info": {clientInfo(user)}, "session_state": {"00000000-0000-0000-0000-00000000beef"}})
}

func (a *Authority) logout(w http.ResponseWriter, r *http.Request) {
	a.hit("logout")
	a.mu.Lock()
	a.signedIn = false
	a.mu.Unlock()
	if to := r.URL.Query().Get("post_logout_redirect_uri"); to != "" && a.registered(strings.SplitN(to, "?", 2)[0]) {
		http.Redirect(w, r, to, http.StatusFound)
		return
	}
	page(w, http.StatusOK, "You signed out of your account. It's a good idea to close all browser windows.")
}

func tokenError(w http.ResponseWriter, code, description string) {
	w.WriteHeader(http.StatusBadRequest)
	json.NewEncoder(w).Encode(map[string]any{"error": code, "error_description": description, "error_codes": []int{}})
}

func (a *Authority) token(w http.ResponseWriter, r *http.Request) {
	r.ParseForm()
	f := r.PostForm
	switch f.Get("grant_type") {
	case "client_credentials":
		a.mu.Lock()
		c := With(a.claims)
		a.mu.Unlock()
		json.NewEncoder(w).Encode(map[string]any{"token_type": "Bearer", "expires_in": 3600, "ext_expires_in": 3600,
			"access_token": a.sign(c)})
		return
	case "authorization_code", "refresh_token":
		a.hit("token")
	default:
		tokenError(w, "authorization_pending", "waiting for the user")
		return
	}
	if r.Header.Get("Origin") == "" {
		tokenError(w, "invalid_request", "AADSTS9002327: Tokens issued for the 'Single-Page Application' client-type may only be redeemed via cross-origin requests.")
		return
	}
	a.mu.Lock()
	var g grant
	var ok bool
	if f.Get("grant_type") == "authorization_code" {
		g, ok = a.codes[f.Get("code")]
		delete(a.codes, f.Get("code")) // once, whatever follows
	} else {
		g, ok = a.refresh[f.Get("refresh_token")]
	}
	a.mu.Unlock()
	verifier := sha256.Sum256([]byte(f.Get("code_verifier")))
	switch {
	case !ok:
		tokenError(w, "invalid_grant", "AADSTS70008: The provided authorization code or refresh token has expired or was already used.")
		return
	case g.client != f.Get("client_id"):
		tokenError(w, "invalid_grant", "AADSTS70000: The grant was issued to another client.")
		return
	case f.Get("grant_type") == "authorization_code" && f.Get("redirect_uri") != g.redirect:
		tokenError(w, "invalid_grant", "AADSTS500112: The reply address does not match the one of the authorization request.")
		return
	case f.Get("grant_type") == "authorization_code" && base64.RawURLEncoding.EncodeToString(verifier[:]) != g.challenge:
		tokenError(w, "invalid_grant", "AADSTS501481: The Code_Verifier does not match the code_challenge supplied in the authorization request.")
		return
	}
	if s := f.Get("scope"); s != "" {
		g.scope = s
	}
	now := time.Now()
	a.mu.Lock()
	ttl, aud := a.accessTTL, a.audience
	a.mu.Unlock()
	var resources, names []string
	for _, s := range strings.Fields(g.scope) {
		if !slices.Contains([]string{"openid", "profile", "email", "offline_access"}, s) {
			resources = append(resources, s)
			names = append(names, s[strings.LastIndex(s, "/")+1:])
		}
	}
	iss := a.URL + "/" + Tenant + "/v2.0"
	access := With(g.user, "iss", iss, "aud", aud, "scp", strings.Join(names, " "), "azp", g.client, "azpacr", "0",
		"iat", now.Unix(), "nbf", now.Unix(), "exp", now.Add(ttl).Unix(), "ver", "2.0", "uti", random()[:22])
	id := With(g.user, "iss", iss, "aud", g.client, "iat", now.Unix(), "nbf", now.Unix(), "exp", now.Add(time.Hour).Unix(),
		"ver", "2.0", "nonce", g.nonce)
	if g.nonce == "" {
		delete(id, "nonce")
	}
	rt := random()
	body := map[string]any{"token_type": "Bearer", "scope": strings.Join(resources, " "), "expires_in": int(ttl.Seconds()),
		"ext_expires_in": int(ttl.Seconds()), "access_token": a.sign(access), "refresh_token": rt,
		"refresh_token_expires_in": 86400, "id_token": a.sign(id), "client_info": clientInfo(g.user)}
	a.mu.Lock()
	g.nonce = "" // a renewal's id token has none
	a.refresh[rt] = g
	a.issued = append(a.issued, body["access_token"].(string), body["id_token"].(string), rt)
	a.mu.Unlock()
	json.NewEncoder(w).Encode(body)
}

func (a *Authority) sign(c jwt.MapClaims) string {
	tok := jwt.NewWithClaims(jwt.SigningMethodRS256, c)
	tok.Header["kid"] = a.Key.KID
	tok.Header["typ"] = "JWT"
	s, err := tok.SignedString(a.Key.PK)
	if err != nil {
		panic(err) // an RSA key that cannot sign
	}
	return s
}

// clientInfo is Entra's client_info: the user's oid and tenant, base64url JSON.
func clientInfo(user jwt.MapClaims) string {
	b, _ := json.Marshal(map[string]any{"uid": user["oid"], "utid": user["tid"]})
	return base64.RawURLEncoding.EncodeToString(b)
}

func random() string {
	b := make([]byte, 32)
	rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}
