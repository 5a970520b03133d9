package envconf

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/blastlog/blastlog/adapters/prices"
	"github.com/blastlog/blastlog/adapters/prices/pricestest"
	"github.com/blastlog/blastlog/core/diagnose"
	"github.com/blastlog/blastlog/core/target"
	"github.com/blastlog/blastlog/ports"
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

func TestLoadSpool(t *testing.T) {
	s, err := LoadSpool(env("XDG_CACHE_HOME", "/c"))
	if err != nil || s.Dir != "/c/blastlog/spool" || s.Max != 256<<20 || s.FlushTimeout != 30*time.Second {
		t.Fatalf("%+v %v", s, err)
	}
	if s, _ := LoadSpool(env("HOME", "/home/u")); s.Dir != "/home/u/.cache/blastlog/spool" {
		t.Fatalf("without XDG_CACHE_HOME: %q", s.Dir)
	}
	if _, err := LoadSpool(env()); err == nil {
		t.Fatal("no HOME, no XDG_CACHE_HOME, no BLASTLOG_SPOOL_DIR: accepted")
	}
	s, err = LoadSpool(env("BLASTLOG_SPOOL_DIR", "/s", "BLASTLOG_SPOOL_MAX", "64KiB", "BLASTLOG_FLUSH_TIMEOUT", "5s"))
	if err != nil || s.Dir != "/s" || s.Max != 64<<10 || s.FlushTimeout != 5*time.Second {
		t.Fatalf("%+v %v", s, err)
	}
	for _, v := range []string{"-1", "1TB", "MiB", "2000GiB", "1.5MiB"} {
		if _, err := LoadSpool(env("BLASTLOG_SPOOL_DIR", "/s", "BLASTLOG_SPOOL_MAX", v)); err == nil || !strings.Contains(err.Error(), "BLASTLOG_SPOOL_MAX") {
			t.Errorf("%s: %v", v, err)
		}
	}
	if s, _ := LoadSpool(env("BLASTLOG_SPOOL_MAX", "1048576", "BLASTLOG_SPOOL_DIR", "/s")); s.Max != 1<<20 {
		t.Fatalf("plain bytes: %d", s.Max)
	}
}

func TestLoadNotify(t *testing.T) {
	n, err := LoadNotify(env())
	if err != nil || n.Enabled() || strings.Join(n.On, ",") != "failed,stuck,idle" || n.Format != "json" {
		t.Fatalf("defaults: %+v %v", n, err)
	}
	n, err = LoadNotify(env("BLASTLOG_NOTIFY_URLS", " https://hooks.example.org/a?code=x , http://127.0.0.1:9/b", "BLASTLOG_NOTIFY_ON", "oomkilled,succeeded",
		"BLASTLOG_NOTIFY_FORMAT", "teams", "BLASTLOG_PUBLIC_URL", "https://blastlog.example.org/", "BLASTLOG_NOTIFY_SECRET", "s"))
	if err != nil || len(n.URLs) != 2 || strings.Join(n.On, ",") != "oomkilled,succeeded" || n.Format != "teams" ||
		n.PublicURL != "https://blastlog.example.org" || n.Secret != "s" {
		t.Fatalf("%+v %v", n, err)
	}
	for _, bad := range [][]string{{"BLASTLOG_NOTIFY_URLS", "http://example.org/hook?code=topsecret"}, {"BLASTLOG_NOTIFY_ON", "failed,exploded"},
		{"BLASTLOG_NOTIFY_FORMAT", "xml"}, {"BLASTLOG_PUBLIC_URL", "ftp://x"}} {
		_, err := LoadNotify(env(bad...))
		if err == nil || !strings.Contains(err.Error(), bad[0]) || strings.Contains(err.Error(), "topsecret") {
			t.Errorf("%v: %v", bad, err)
		}
	}
}

func TestLoadPublicURL(t *testing.T) {
	for raw, want := range map[string]string{"": "", "https://blastlog.example.org/": "https://blastlog.example.org",
		"http://127.0.0.1:8080": "http://127.0.0.1:8080", "http://localhost:8080/": "http://localhost:8080", "http://[::1]:9": "http://[::1]:9"} {
		if got, err := LoadPublicURL(env("BLASTLOG_PUBLIC_URL", raw)); err != nil || got != want {
			t.Errorf("%q: %q %v", raw, got, err)
		}
	}
	for _, bad := range []string{"ftp://x", "http://blastlog.example.org", "http://10.0.0.1:8080", "https://x.example.org/blastlog",
		"https://x.example.org/?run=1", "https://u:p@x.example.org", "blastlog.example.org"} {
		if _, err := LoadPublicURL(env("BLASTLOG_PUBLIC_URL", bad)); err == nil || !strings.Contains(err.Error(), "BLASTLOG_PUBLIC_URL") {
			t.Errorf("%q: %v", bad, err)
		}
	}
}

