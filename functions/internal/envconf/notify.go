package envconf

import (
	"errors"
	"fmt"
	"net"
	"net/url"
	"strings"

	"github.com/blastlog/blastlog/adapters/webhook"
	"github.com/blastlog/blastlog/core/app/notify"
)

// Notify is the notifications' configuration (BLASTLOG_NOTIFY_*): off without URLs.
type Notify struct {
	URLs      []string
	On        []string
	Format    string
	PublicURL string
	Secret    string // never logged
}

// Enabled reports whether notifications are configured.
func (n Notify) Enabled() bool { return len(n.URLs) > 0 }

// LoadNotify reads BLASTLOG_NOTIFY_URLS, _ON, _FORMAT, _SECRET and BLASTLOG_PUBLIC_URL.
func LoadNotify(g Getenv) (Notify, error) {
	var n Notify
	for _, u := range strings.Split(g("BLASTLOG_NOTIFY_URLS"), ",") {
		if u = strings.TrimSpace(u); u == "" {
			continue
		}
		if err := webhook.CheckURL(u); err != nil {
			return n, fmt.Errorf("BLASTLOG_NOTIFY_URLS: %w", err)
		}
		n.URLs = append(n.URLs, u)
	}
	on := g("BLASTLOG_NOTIFY_ON")
	if on == "" {
		on = strings.Join(notify.DefaultKinds, ",")
	}
	var err error
	if n.On, err = notify.ParseKinds(on); err != nil {
		return n, fmt.Errorf("BLASTLOG_NOTIFY_ON: %w", err)
	}
	if n.Format, err = g.OneOf("BLASTLOG_NOTIFY_FORMAT", webhook.FormatJSON, webhook.FormatJSON, webhook.FormatTeams, webhook.FormatSlack); err != nil {
		return n, err
	}
	n.Secret = g("BLASTLOG_NOTIFY_SECRET")
	n.PublicURL, err = LoadPublicURL(g)
	return n, err
}

// LoadPublicURL reads BLASTLOG_PUBLIC_URL, the page's base URL ("" when unset) as
// users reach it: the link in a message and the sign-in's redirect URI. It is
// https, or http on a loopback host only (a browser sends a sign-in's answer to
// plain http nowhere else), with no path, query or fragment: the page is at "/".
func LoadPublicURL(g Getenv) (string, error) {
	raw := strings.TrimSuffix(g("BLASTLOG_PUBLIC_URL"), "/")
	if raw == "" {
		return "", nil
	}
	u, err := url.Parse(raw)
	switch {
	case err != nil || u.Host == "" || u.User != nil || (u.Scheme != "https" && u.Scheme != "http"):
		return "", errors.New("BLASTLOG_PUBLIC_URL must be the page's base URL, such as https://blastlog.example.org")
	case u.Scheme == "http" && !loopback(u.Hostname()):
		return "", errors.New("BLASTLOG_PUBLIC_URL must be https (http only on a loopback host such as 127.0.0.1)")
	case u.Path != "" || u.RawQuery != "" || u.Fragment != "" || strings.HasSuffix(u.Host, ":"):
		return "", errors.New("BLASTLOG_PUBLIC_URL is the page's base URL: scheme and host only, the page is served at /")
	}
	return raw, nil
}

// loopback reports whether host names this machine.
func loopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}
