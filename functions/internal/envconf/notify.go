package envconf

import (
	"errors"
	"fmt"
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
	if n.PublicURL = strings.TrimSuffix(g("BLASTLOG_PUBLIC_URL"), "/"); n.PublicURL != "" {
		if u, err := url.Parse(n.PublicURL); err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
			return n, errors.New("BLASTLOG_PUBLIC_URL must be the page's http(s) base URL")
		}
	}
	return n, nil
}
