package webhook

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/blastlog/blastlog/ports"
)

// Formats.
const (
	FormatJSON  = "json"
	FormatTeams = "teams"
	FormatSlack = "slack"
)

// Headers of a signed request.
const (
	HeaderTimestamp = "X-Blastlog-Timestamp"
	HeaderSignature = "X-Blastlog-Signature"
)

// Timeout bounds one request; a receiver that hangs is a failure to retry.
const Timeout = 10 * time.Second

// Sender posts messages to URLs, one receiver at a time (ports.NotificationSender).
type Sender struct {
	URLs   []string
	Format string
	Secret []byte // signs each request when set
	HTTP   *http.Client
	Logger *slog.Logger
}

var _ ports.NotificationSender = (*Sender)(nil)

// CheckURL accepts an https URL, or http to a loopback address (a receiver on the
// same machine, tests).
func CheckURL(raw string) error {
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" {
		return fmt.Errorf("%q is not a URL", Redact(raw))
	}
	switch u.Scheme {
	case "https":
		return nil
	case "http":
		if h := u.Hostname(); h == "localhost" || net.ParseIP(h) != nil && net.ParseIP(h).IsLoopback() {
			return nil
		}
	}
	return fmt.Errorf("%s: a webhook must be https (http only to loopback)", Redact(raw))
}

// Redact is how a webhook URL is logged: scheme and host only (a Teams or Slack
// webhook carries its secret in the path, others in the query).
func Redact(raw string) string {
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" {
		return "(a URL that does not parse)"
	}
	return u.Scheme + "://" + u.Host + "/…"
}

// Receivers is how many URLs a message goes to.
func (s *Sender) Receivers() int { return len(s.URLs) }

// Send posts m to receiver i. 429, 5xx and network failures are ports.RetryError
// (with the receiver's Retry-After); other answers are final.
func (s *Sender) Send(ctx context.Context, i int, m ports.Notification) error {
	body, err := Body(s.Format, m)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, Timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, s.URLs[i], bytes.NewReader(body))
	if err != nil {
		return fmt.Errorf("webhook %s: %w", Redact(s.URLs[i]), errors.Unwrap(err))
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "blastlog")
	if len(s.Secret) > 0 {
		ts := strconv.FormatInt(m.SentAt.Unix(), 10)
		req.Header.Set(HeaderTimestamp, ts)
		req.Header.Set(HeaderSignature, Sign(s.Secret, ts, body))
	}
	client := s.HTTP
	if client == nil {
		client = http.DefaultClient
	}
	res, err := client.Do(req)
	if err != nil {
		// The url.Error would name the whole URL: only its cause is kept.
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		return &ports.RetryError{Err: fmt.Errorf("webhook %s: %w", Redact(s.URLs[i]), err)}
	}
	defer res.Body.Close()
	io.Copy(io.Discard, io.LimitReader(res.Body, 64<<10))
	switch {
	case res.StatusCode >= 200 && res.StatusCode < 300:
		return nil
	case res.StatusCode == http.StatusTooManyRequests || res.StatusCode >= 500 || res.StatusCode == http.StatusRequestTimeout:
		e := &ports.RetryError{Err: fmt.Errorf("webhook %s: HTTP %d", Redact(s.URLs[i]), res.StatusCode)}
		if sec, err := strconv.Atoi(res.Header.Get("Retry-After")); err == nil && sec > 0 {
			e.After = time.Duration(sec) * time.Second
		} else if t, err := http.ParseTime(res.Header.Get("Retry-After")); err == nil {
			e.After = max(0, time.Until(t))
		}
		return e
	}
	return fmt.Errorf("webhook %s: HTTP %d (not retried)", Redact(s.URLs[i]), res.StatusCode)
}

// Sign is the signature header's value: "sha256=" and the hex HMAC-SHA256 of
// "<timestamp>.<body>".
func Sign(secret []byte, timestamp string, body []byte) string {
	mac := hmac.New(sha256.New, secret)
	mac.Write([]byte(timestamp))
	mac.Write([]byte{'.'})
	mac.Write(body)
	return "sha256=" + hex.EncodeToString(mac.Sum(nil))
}

// MaxAge is how old a signed request a receiver accepts (older: a replay).
const MaxAge = 5 * time.Minute

// Verify is what a receiver does with a request: the signature must be the body's
// under secret and the timestamp within MaxAge of now.
func Verify(secret []byte, timestamp, signature string, body []byte, now time.Time) error {
	sec, err := strconv.ParseInt(timestamp, 10, 64)
	if err != nil {
		return errors.New("no timestamp")
	}
	if d := now.Sub(time.Unix(sec, 0)); d > MaxAge || d < -MaxAge {
		return errors.New("the timestamp is more than 5 minutes away: a replay, or a clock far off")
	}
	if !hmac.Equal([]byte(Sign(secret, timestamp, body)), []byte(signature)) {
		return errors.New("the signature does not match the body")
	}
	return nil
}

