package web

import (
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"encoding/json"
	"io/fs"
	"net/http"
	"net/url"
	"path"
	"strings"
	"time"
)

//go:embed static
var static embed.FS

// Config is what the page needs from the server.
type Config struct {
	DevBypass bool    `json:"devBypass"` // send X-Dev-User instead of a bearer token
	DevUser   string  `json:"devUser,omitempty"`
	SignIn    *SignIn `json:"signIn,omitempty"` // the page signs its users in with Entra ID
}

// SignIn is the page's app registration and what it asks Entra ID for
// (docs/signin.md). None of it is secret: a single-page application has no secret.
type SignIn struct {
	ClientID  string `json:"clientId"`  // the page's app registration
	Authority string `json:"authority"` // <authority>/<tenant>
	Scope     string `json:"scope"`     // the API's delegated scope, api://<api>/<scope>
	// RedirectURI is where Entra ID sends the answer: BLASTLOG_PUBLIC_URL/, or the
	// page's own origin when that is unset.
	RedirectURI string `json:"redirectUri,omitempty"`
}

// Routes returns the page at "/" and its files under "/static/". Text files are
// sent gzip'd to browsers that take it (the sign-in library is 308 KB, 77 KB so).
func Routes(c Config) map[string]http.Handler {
	sub, _ := fs.Sub(static, "static")
	raw, _ := fs.ReadFile(sub, "index.html")
	js, _ := json.Marshal(c) // escapes <, > and &: safe inside the script element
	page := bytes.Replace(raw, []byte("{{CONFIG}}"), js, 1)
	csp := policy(c)
	files := http.StripPrefix("/static/", http.FileServerFS(sub))
	zipped := gzipped(sub)
	icon, _ := fs.ReadFile(sub, "favicon.svg")
	return map[string]http.Handler{
		"GET /{$}": http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			secure(w, csp)
			w.Header().Set("Content-Type", "text/html; charset=utf-8")
			w.Header().Set("Cache-Control", "no-store")
			w.Write(page)
		}),
		// Browsers ask for /favicon.ico whatever the page says: the same icon, as SVG.
		"GET /favicon.ico": http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			secure(w, csp)
			w.Header().Set("Content-Type", "image/svg+xml")
			w.Header().Set("Cache-Control", "max-age=86400")
			w.Write(icon)
		}),
		"GET /static/": http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			secure(w, csp)
			w.Header().Set("Cache-Control", "no-cache")
			w.Header().Add("Vary", "Accept-Encoding")
			name := strings.TrimPrefix(r.URL.Path, "/static/")
			if z, ok := zipped[name]; ok && acceptsGzip(r) {
				w.Header().Set("Content-Encoding", "gzip")
				w.Header().Set("Content-Type", z.ctype)
				w.Header().Set("ETag", z.etag)
				http.ServeContent(w, r, "", time.Time{}, bytes.NewReader(z.body))
				return
			}
			files.ServeHTTP(w, r)
		}),
	}
}

// policy is the page's Content-Security-Policy: its own origin only, and with
// sign-in the authority's origin for fetch (discovery and the token endpoint; the
// authorize and logout pages are top-level navigations, which the policy does not
// govern, and no frame of the authority is ever needed).
func policy(c Config) string {
	connect := "'self'"
	if c.SignIn != nil {
		if u, err := url.Parse(c.SignIn.Authority); err == nil && u.Scheme == "https" && u.Host != "" {
			connect += " https://" + u.Host
		}
	}
	return "default-src 'self'; script-src 'self'; style-src 'self'; connect-src " + connect +
		"; img-src 'self' data:; frame-src 'none'; frame-ancestors 'none'; form-action 'self'; base-uri 'none'; object-src 'none'"
}

func secure(w http.ResponseWriter, csp string) {
	h := w.Header()
	h.Set("Content-Security-Policy", csp)
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Referrer-Policy", "no-referrer")
}

type zipped struct {
	ctype, etag string
	body        []byte
}

// gzipped compresses the text files of the page once, at start.
func gzipped(sub fs.FS) map[string]zipped {
	out := map[string]zipped{}
	types := map[string]string{".js": "text/javascript; charset=utf-8", ".css": "text/css; charset=utf-8", ".svg": "image/svg+xml", ".txt": "text/plain; charset=utf-8"}
	fs.WalkDir(sub, ".", func(name string, d fs.DirEntry, err error) error {
		ctype, ok := types[path.Ext(name)]
		if err != nil || d.IsDir() || !ok {
			return err
		}
		raw, err := fs.ReadFile(sub, name)
		if err != nil {
			return err
		}
		var b bytes.Buffer
		zw, _ := gzip.NewWriterLevel(&b, gzip.BestCompression)
		zw.Write(raw)
		zw.Close()
		sum := sha256.Sum256(raw)
		out[name] = zipped{ctype, `"` + hex.EncodeToString(sum[:12]) + `-gz"`, b.Bytes()}
		return nil
	})
	return out
}

// acceptsGzip reports whether the request's Accept-Encoding takes gzip.
func acceptsGzip(r *http.Request) bool {
	for _, part := range strings.Split(r.Header.Get("Accept-Encoding"), ",") {
		name, q, _ := strings.Cut(strings.TrimSpace(part), ";")
		if strings.EqualFold(strings.TrimSpace(name), "gzip") && strings.ReplaceAll(strings.TrimSpace(q), " ", "") != "q=0" {
			return true
		}
	}
	return false
}
