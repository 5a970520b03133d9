package entratest

import (
	"crypto/rand"
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"math/big"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// Identities used by default.
const (
	Tenant = "72f988bf-86f1-41af-91ab-2d7cd011db47"
	Client = "11111111-2222-3333-4444-555555555555"
	Scope  = "Logs.Read"
	OID    = "0f0e0d0c-aaaa-bbbb-cccc-000000000001"
)

// Key is a signing key with its kid.
type Key struct {
	KID string
	PK  *rsa.PrivateKey
}

// NewKey generates an RSA key.
func NewKey(t testing.TB, kid string) Key {
	pk, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	return Key{kid, pk}
}

// JWKS is a key set server whose keys can be rotated and which can be taken down.
type JWKS struct {
	URL  string
	Hits atomic.Int64
	Down atomic.Bool
	// Delay makes every answer this slow (nanoseconds), as a real endpoint across the
	// internet is.
	Delay atomic.Int64

	mu   sync.Mutex
	keys []Key
}

// NewJWKS serves keys until the test ends.
func NewJWKS(t testing.TB, keys ...Key) *JWKS {
	j := &JWKS{keys: keys}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		j.Hits.Add(1)
		time.Sleep(time.Duration(j.Delay.Load()))
		if j.Down.Load() {
			http.Error(w, "down", http.StatusBadGateway)
			return
		}
		j.mu.Lock()
		defer j.mu.Unlock()
		var set struct {
			Keys []map[string]string `json:"keys"`
		}
		for _, k := range j.keys {
			set.Keys = append(set.Keys, map[string]string{"kty": "RSA", "use": "sig", "alg": "RS256", "kid": k.KID,
				"n": base64.RawURLEncoding.EncodeToString(k.PK.N.Bytes()),
				"e": base64.RawURLEncoding.EncodeToString(big.NewInt(int64(k.PK.E)).Bytes())})
		}
		json.NewEncoder(w).Encode(set)
	}))
	t.Cleanup(srv.Close)
	j.URL = srv.URL
	return j
}

// Set replaces the served keys.
func (j *JWKS) Set(keys ...Key) { j.mu.Lock(); j.keys = keys; j.mu.Unlock() }

// Claims are those of a valid v2 delegated access token for Client, valid for an hour.
func Claims() jwt.MapClaims {
	now := time.Now()
	return jwt.MapClaims{"iss": "https://login.microsoftonline.com/" + Tenant + "/v2.0", "aud": Client, "tid": Tenant,
		"oid": OID, "scp": "openid " + Scope, "azp": "spa-client", "name": "Ada",
		"iat": now.Unix(), "nbf": now.Unix(), "exp": now.Add(time.Hour).Unix(), "ver": "2.0"}
}

// With returns a copy of c with the given key/value pairs set (nil deletes).
func With(c jwt.MapClaims, kv ...any) jwt.MapClaims {
	out := jwt.MapClaims{}
	for k, v := range c {
		out[k] = v
	}
	for i := 0; i < len(kv); i += 2 {
		if kv[i+1] == nil {
			delete(out, kv[i].(string))
		} else {
			out[kv[i].(string)] = kv[i+1]
		}
	}
	return out
}

// Sign returns c as an RS256 token signed by k.
func Sign(t testing.TB, k Key, c jwt.MapClaims) string {
	tok := jwt.NewWithClaims(jwt.SigningMethodRS256, c)
	tok.Header["kid"] = k.KID
	s, err := tok.SignedString(k.PK)
	if err != nil {
		t.Fatal(err)
	}
	return s
}
