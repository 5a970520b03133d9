package entra

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/blastlog/blastlog/adapters/entra/entratest"
	"github.com/blastlog/blastlog/ports"
	"github.com/blastlog/blastlog/ports/portstest"
)

const (
	tenant = entratest.Tenant
	client = entratest.Client
	scope  = entratest.Scope
)

type key = entratest.Key

var (
	newKey    = entratest.NewKey
	v2Claims  = entratest.Claims
	with      = entratest.With
	sign      = entratest.Sign
	newJWKSrv = entratest.NewJWKS
)

func validator(t *testing.T, j *entratest.JWKS, mutate ...func(*Config)) *Validator {
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	cfg := Config{TenantID: tenant, ClientID: client, Scope: scope, JWKSURL: j.URL}
	for _, m := range mutate {
		m(&cfg)
	}
	v, err := New(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

func TestTokens(t *testing.T) {
	k1 := newKey(t, "k1")
	j := newJWKSrv(t, k1)
	v := validator(t, j)
	now := time.Now()
	v1 := with(v2Claims(), "iss", "https://sts.windows.net/"+tenant+"/", "aud", "api://"+client, "azp", nil, "appid", "spa-client", "ver", "1.0")

	hs := jwt.NewWithClaims(jwt.SigningMethodHS256, v2Claims())
	hs.Header["kid"] = "k1"
	pubDER := k1.PK.PublicKey.N.Bytes()
	hsToken, _ := hs.SignedString(pubDER)
	none, _ := jwt.NewWithClaims(jwt.SigningMethodNone, v2Claims()).SignedString(jwt.UnsafeAllowNoneSignatureType)

	cases := []struct {
		name  string
		token string
		ok    bool
	}{
		{"valid v2", sign(t, k1, v2Claims()), true},
		{"valid v1", sign(t, k1, v1), true},
		{"aud as array", sign(t, k1, with(v2Claims(), "aud", []string{"other", client})), true},
		{"expired beyond leeway", sign(t, k1, with(v2Claims(), "exp", now.Add(-2*time.Minute).Unix())), false},
		{"expired within leeway", sign(t, k1, with(v2Claims(), "exp", now.Add(-30*time.Second).Unix())), true},
		{"not yet valid", sign(t, k1, with(v2Claims(), "nbf", now.Add(5*time.Minute).Unix())), false},
		{"no exp", sign(t, k1, with(v2Claims(), "exp", nil)), false},
		{"wrong audience", sign(t, k1, with(v2Claims(), "aud", "api://someone-else")), false},
		{"wrong issuer", sign(t, k1, with(v2Claims(), "iss", "https://login.microsoftonline.com/"+tenant+"/")), false},
		{"issuer of another tenant", sign(t, k1, with(v2Claims(), "iss", "https://login.microsoftonline.com/common/v2.0")), false},
		{"wrong tenant", sign(t, k1, with(v2Claims(), "tid", "00000000-0000-0000-0000-000000000099")), false},
		{"alg none", none, false},
		{"HS256 with the public key", hsToken, false},
		{"missing scp", sign(t, k1, with(v2Claims(), "scp", nil)), false},
		{"other scope only", sign(t, k1, with(v2Claims(), "scp", "Logs.ReadX User.Read")), false},
		{"app-only", sign(t, k1, with(v2Claims(), "scp", nil, "roles", []string{"Logs.Read.All"})), false},
		{"missing oid", sign(t, k1, with(v2Claims(), "oid", nil)), false},
		{"malformed", "not.a.jwt", false},
		{"garbage", "%%%", false},
		{"64 KB token", strings.Repeat("a", 64<<10), false},
		{"unknown kid, never published", sign(t, newKey(t, "k9"), v2Claims()), false},
		{"tampered payload", tamper(sign(t, k1, v2Claims())), false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			caller, err := v.Authenticate(context.Background(), ports.Credentials{Bearer: c.token})
			if c.ok {
				if err != nil || caller.OID != entratest.OID || caller.TenantID != tenant {
					t.Fatalf("refused: %v", err)
				}
				return
			}
			if !errors.Is(err, ports.ErrUnauthenticated) {
				t.Fatalf("want ErrUnauthenticated, got %v", err)
			}
			if strings.Contains(err.Error(), c.token[:min(len(c.token), 20)]) && len(c.token) > 20 {
				t.Fatal("the error carries the token")
			}
		})
	}
}

func tamper(tok string) string {
	parts := strings.Split(tok, ".")
	payload, _ := base64.RawURLEncoding.DecodeString(parts[1])
	payload = []byte(strings.Replace(string(payload), `"Ada"`, `"Eve"`, 1))
	parts[1] = base64.RawURLEncoding.EncodeToString(payload)
	return strings.Join(parts, ".")
}

func TestKeyRotationRefreshesOnUnknownKidAtMostOncePerMinute(t *testing.T) {
	k1, k2, k3 := newKey(t, "k1"), newKey(t, "k2"), newKey(t, "k3")
	j := newJWKSrv(t, k1)
	v := validator(t, j)
	// The key set answers as slowly as a real endpoint: the refresh must still work.
	j.Delay.Store(int64(200 * time.Millisecond))
	base := j.Hits.Load()
	// Microsoft rolls the keys: the next token is signed with a kid not yet cached.
	j.Set(k1, k2)
	if _, err := v.Authenticate(context.Background(), ports.Credentials{Bearer: sign(t, k2, v2Claims())}); err != nil {
		t.Fatalf("token of the new key refused after refresh: %v", err)
	}
	if j.Hits.Load() != base+1 {
		t.Fatalf("%d key set fetches for one unknown kid", j.Hits.Load()-base)
	}
	// Another unknown kid within the minute: no new fetch, a quick refusal.
	j.Set(k1, k2, k3)
	start := time.Now()
	for i := 0; i < 20; i++ {
		if _, err := v.Authenticate(context.Background(), ports.Credentials{Bearer: sign(t, k3, v2Claims())}); !errors.Is(err, ports.ErrUnauthenticated) {
			t.Fatalf("within the minute: %v", err)
		}
	}
	if j.Hits.Load() != base+1 {
		t.Fatalf("refreshed again within a minute: %d fetches", j.Hits.Load()-base)
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Fatalf("refusals stalled: %v", d) // each is a map miss, not a fetch
	}
}

// Forged tokens with random kids, many at once, while a slow refresh is under way:
// one fetch, and no request waits longer than that fetch.
func TestForgedKidsCannotHammerTheKeySet(t *testing.T) {
	k1 := newKey(t, "k1")
	j := newJWKSrv(t, k1)
	v := validator(t, j)
	j.Delay.Store(int64(200 * time.Millisecond))
	base := j.Hits.Load()
	var wg sync.WaitGroup
	var slowest atomic.Int64
	for i := 0; i < 50; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			start := time.Now()
			v.Authenticate(context.Background(), ports.Credentials{Bearer: sign(t, key{KID: fmt.Sprintf("forged-%d", i), PK: k1.PK}, v2Claims())})
			if d := int64(time.Since(start)); d > slowest.Load() {
				slowest.Store(d)
			}
		}()
	}
	wg.Wait()
	if n := j.Hits.Load() - base; n > 1 {
		t.Fatalf("%d key set fetches for 50 forged kids", n)
	}
	if d := time.Duration(slowest.Load()); d > 2*time.Second {
		t.Fatalf("a request waited %v", d)
	}
}

