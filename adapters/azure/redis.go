package azure

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/redis/go-redis/v9/auth"
)

// RedisScope is the token scope of Azure Cache for Redis and Azure Managed Redis.
const RedisScope = "https://redis.azure.com/.default"

// RedisCredentials is a go-redis StreamingCredentialsProvider fed by an azidentity
// credential: username = the token's oid, password = the token. It renews the token
// when 3/4 of its lifetime has passed (and at least 5 minutes before it expires) and
// hands the new one to every subscribed connection, which go-redis re-authenticates.
type RedisCredentials struct {
	cred azcore.TokenCredential
	log  *slog.Logger
	now  func() time.Time

	mu        sync.Mutex
	current   auth.Credentials
	expiresOn time.Time
	renewAt   time.Time
	listeners map[auth.CredentialsListener]struct{}
}

var _ auth.StreamingCredentialsProvider = (*RedisCredentials)(nil)

// NewRedisCredentials returns a provider; call Run to keep its token fresh.
func NewRedisCredentials(cred azcore.TokenCredential, log *slog.Logger) *RedisCredentials {
	if log == nil {
		log = slog.Default()
	}
	return &RedisCredentials{cred: cred, log: log, now: time.Now, listeners: map[auth.CredentialsListener]struct{}{}}
}

// Subscribe implements auth.StreamingCredentialsProvider.
func (p *RedisCredentials) Subscribe(l auth.CredentialsListener) (auth.Credentials, auth.UnsubscribeFunc, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.current == nil || !p.now().Before(p.expiresOn) {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if err := p.fetchLocked(ctx); err != nil {
			return nil, nil, err
		}
	}
	p.listeners[l] = struct{}{}
	return p.current, func() error {
		p.mu.Lock()
		delete(p.listeners, l)
		p.mu.Unlock()
		return nil
	}, nil
}

// Run renews the token on schedule until ctx ends. A failed renewal is retried with
// backoff (1 s doubling to 1 min) and reported to the listeners once it is too late.
func (p *RedisCredentials) Run(ctx context.Context) {
	backoff := time.Second
	for {
		p.mu.Lock()
		wait := p.renewAt.Sub(p.now())
		if p.current == nil {
			wait = 0
		}
		p.mu.Unlock()
		select {
		case <-ctx.Done():
			return
		case <-time.After(max(wait, 0)):
		}
		if err := p.Renew(ctx); err != nil {
			if ctx.Err() != nil {
				return
			}
			p.log.Warn("azure: renewing the Redis token failed", "error", err, "retry_in", backoff)
			select {
			case <-ctx.Done():
				return
			case <-time.After(backoff):
			}
			backoff = min(backoff*2, time.Minute)
			continue
		}
		backoff = time.Second
	}
}

// Renew gets a token now and, if it changed, gives it to every listener.
func (p *RedisCredentials) Renew(ctx context.Context) error {
	p.mu.Lock()
	before := p.current
	err := p.fetchLocked(ctx)
	after := p.current
	ls := make([]auth.CredentialsListener, 0, len(p.listeners))
	for l := range p.listeners {
		ls = append(ls, l)
	}
	expired := !p.now().Before(p.expiresOn)
	p.mu.Unlock()
	if err != nil {
		if expired {
			for _, l := range ls {
				l.OnError(err)
			}
		}
		return err
	}
	if before == nil || before.RawCredentials() != after.RawCredentials() {
		for _, l := range ls {
			l.OnNext(after)
		}
	}
	return nil
}

func (p *RedisCredentials) fetchLocked(ctx context.Context) error {
	tok, err := p.cred.GetToken(ctx, policy.TokenRequestOptions{Scopes: []string{RedisScope}})
	if err != nil {
		return fmt.Errorf("azure: token for Redis: %w", err)
	}
	oid, err := objectID(tok.Token)
	if err != nil {
		return fmt.Errorf("azure: token for Redis: %w", err)
	}
	now := p.now()
	life := tok.ExpiresOn.Sub(now)
	renewIn := life * 3 / 4
	if life-renewIn < 5*time.Minute {
		renewIn = life - 5*time.Minute
	}
	if !tok.RefreshOn.IsZero() && tok.RefreshOn.Before(now.Add(renewIn)) {
		renewIn = tok.RefreshOn.Sub(now)
	}
	p.current = auth.NewBasicCredentials(oid, tok.Token)
	p.expiresOn = tok.ExpiresOn
	p.renewAt = now.Add(max(renewIn, 5*time.Second))
	return nil
}

// objectID reads the oid claim of an access token. The token is not verified here:
// Redis verifies it; the oid only names the ACL user it must match.
func objectID(token string) (string, error) {
	parts := strings.Split(token, ".")
	if len(parts) != 3 {
		return "", errors.New("access token is not a JWT")
	}
	payload, err := base64.RawURLEncoding.DecodeString(strings.TrimRight(parts[1], "="))
	if err != nil {
		return "", errors.New("access token payload is not base64url")
	}
	var c struct {
		OID string `json:"oid"`
	}
	if err := json.Unmarshal(payload, &c); err != nil || c.OID == "" {
		return "", errors.New("access token has no oid claim")
	}
	return c.OID, nil
}
