package web

import (
	"compress/gzip"
	"crypto/sha256"
	"encoding/hex"
	"io"
	"io/fs"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

func serve(t *testing.T, c Config) *httptest.Server {
	mux := http.NewServeMux()
	for pattern, h := range Routes(c) {
		mux.Handle(pattern, h)
	}
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return srv
}

func get(t *testing.T, u string, header ...string) (*http.Response, []byte) {
	req, _ := http.NewRequest("GET", u, nil)
	for i := 0; i < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	// The transport would ask for gzip and undo it itself: the test asks by hand.
	res, err := (&http.Transport{DisableCompression: true}).RoundTrip(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return res, b
}

// The policy opens the authority's origin to fetch only, and only with sign-in.
func TestPolicy(t *testing.T) {
	dev := serve(t, Config{DevBypass: true})
	res, body := get(t, dev.URL+"/")
	csp := res.Header.Get("Content-Security-Policy")
	if !strings.Contains(csp, "connect-src 'self';") || !strings.Contains(csp, "frame-src 'none'") || strings.Contains(string(body), "signIn") {
		t.Fatalf("dev-bypass: %s", csp)
	}
	in := serve(t, Config{SignIn: &SignIn{ClientID: "page", Authority: "https://login.microsoftonline.us/t", Scope: "api://a/Logs.Read"}})
	res, body = get(t, in.URL+"/")
	csp = res.Header.Get("Content-Security-Policy")
	if !strings.Contains(csp, "connect-src 'self' https://login.microsoftonline.us;") || !strings.Contains(csp, "script-src 'self';") ||
		strings.Count(csp, "login.microsoftonline.us") != 1 {
		t.Fatalf("sign-in: %s", csp)
	}
	if !strings.Contains(string(body), `"signIn":{"clientId":"page","authority":"https://login.microsoftonline.us/t","scope":"api://a/Logs.Read"}`) {
		t.Fatalf("the page is not told how to sign in: %s", body)
	}
}

// Text files go gzip'd with an ETag to browsers that take it, as they are otherwise.
func TestStaticFilesGzipped(t *testing.T) {
	srv := serve(t, Config{})
	_, plain := get(t, srv.URL+"/static/vendor/msal-browser.min.js")
	res, zipped := get(t, srv.URL+"/static/vendor/msal-browser.min.js", "Accept-Encoding", "br, gzip;q=0.8")
	if res.Header.Get("Content-Encoding") != "gzip" || !strings.HasPrefix(res.Header.Get("Content-Type"), "text/javascript") || len(zipped) > len(plain)/3 {
		t.Fatalf("%v: %d bytes of %d", res.Header, len(zipped), len(plain))
	}
	zr, err := gzip.NewReader(strings.NewReader(string(zipped)))
	if err != nil {
		t.Fatal(err)
	}
	if un, _ := io.ReadAll(zr); string(un) != string(plain) {
		t.Fatal("the gzip'd file is not the file")
	}
	if res, b := get(t, srv.URL+"/static/vendor/msal-browser.min.js", "Accept-Encoding", "gzip", "If-None-Match", res.Header.Get("ETag")); res.StatusCode != http.StatusNotModified || len(b) != 0 {
		t.Fatalf("again with its ETag: %d, %d bytes", res.StatusCode, len(b))
	}
	if res, _ := get(t, srv.URL+"/static/page.js", "Accept-Encoding", "gzip;q=0"); res.Header.Get("Content-Encoding") != "" {
		t.Fatal("gzip sent to a client that refuses it")
	}
}

// The sign-in library is the pinned release of @azure/msal-browser (vendored by
// `go tool task vendor:msal`), with its licence.
func TestSignInLibraryIsPinned(t *testing.T) {
	lib, err := fs.ReadFile(static, "static/vendor/msal-browser.min.js")
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(lib)
	if got := hex.EncodeToString(sum[:]); got != msalSHA256 || !strings.HasPrefix(string(lib), "/*! @azure/msal-browser v"+msalVersion+" ") {
		t.Fatalf("vendor/msal-browser.min.js is not @azure/msal-browser %s (sha256 %s)", msalVersion, got)
	}
	if licence, err := fs.ReadFile(static, "static/vendor/msal-browser.LICENSE.txt"); err != nil || !strings.HasPrefix(string(licence), "MIT License") {
		t.Fatalf("the licence: %v", err)
	}
}

// The sign-in library: @azure/msal-browser's lib/msal-browser.min.js, this release.
const (
	msalVersion = "5.29.0"
	msalSHA256  = "1b20f9bfbabb2e33801042563761794b7818aa774606e4ed1ccb1ada6a18ce03"
)
