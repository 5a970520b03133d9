package awslambda

import (
	"context"
	"encoding/base64"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/aws/aws-lambda-go/events"
)

func TestRequestAndResponseMapping(t *testing.T) {
	var seen *http.Request
	var body string
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		seen = r
		b, _ := io.ReadAll(r.Body)
		body = string(b)
		http.SetCookie(w, &http.Cookie{Name: "a", Value: "1"})
		http.SetCookie(w, &http.Cookie{Name: "b", Value: "2"})
		w.Header().Add("Vary", "Origin")
		w.Header().Add("Vary", "Accept")
		w.WriteHeader(http.StatusCreated)
		w.Write([]byte{0xff, 0x00, 'x'})
	})
	ev := events.APIGatewayV2HTTPRequest{
		RawPath: "/api/blast/logs/job%2Fx/ticket", RawQueryString: "a=1&b=%20",
		Headers: map[string]string{"authorization": "Bearer t", "host": "h.example"},
		Cookies: []string{"s=1", "t=2"}, Body: base64.StdEncoding.EncodeToString([]byte("{}")), IsBase64Encoded: true,
		RequestContext: events.APIGatewayV2HTTPRequestContext{HTTP: events.APIGatewayV2HTTPRequestContextHTTPDescription{
			Method: "POST", SourceIP: "203.0.113.7"}},
	}
	res, err := Handler(h)(context.Background(), ev)
	if err != nil {
		t.Fatal(err)
	}
	if seen.Method != "POST" || seen.URL.EscapedPath() != "/api/blast/logs/job%2Fx/ticket" || seen.URL.Path != "/api/blast/logs/job/x/ticket" ||
		seen.URL.Query().Get("b") != " " || seen.Header.Get("Authorization") != "Bearer t" || seen.Host != "h.example" ||
		seen.Header.Get("Cookie") != "s=1; t=2" || body != "{}" || seen.RemoteAddr != "203.0.113.7" {
		t.Fatalf("request %+v body %q", seen, body)
	}
	if res.StatusCode != 201 || res.Headers["Vary"] != "Origin, Accept" || len(res.Cookies) != 2 || !res.IsBase64Encoded {
		t.Fatalf("response %+v", res)
	}
	if b, _ := base64.StdEncoding.DecodeString(res.Body); string(b) != "\xff\x00x" {
		t.Fatalf("body %q", b)
	}
}

func TestBounds(t *testing.T) {
	big := events.APIGatewayV2HTTPRequest{RawPath: "/", Body: strings.Repeat("a", MaxBody+1)}
	big.RequestContext.HTTP.Method = "POST"
	if res, _ := Handler(http.NotFoundHandler())(context.Background(), big); res.StatusCode != 400 {
		t.Fatalf("oversized request: %d", res.StatusCode)
	}
	bad := events.APIGatewayV2HTTPRequest{RawPath: "/", Body: "%%%", IsBase64Encoded: true}
	if res, _ := Handler(http.NotFoundHandler())(context.Background(), bad); res.StatusCode != 400 {
		t.Fatalf("bad base64: %d", res.StatusCode)
	}
	huge := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.Write(make([]byte, MaxBody+1)) })
	if res, _ := Handler(huge)(context.Background(), events.APIGatewayV2HTTPRequest{RawPath: "/"}); res.StatusCode != 500 {
		t.Fatalf("oversized response: %d", res.StatusCode)
	}
}