func TestLoadAuthSignIn(t *testing.T) {
	entraEnv := []string{"BLASTLOG_ENTRA_TENANT_ID", "t", "BLASTLOG_ENTRA_CLIENT_ID", "api", "BLASTLOG_ENTRA_SCOPE", "Logs.Read"}
	a, err := LoadAuth(env(entraEnv...))
	if err != nil || a.Entra.Authority != "https://login.microsoftonline.com" || a.PageClientID != "api" {
		t.Fatalf("defaults: %+v %v", a, err)
	}
	a, err = LoadAuth(env(append(entraEnv, "BLASTLOG_ENTRA_AUTHORITY", "https://login.microsoftonline.us/", "BLASTLOG_PAGE_CLIENT_ID", "page",
		"BLASTLOG_ENTRA_ALLOWED_CLIENTS", "cli")...))
	if err != nil || a.Entra.Authority != "https://login.microsoftonline.us" || a.PageClientID != "page" || strings.Join(a.Entra.AllowedClients, ",") != "cli,page" {
		t.Fatalf("%+v %v", a, err)
	}
	for _, bad := range []string{"http://login.microsoftonline.com", "https://login.microsoftonline.com/tenant", "login.microsoftonline.com", "https://x/?a=b"} {
		if _, err := LoadAuth(env(append(entraEnv, "BLASTLOG_ENTRA_AUTHORITY", bad)...)); err == nil || !strings.Contains(err.Error(), "BLASTLOG_ENTRA_AUTHORITY") {
			t.Errorf("%q: %v", bad, err)
		}
	}
}

func TestLoadPrices(t *testing.T) {
	e32 := []target.Node{{InstanceType: "Standard_E32s_v3", Region: "eastus"}, {InstanceType: "Standard_E32s_v3", Region: "eastus", Spot: true}}
	priced := func(b ports.PriceBook) diagnose.Prices {
		p, _ := b.Prices(context.Background(), e32)
		return p
	}
	if b, err := LoadPrices(env(), nil); err != nil || b != nil {
		t.Fatalf("unset: %+v %v", b, err)
	}
	if b, err := LoadPrices(env(), []byte(`{"Standard_E32s_v3": 2.016}`)); err != nil || priced(b).USD["Standard_E32s_v3"] != 2.016 || priced(b).Source != "file" {
		t.Fatalf("the fallback: %+v %v", b, err)
	}
	path := filepath.Join(t.TempDir(), "prices.json")
	os.WriteFile(path, []byte(`{"Standard_E32s_v3": 2.016, "Standard_E32s_v3/spot": 0.40}`), 0o600)
	if b, err := LoadPrices(env("BLASTLOG_PRICES", path), nil); err != nil || priced(b).USD["Standard_E32s_v3/spot"] != 0.4 {
		t.Fatalf("a file: %+v %v", b, err)
	}
	for _, bad := range []string{`[1,2]`, `{"x": -1}`, `{"": 1}`, `{"x": "2"}`} {
		os.WriteFile(path, []byte(bad), 0o600)
		if _, err := LoadPrices(env("BLASTLOG_PRICES", path), nil); err == nil || !strings.Contains(err.Error(), "BLASTLOG_PRICES") {
			t.Errorf("%s: %v", bad, err)
		}
	}
	if _, err := LoadPrices(env("BLASTLOG_PRICES", filepath.Join(t.TempDir(), "none.json")), nil); err == nil || !strings.Contains(err.Error(), "BLASTLOG_PRICES") {
		t.Errorf("a missing file: %v", err)
	}
	// azure: the Retail Prices API, at BLASTLOG_PRICES_URL when set.
	api := pricestest.New(t, pricestest.Price{Region: "eastus", Type: "Standard_E32s_v3", USD: 2.016, Spot: 0.4032})
	b, err := LoadPrices(env("BLASTLOG_PRICES", "azure", "BLASTLOG_PRICES_URL", api.URL), nil)
	if p := priced(b); err != nil || p.Source != "azure" || p.USD["Standard_E32s_v3"] != 2.016 || p.USD["Standard_E32s_v3/spot"] != 0.4032 {
		t.Fatalf("azure: %+v %v", p, err)
	}
	if b, err := LoadPrices(env("BLASTLOG_PRICES", "azure"), nil); err != nil || b.(*prices.Azure).URL != prices.DefaultAzureURL {
		t.Fatalf("azure's default URL: %v", err)
	}
	for _, bad := range []string{"ftp://x/", "https://user:pw@x/", "/relative", "https://"} {
		if _, err := LoadPrices(env("BLASTLOG_PRICES", "azure", "BLASTLOG_PRICES_URL", bad), nil); err == nil || !strings.Contains(err.Error(), "BLASTLOG_PRICES_URL") {
			t.Errorf("%s: %v", bad, err)
		}
	}
}
