package envconf

import (
	"fmt"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/blastlog/blastlog/adapters/redisstore"
)

// Redis is the Redis part of every function's configuration.
type Redis struct {
	Options *redis.Options
	// Cluster: BLASTLOG_REDIS_CLUSTER=on or a redis+cluster:// URL.
	Cluster redisstore.Cluster
	Layout  redisstore.Config
	Auth    string // "password" or "entra"
	// Credential picks the azidentity credential for Entra auth: default, workload,
	// managed or cli (BLASTLOG_AZURE_CREDENTIAL).
	Credential string
}

// LoadRedis reads BLASTLOG_REDIS_URL (else CELERY_BROKER_URL when celeryFallback), the
// key layout and the retention. A missing URL is an error naming both variables.
func LoadRedis(g Getenv, celeryFallback bool) (Redis, error) {
	var r Redis
	name, raw := "BLASTLOG_REDIS_URL", g("BLASTLOG_REDIS_URL")
	if raw == "" && celeryFallback {
		name, raw = "CELERY_BROKER_URL", g("CELERY_BROKER_URL")
	}
	if raw == "" {
		if celeryFallback {
			return r, fmt.Errorf("BLASTLOG_REDIS_URL is not set (nor CELERY_BROKER_URL): want a redis:// or rediss:// URL")
		}
		return r, fmt.Errorf("BLASTLOG_REDIS_URL is not set: want a redis:// or rediss:// URL")
	}
	opts, cl, err := redisstore.ParseURL(raw)
	if err != nil {
		return r, fmt.Errorf("%s: %w", name, err)
	}
	mode, err := g.OneOf("BLASTLOG_REDIS_CLUSTER", "off", "off", "on")
	if err != nil {
		return r, err
	}
	if mode == "on" && !cl.On {
		if opts.Network == "unix" {
			return r, fmt.Errorf("BLASTLOG_REDIS_CLUSTER=on needs a TCP address in %s, not a unix socket", name)
		}
		cl = redisstore.Cluster{On: true, Seeds: []string{opts.Addr}}
	}
	r.Options, r.Cluster = opts, cl
	if r.Auth, err = g.OneOf("BLASTLOG_REDIS_AUTH", "password", "password", "entra"); err != nil {
		return r, err
	}
	if r.Credential, err = g.OneOf("BLASTLOG_AZURE_CREDENTIAL", "default", "default", "workload", "managed", "cli"); err != nil {
		return r, err
	}
	r.Layout, err = LoadLayout(g)
	return r, err
}

// LoadLayout reads the key layout, the stream cap and the retention: every Redis
// setting but the connection (the embedded Redis of -dev honours them too).
func LoadLayout(g Getenv) (redisstore.Config, error) {
	maxLen, err := g.Int("BLASTLOG_STREAM_MAXLEN", redisstore.DefaultMaxLen, 100, 10_000_000)
	if err != nil {
		return redisstore.Config{}, err
	}
	retention, err := g.Duration("BLASTLOG_RETENTION", redisstore.DefaultRetention, time.Minute, 365*24*time.Hour)
	if err != nil {
		return redisstore.Config{}, err
	}
	return redisstore.Config{
		StreamPrefix: g.String("BLASTLOG_STREAM_PREFIX", redisstore.DefaultStreamPrefix),
		KeyPrefix:    g.String("BLASTLOG_KEY_PREFIX", redisstore.DefaultKeyPrefix),
		MaxLen:       maxLen,
		Retention:    retention,
	}, nil
}

// Label names the Redis these settings reach, without a secret: its address (a
// cluster's seeds), database and stream prefix, as "redis 10.0.0.5:6379/0 joblogs:".
// A spool records it, so that its lines are only ever stored where they were for.
func (r Redis) Label() string {
	addr := r.Options.Addr
	if r.Cluster.On {
		addr = "cluster " + strings.Join(r.Cluster.Seeds, ",")
	}
	return fmt.Sprintf("redis %s/%d %s", addr, r.Options.DB, r.Layout.Streams())
}