func TestUnreachableKeySetIsUnavailableNotUnauthenticated(t *testing.T) {
	k1 := newKey(t, "k1")
	j := newJWKSrv(t, k1)
	j.Down.Store(true)
	v := validator(t, j)
	_, err := v.Authenticate(context.Background(), ports.Credentials{Bearer: sign(t, k1, v2Claims())})
	if !errors.Is(err, ports.ErrUnavailable) || errors.Is(err, ports.ErrUnauthenticated) {
		t.Fatalf("got %v", err)
	}
	// Without a token, the answer is still 401: nothing to verify.
	if _, err := v.Authenticate(context.Background(), ports.Credentials{}); !errors.Is(err, ports.ErrUnauthenticated) {
		t.Fatalf("anonymous: %v", err)
	}
}

func TestAllowedClients(t *testing.T) {
	k1 := newKey(t, "k1")
	v := validator(t, newJWKSrv(t, k1), func(c *Config) { c.AllowedClients = []string{"spa-client"} })
	if _, err := v.Authenticate(context.Background(), ports.Credentials{Bearer: sign(t, k1, v2Claims())}); err != nil {
		t.Fatalf("allowed client refused: %v", err)
	}
	v1 := with(v2Claims(), "azp", nil, "appid", "spa-client")
	if _, err := v.Authenticate(context.Background(), ports.Credentials{Bearer: sign(t, k1, v1)}); err != nil {
		t.Fatalf("allowed v1 appid refused: %v", err)
	}
	other := with(v2Claims(), "azp", "cli-tool")
	if _, err := v.Authenticate(context.Background(), ports.Credentials{Bearer: sign(t, k1, other)}); !errors.Is(err, ports.ErrUnauthenticated) {
		t.Fatalf("other client: %v", err)
	}
}

