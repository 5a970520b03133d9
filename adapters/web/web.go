package web

import (
	"bytes"
	"embed"
	"encoding/json"
	"io/fs"
	"net/http"
)

//go:embed static
var static embed.FS

// Config is what the page needs from the server.
type Config struct {
	DevBypass bool   `json:"devBypass"` // send X-Dev-User instead of a bearer token
	DevUser   string `json:"devUser,omitempty"`
}

// Routes returns the page at "/" and its files under "/static/".
func Routes(c Config) map[string]http.Handler {
	sub, _ := fs.Sub(static, "static")
	raw, _ := fs.ReadFile(sub, "index.html")
	js, _ := json.Marshal(c) // escapes <, > and &: safe inside the script element
	page := bytes.Replace(raw, []byte("{{CONFIG}}"), js, 1)
	files := http.StripPrefix("/static/", http.FileServerFS(sub))
	icon, _ := fs.ReadFile(sub, "favicon.svg")
	return map[string]http.Handler{
		"GET /{$}": http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			secure(w)
			w.Header().Set("Content-Type", "text/html; charset=utf-8")
			w.Header().Set("Cache-Control", "no-store")
			w.Write(page)
		}),
		// Browsers ask for /favicon.ico whatever the page says: the same icon, as SVG.
		"GET /favicon.ico": http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			secure(w)
			w.Header().Set("Content-Type", "image/svg+xml")
			w.Header().Set("Cache-Control", "max-age=86400")
			w.Write(icon)
		}),
		"GET /static/": http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			secure(w)
			w.Header().Set("Cache-Control", "no-cache")
			files.ServeHTTP(w, r)
		}),
	}
}

func secure(w http.ResponseWriter) {
	h := w.Header()
	h.Set("Content-Security-Policy", "default-src 'self'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self' data:; frame-ancestors 'none'")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Referrer-Policy", "no-referrer")
}
