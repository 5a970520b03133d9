package redisstore

import (
	"errors"
	"fmt"
	"net/url"
	"regexp"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"
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

var unsafeRun = regexp.MustCompile(`[^A-Za-z0-9_.:-]+`)

// SafeID maps a run id to the part of its keys the Python producers use: runs of
// characters outside [A-Za-z0-9_.:-] become "_", at most 160 bytes, "unknown" if empty.
func SafeID(id string) string {
	s := unsafeRun.ReplaceAllString(id, "_")
	if len(s) > 160 {
		s = s[:160]
	}
	if s == "" {
		return "unknown"
	}
	return s
}

// StreamKey is the key of a run's log stream.
func (c Config) StreamKey(jobID string) string { return c.withDefaults().StreamPrefix + SafeID(jobID) }

// JobKey is the key of a run's record.
func (c Config) JobKey(jobID string) string {
	return c.withDefaults().KeyPrefix + "job:" + SafeID(jobID)
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