func TestDevBypass(t *testing.T) {
	d := DevBypass{User: "00000000-0000-4000-8000-000000000d01"}
	if c, _ := d.Authenticate(context.Background(), ports.Credentials{}); c.OID != "00000000-0000-4000-8000-000000000d01" {
		t.Fatalf("%+v", c)
	}
	if c, _ := d.Authenticate(context.Background(), ports.Credentials{DevUser: "00000000-0000-4000-8000-000000000d02"}); c.OID != "00000000-0000-4000-8000-000000000d02" {
		t.Fatalf("%+v", c)
	}
	if c, _ := (DevBypass{}).Authenticate(context.Background(), ports.Credentials{}); c.OID != DefaultDevUser {
		t.Fatalf("%+v", c)
	}
	// Not an object id: refused, with a sentence that says what is wanted.
	for _, bad := range []string{"not-a-uuid", "a\nb", strings.Repeat("u", 129), "\xff", "00000000-0000-4000-8000-000000000d010", "00000000-0000-4000-8000-000000000d01"[1:] + "x"} {
		_, err := d.Authenticate(context.Background(), ports.Credentials{DevUser: bad})
		var rf *ports.Refusal
		if !errors.Is(err, ports.ErrUnauthenticated) || !errors.As(err, &rf) || !strings.Contains(rf.Msg, "UUID") {
			t.Errorf("%q: %v", bad, err)
		}
	}
}

func TestValidatorConformance(t *testing.T) {
	portstest.TestAuthenticator(t, func(t *testing.T) portstest.AuthCase {
		k1, stranger := newKey(t, "k1"), newKey(t, "k9")
		j := newJWKSrv(t, k1)
		other := with(v2Claims(), "oid", "oid-2", "name", "Bob")
		return portstest.AuthCase{
			Auth:  validator(t, j),
			Valid: []ports.Credentials{{Bearer: sign(t, k1, v2Claims())}, {Bearer: sign(t, k1, other)}},
			Callers: []ports.Caller{{OID: entratest.OID, TenantID: tenant, Name: "Ada"},
				{OID: "oid-2", TenantID: tenant, Name: "Bob"}},
			Invalid: []ports.Credentials{{}, {Bearer: "not-a-token"}, {DevUser: entratest.OID},
				{Bearer: sign(t, stranger, v2Claims())}, {Bearer: tamper(sign(t, k1, v2Claims()))},
				{Bearer: sign(t, k1, with(v2Claims(), "aud", "api://someone-else"))}},
			Down: func() { j.Down.Store(true) },
		}
	})
}

func TestDevBypassConformance(t *testing.T) {
	portstest.TestAuthenticator(t, func(t *testing.T) portstest.AuthCase {
		return portstest.AuthCase{
			Auth:  DevBypass{User: "00000000-0000-4000-8000-000000000d01"},
			Valid: []ports.Credentials{{}, {DevUser: "00000000-0000-4000-8000-000000000d02"}, {Bearer: "anything", DevUser: "00000000-0000-4000-8000-000000000d03"}},
			Callers: []ports.Caller{{OID: "00000000-0000-4000-8000-000000000d01", TenantID: "dev", Name: "dev user 00000000-0000-4000-8000-000000000d01"},
				{OID: "00000000-0000-4000-8000-000000000d02", TenantID: "dev", Name: "dev user 00000000-0000-4000-8000-000000000d02"}, {OID: "00000000-0000-4000-8000-000000000d03", TenantID: "dev", Name: "dev user 00000000-0000-4000-8000-000000000d03"}},
			Invalid: []ports.Credentials{{DevUser: "a\nb"}, {DevUser: strings.Repeat("u", 129)}, {DevUser: "\xff"}, {DevUser: "not-a-uuid"}},
		}
	})
}

// On a sovereign cloud (or the stand-in authority) the issuer is that authority's,
// the key set is found under it, and a v1 issuer of the public cloud is refused.
func TestAnotherAuthority(t *testing.T) {
	k1 := newKey(t, "k1")
	a := entratest.NewAuthority(t, k1)
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	v, err := New(ctx, Config{Authority: a.URL + "/", TenantID: tenant, ClientID: client, Scope: scope, HTTPClient: a.Client()})
	if err != nil {
		t.Fatal(err)
	}
	own := with(v2Claims(), "iss", a.URL+"/"+tenant+"/v2.0")
	if c, err := v.Authenticate(ctx, ports.Credentials{Bearer: sign(t, k1, own)}); err != nil || c.OID != entratest.OID {
		t.Fatalf("a token of the authority: %+v %v", c, err)
	}
	if a.Hits("keys") == 0 {
		t.Fatal("the key set was not read from the authority")
	}
	for name, c := range map[string]jwt.MapClaims{
		"the public cloud's v2 issuer": v2Claims(),
		"the public cloud's v1 issuer": with(v2Claims(), "iss", "https://sts.windows.net/"+tenant+"/", "ver", "1.0"),
	} {
		_, err := v.Authenticate(ctx, ports.Credentials{Bearer: sign(t, k1, c)})
		var rf *ports.Refusal
		if !errors.As(err, &rf) || rf.Msg != "the access token was refused: issuer is not this tenant" {
			t.Errorf("%s: %v", name, err)
		}
	}
}
