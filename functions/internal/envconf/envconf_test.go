package envconf

import (
	"strings"
	"testing"
	"time"
)

func env(kv ...string) Getenv {
	m := map[string]string{}
	for i := 0; i < len(kv); i += 2 {
		m[kv[i]] = kv[i+1]
	}
	return func(k string) string { return m[k] }
}

func TestLoadRedis(t *testing.T) {
	r, err := LoadRedis(env("CELERY_BROKER_URL", "redis://h:1/3", "BLASTLOG_STREAM_MAXLEN", "100", "BLASTLOG_RETENTION", "1h"), true)
	if err != nil || r.Options.Addr != "h:1" || r.Options.DB != 3 || r.Layout.MaxLen != 100 || r.Layout.Retention != time.Hour || r.Auth != "password" {
		t.Fatalf("%+v %v", r, err)
	}
	for _, c := range []struct {
		g    Getenv
		name string
	}{
		{env(), "BLASTLOG_REDIS_URL is not set"},
		{env("BLASTLOG_REDIS_URL", "redis://h", "BLASTLOG_STREAM_MAXLEN", "ten"), "BLASTLOG_STREAM_MAXLEN"},
		{env("BLASTLOG_REDIS_URL", "redis://h", "BLASTLOG_RETENTION", "-1h"), "BLASTLOG_RETENTION"},
		{env("BLASTLOG_REDIS_URL", "redis://h", "BLASTLOG_REDIS_AUTH", "kerberos"), "BLASTLOG_REDIS_AUTH"},
		{env("CELERY_BROKER_URL", "amqp://x"), "CELERY_BROKER_URL"},
	} {
		if _, err := LoadRedis(c.g, true); err == nil || !strings.Contains(err.Error(), c.name) {
			t.Errorf("want an error naming %s, got %v", c.name, err)
		}
	}
	if _, err := LoadRedis(env("CELERY_BROKER_URL", "redis://h"), false); err == nil {
		t.Error("the Celery fallback was used where it is not wanted")
	}
}
