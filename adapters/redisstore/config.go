package redisstore

import (
	"cmp"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/blastlog/blastlog/core/job"
)

// Config is the Redis layout and its limits. A zero field takes its Default*.
type Config struct {
	StreamPrefix string        // "joblogs:"
	KeyPrefix    string        // "blastlog:"
	MaxLen       int64         // approximate cap per run stream: 5000
	Retention    time.Duration // stream and record TTL once a run is terminal: 168h
}

// Defaults of docs/api.md §2 and §6.
const (
	DefaultStreamPrefix = "joblogs:"
	DefaultKeyPrefix    = "blastlog:"
	DefaultMaxLen       = 5000
	DefaultRetention    = 7 * 24 * time.Hour
)

// Each setting's one accessor: the value, or its Default* when unset.
func (c Config) streamPrefix() string { return cmp.Or(c.StreamPrefix, DefaultStreamPrefix) }

// Streams is the prefix of the runs' stream keys.
func (c Config) Streams() string          { return c.streamPrefix() }
func (c Config) keyPrefix() string        { return cmp.Or(c.KeyPrefix, DefaultKeyPrefix) }
func (c Config) maxLen() int64            { return cmp.Or(max(c.MaxLen, 0), DefaultMaxLen) }
func (c Config) retention() time.Duration { return cmp.Or(max(c.Retention, 0), DefaultRetention) }

// StreamKey is the key of a run's log stream.
func (c Config) StreamKey(jobID string) string {
	return c.streamPrefix() + job.SafeID(jobID)
}

// JobKey is the key of a run's record.
func (c Config) JobKey(jobID string) string {
	return c.keyPrefix() + "job:" + job.SafeID(jobID)
}

// OwnerKey is the key of an owner's run list.
func (c Config) OwnerKey(ownerOID string) string {
	return c.keyPrefix() + "owner:" + ownerOID
}

// ArchiveKey is the key of the archiver's cursor of a run.
func (c Config) ArchiveKey(jobID string) string {
	return c.keyPrefix() + "archive:" + job.SafeID(jobID)
}

// Query parameters that Celery/kombu accept in a broker URL and go-redis does not.
var kombuParams = []string{"ssl_cert_reqs", "ssl_ca_certs", "ssl_certfile", "ssl_keyfile", "ssl_check_hostname"}

// ErrBadURL is wrapped by ParseURL's errors. Their text shows the URL without its
// password, and no text from a URL that did not parse at all.
var ErrBadURL = errors.New("not a usable Redis URL")

// Cluster says whether the client is a Redis Cluster client, and which seed nodes
// it starts from. The zero Cluster is a single node.
type Cluster struct {
	On    bool
	Seeds []string // host:port of each seed; the URL's host first
}

// ParseURL turns a redis://, rediss:// or unix:// URL into client options, with the
// timeouts blastlog wants. Celery broker URLs are accepted as they are written.
// redis+cluster:// and rediss+cluster:// name a Redis Cluster, its seed nodes being
// the URL's host and every addr= parameter (redis+cluster://:pw@h1:6379?addr=h2:6379).
func ParseURL(raw string) (*redis.Options, Cluster, error) {
	var cl Cluster
	u, err := url.Parse(raw)
	if err != nil {
		return nil, cl, fmt.Errorf("%w: it does not parse as a URL", ErrBadURL)
	}
	if base, ok := strings.CutSuffix(u.Scheme, "+cluster"); ok && (base == "redis" || base == "rediss") {
		u.Scheme, cl.On = base, true
	}
	q := u.Query()
	if cl.On {
		cl.Seeds = append([]string{u.Host}, q["addr"]...)
		q.Del("addr")
		if u.Path != "" && u.Path != "/" && u.Path != "/0" {
			return nil, cl, fmt.Errorf("%w: %q: a cluster has only database 0", ErrBadURL, u.Redacted())
		}
	}
	shown := u.Redacted()
	switch u.Scheme {
	case "redis", "rediss", "unix":
	case "":
		return nil, cl, fmt.Errorf("%w: %q has no scheme (want redis://, rediss://, unix:// or redis+cluster://)", ErrBadURL, shown)
	default:
		return nil, cl, fmt.Errorf("%w: %q: scheme %q is not Redis (want redis://, rediss://, unix:// or redis+cluster://)", ErrBadURL, shown, u.Scheme)
	}
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
		return nil, cl, fmt.Errorf("%w: %q: %s", ErrBadURL, shown, msg)
	}
	opts.DialTimeout = 2 * time.Second
	opts.ReadTimeout = 3 * time.Second
	opts.WriteTimeout = 3 * time.Second
	// Our own callers retry where a retry is safe; a blind retry of a pipelined XADD
	// could store lines twice.
	opts.MaxRetries = -1
	return opts, cl, nil
}