// Body is m in format.
func Body(format string, m ports.Notification) ([]byte, error) {
	var v any
	switch format {
	case FormatJSON, "":
		if m.Causes == nil {
			m.Causes = []ports.NotificationCause{}
		}
		v = m
	case FormatTeams:
		v = teams(m)
	case FormatSlack:
		v = slack(m)
	default:
		return nil, fmt.Errorf("format %q is not json, teams or slack", format)
	}
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false) // the text as written: a receiver's JSON parser reads either
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return bytes.TrimSuffix(b.Bytes(), []byte("\n")), nil
}

func title(m ports.Notification) string {
	switch m.Kind {
	case ports.NotifyFailed:
		return "BLAST run " + m.JobID + " failed"
	case ports.NotifyStuck:
		return "BLAST run " + m.JobID + " is stuck"
	case ports.NotifyOOMKilled:
		return "BLAST run " + m.JobID + ": a batch ran out of memory"
	case ports.NotifySucceeded:
		return "BLAST run " + m.JobID + " succeeded"
	case ports.NotifyIdle:
		return "BLAST run " + m.JobID + ": its cluster is still up"
	}
	return "BLAST run " + m.JobID + ": " + m.Kind
}

// causeLine is a cause in one line: "batch 013: OOMKilled (exit 137) — hint".
func causeLine(c ports.NotificationCause) string {
	where := c.Batch
	if where == "" {
		where = c.Pod
	}
	if where == "" {
		where = c.Step
	}
	what := c.Reason
	if what == "" {
		what = c.Kind
	}
	if c.ExitCode != nil {
		what += fmt.Sprintf(" (exit %d)", *c.ExitCode)
	}
	s := strings.TrimSpace(where + ": " + what)
	if c.Hint != "" {
		s += " — " + c.Hint
	}
	return s
}

func teams(m ports.Notification) map[string]any {
	body := []any{
		map[string]any{"type": "TextBlock", "size": "Medium", "weight": "Bolder", "text": title(m), "wrap": true},
		map[string]any{"type": "TextBlock", "text": m.Headline, "wrap": true},
	}
	facts := []any{map[string]any{"title": "Run", "value": m.JobID}, map[string]any{"title": "State", "value": m.State}}
	if m.ELBJobID != "" {
		facts = append(facts, map[string]any{"title": "ElasticBLAST job", "value": m.ELBJobID})
	}
	body = append(body, map[string]any{"type": "FactSet", "facts": facts})
	for _, c := range m.Causes {
		body = append(body, map[string]any{"type": "TextBlock", "text": "• " + causeLine(c), "wrap": true})
	}
	card := map[string]any{"$schema": "http://adaptivecards.io/schemas/adaptive-card.json", "type": "AdaptiveCard",
		"version": "1.4", "body": body}
	if m.URL != "" {
		card["actions"] = []any{map[string]any{"type": "Action.OpenUrl", "title": "Open the run", "url": m.URL}}
	}
	return map[string]any{"type": "message", "attachments": []any{
		map[string]any{"contentType": "application/vnd.microsoft.card.adaptive", "contentUrl": nil, "content": card}}}
}

// slackEscape escapes what Slack's mrkdwn reads as markup.
func slackEscape(s string) string {
	return strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;").Replace(s)
}

func slack(m ports.Notification) map[string]any {
	text := title(m) + ": " + m.Headline
	blocks := []any{
		map[string]any{"type": "header", "text": map[string]any{"type": "plain_text", "text": title(m)}},
		map[string]any{"type": "section", "text": map[string]any{"type": "mrkdwn", "text": slackEscape(m.Headline)}},
	}
	if len(m.Causes) > 0 {
		var lines []string
		for _, c := range m.Causes {
			lines = append(lines, "• "+slackEscape(causeLine(c)))
		}
		blocks = append(blocks, map[string]any{"type": "section", "text": map[string]any{"type": "mrkdwn", "text": strings.Join(lines, "\n")}})
	}
	if m.URL != "" {
		blocks = append(blocks, map[string]any{"type": "actions", "elements": []any{map[string]any{"type": "button",
			"text": map[string]any{"type": "plain_text", "text": "Open the run"}, "url": m.URL}}})
	}
	return map[string]any{"text": slackEscape(text), "blocks": blocks}
}
