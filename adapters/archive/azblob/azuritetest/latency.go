package azuritetest

import (
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"
)

// LatencyProxy is a loopback HTTP proxy in front of a Blob endpoint that holds every
// request for Delay before passing it on: Azure Blob Storage's per-request latency
// (5-30 ms) on a machine where Azurite answers in well under one.
type LatencyProxy struct {
	URL   string // the proxy's base URL
	Delay time.Duration
}

// Latency starts a proxy to s that delays each request by d, for t.
func (s *Server) Latency(t testing.TB, d time.Duration) *LatencyProxy {
	t.Helper()
	target, _ := url.Parse("http://127.0.0.1:" + strconv.Itoa(s.Port))
	rp := httputil.NewSingleHostReverseProxy(target)
	rp.Transport = &http.Transport{MaxIdleConnsPerHost: 256}
	p := &LatencyProxy{Delay: d}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-time.After(p.Delay):
		case <-r.Context().Done():
			return
		}
		rp.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	p.URL = srv.URL
	return p
}

// ConnectionString is the development account's connection string through the proxy.
func (p *LatencyProxy) ConnectionString() string {
	return "DefaultEndpointsProtocol=http;AccountName=" + Account + ";AccountKey=" + Key +
		";BlobEndpoint=" + strings.TrimSuffix(p.URL, "/") + "/" + Account + ";"
}
