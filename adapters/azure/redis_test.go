package azure

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/fake"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/redis/go-redis/v9"

	"github.com/blastlog/blastlog/adapters/redisstore/redistest"
)

const oid = "6f1d2c3b-0000-4000-8000-00000000c0de"

// rotating is a TokenCredential whose token the test replaces, as Entra ID does.
type rotating struct {
	mu     sync.Mutex
	n      int
	scopes []string
}

func token(n int) string {
	enc := base64.RawURLEncoding.EncodeToString
	return enc([]byte(`{"alg":"RS256","typ":"JWT"}`)) + "." +
		enc([]byte(fmt.Sprintf(`{"oid":%q,"aud":"https://redis.azure.com","n":%d}`, oid, n))) + ".c2ln"
}

func (r *rotating) GetToken(_ context.Context, o policy.TokenRequestOptions) (azcore.AccessToken, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.scopes = o.Scopes
	return azcore.AccessToken{Token: token(r.n), ExpiresOn: time.Now().Add(time.Hour)}, nil
}

func (r *rotating) rotate() { r.mu.Lock(); r.n++; r.mu.Unlock() }

func authCalls(t *testing.T, admin *redis.Client) int {
	info := admin.Info(context.Background(), "commandstats").Val()
	m := regexp.MustCompile(`cmdstat_auth:calls=(\d+)`).FindStringSubmatch(info)
	if m == nil {
		return 0
	}
	n, _ := strconv.Atoi(m[1])
	return n
}

func TestRedisEntraAuthSurvivesRotation(t *testing.T) {
	srv := redistest.Start(t)
	srv.RequireReal(t)
	ctx := context.Background()
	admin := srv.Client(t)
	if err := admin.Do(ctx, "ACL", "SETUSER", oid, "on", ">"+token(0), "~*", "&*", "+@all").Err(); err != nil {
		t.Fatal(err)
	}
	cred := &rotating{}
	p := NewRedisCredentials(cred, nil)
	rdb := redis.NewClient(&redis.Options{Addr: srv.Addr, StreamingCredentialsProvider: p, PoolSize: 4})
	defer rdb.Close()

	hammer := func() {
		var wg sync.WaitGroup
		for i := 0; i < 8; i++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for k := 0; k < 20; k++ {
					if err := rdb.Incr(ctx, "n").Err(); err != nil {
						t.Error(err)
						return
					}
				}
			}()
		}
		wg.Wait()
	}
	hammer()
	if who := rdb.Do(ctx, "ACL", "WHOAMI").Val(); who != oid {
		t.Fatalf("authenticated as %v", who)
	}
	if fmt.Sprint(cred.scopes) != "["+RedisScope+"]" {
		t.Fatalf("scopes %v", cred.scopes)
	}

	// Rotation: Redis learns the new token, the provider renews, the old one is revoked.
	before := authCalls(t, admin)
	cred.rotate()
	if err := admin.Do(ctx, "ACL", "SETUSER", oid, ">"+token(1)).Err(); err != nil {
		t.Fatal(err)
	}
	if err := p.Renew(ctx); err != nil {
		t.Fatal(err)
	}
	hammer() // live connections re-authenticate when next used
	if err := admin.Do(ctx, "ACL", "SETUSER", oid, "<"+token(0)).Err(); err != nil {
		t.Fatal(err)
	}
	if got := authCalls(t, admin) - before; got < 1 {
		t.Fatalf("no connection re-authenticated (%d AUTH calls)", got)
	}
	// Fresh connections use the new token only.
	fresh := redis.NewClient(&redis.Options{Addr: srv.Addr, StreamingCredentialsProvider: p})
	defer fresh.Close()
	if err := fresh.Ping(ctx).Err(); err != nil {
		t.Fatalf("new connection after rotation: %v", err)
	}
	hammer()
	if n, _ := admin.Get(ctx, "n").Int(); n != 3*8*20 {
		t.Fatalf("%d increments", n)
	}
}

func TestRedisEntraAuthCredentialFailure(t *testing.T) {
	srv := redistest.Start(t)
	cred := &fake.TokenCredential{}
	cred.SetError(errors.New("no managed identity endpoint"))
	rdb := redis.NewClient(&redis.Options{Addr: srv.Addr, StreamingCredentialsProvider: NewRedisCredentials(cred, nil),
		MaxRetries: -1})
	defer rdb.Close()
	err := rdb.Ping(context.Background()).Err()
	if err == nil || !regexp.MustCompile(`token for Redis`).MatchString(err.Error()) {
		t.Fatalf("got %v", err)
	}
	// fake's token is not a JWT: refused with a clear reason.
	if _, err := objectID("fake_token"); err == nil {
		t.Fatal("a non-JWT token was accepted")
	}
}

func TestRenewSchedule(t *testing.T) {
	p := NewRedisCredentials(&rotating{}, nil)
	now := time.Now()
	p.now = func() time.Time { return now }
	if err := p.fetchLocked(context.Background()); err != nil {
		t.Fatal(err)
	}
	if got := p.renewAt.Sub(now); got < 45*time.Minute-time.Second || got > 45*time.Minute+time.Second {
		t.Fatalf("renew in %v for a one-hour token", got)
	}
}
