package redisstore

import (
	"errors"
	"fmt"
	"net/url"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/blastlog/blastlog/core/job"
)

// Config is the Redis layout and its limits. Zero values take the contract defaults.
type Config struct {
	StreamPrefix string        // "joblogs:"
	KeyPrefix    string        // "blastlog:"
	MaxLen       int64         // approximate cap per run stream: 5000
	Retention    time.Duration // stream and record TTL once a run is terminal: 168h
}

// Defaults of CONTRACT §2 and §6.
const (
	DefaultStreamPrefix = "joblogs:"
	DefaultKeyPrefix    = "blastlog:"
	DefaultMaxLen       = 5000
	DefaultRetention    = 7 * 24 * time.Hour
)

func (c Config) withDefaults() Config {
	if c.StreamPrefix == "" {
		c.StreamPrefix = DefaultStreamPrefix
	}
	if c.KeyPrefix == "" {
		c.KeyPrefix = DefaultKeyPrefix
	}
	if c.MaxLen <= 0 {
		c.MaxLen = DefaultMaxLen
	}
	if c.Retention <= 0 {
		c.Retention = DefaultRetention
	}
	return c
}

// StreamKey is the key of a run's log stream.
func (c Config) StreamKey(jobID string) string {
	return c.withDefaults().StreamPrefix + job.SafeID(jobID)
}

// JobKey is the key of a run's record.
func (c Config) JobKey(jobID string) string {
	return c.withDefaults().KeyPrefix + "job:" + job.SafeID(jobID)
}

// OwnerKey is the key of an owner's run list.
func (c Config) OwnerKey(ownerOID string) string {
	return c.withDefaults().KeyPrefix + "owner:" + ownerOID
}

// ArchiveKey is the key of the archiver's cursor of a run.
func (c Config) ArchiveKey(jobID string) string {
	return c.withDefaults().KeyPrefix + "archive:" + job.SafeID(jobID)
}

// Query parameters that Celery/kombu accept in a broker URL and go-redis does not.
var kombuParams = []string{"ssl_cert_reqs", "ssl_ca_certs", "ssl_certfile", "ssl_keyfile", "ssl_check_hostname"}

// ErrBadURL is wrapped by ParseURL's errors. Their text shows the URL without its
// password, and no text from a URL that did not parse at all.
var ErrBadURL = errors.New("not a usable Redis URL")

// ParseURL turns a redis://, rediss:// or unix:// URL into client options, with the
// timeouts blastlog wants. Celery broker URLs are accepted as they are written.
func ParseURL(raw string) (*redis.Options, error) {
	u, err := url.Parse(raw)
	if err != nil {
		return nil, fmt.Errorf("%w: it does not parse as a URL", ErrBadURL)
	}
	shown := u.Redacted()
	switch u.Scheme {
	case "redis", "rediss", "unix":
	case "":
		return nil, fmt.Errorf("%w: %q has no scheme (want redis://, rediss:// or unix://)", ErrBadURL, shown)
	default:
		return nil, fmt.Errorf("%w: %q: scheme %q is not Redis (want redis://, rediss:// or unix://)", ErrBadURL, shown, u.Scheme)
	}
	q := u.Query()
	for _, p := range kombuParams {
		q.Del(p)
	}
	u.RawQuery = q.Encode()
	opts, err := redis.ParseURL(u.String())
	if err != nil {
		msg := err.Error()
		if pw, ok := u.User.Password(); ok && pw != "" {
			msg = strings.ReplaceAll(msg, pw, "xxxxx")
		}
		return nil, fmt.Errorf("%w: %q: %s", ErrBadURL, shown, msg)
	}
	opts.DialTimeout = 2 * time.Second
	opts.ReadTimeout = 3 * time.Second
	opts.WriteTimeout = 3 * time.Second
	// Our own callers retry where a retry is safe; a blind retry of a pipelined XADD
	// could store lines twice.
	opts.MaxRetries = -1
	return opts, nil
}
