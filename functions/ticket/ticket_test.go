package main

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-lambda-go/lambda"
	"github.com/redis/go-redis/v9"
	"go.uber.org/fx"
	"go.uber.org/goleak"

	"github.com/blastlog/blastlog/adapters/archive/fsdir"
	"github.com/blastlog/blastlog/adapters/awslambda"
	"github.com/blastlog/blastlog/adapters/entra/entratest"
	"github.com/blastlog/blastlog/adapters/redisstore"
	"github.com/blastlog/blastlog/adapters/redisstore/redistest"
	"github.com/blastlog/blastlog/core/app"
	"github.com/blastlog/blastlog/core/chunk"
	"github.com/blastlog/blastlog/core/job"
	"github.com/blastlog/blastlog/core/ticket"
	"github.com/blastlog/blastlog/internal/testio"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

type stack struct {
	url   string
	srv   *redistest.Server
	jwks  *entratest.JWKS
	key   entratest.Key
	logs  *testio.Buffer
	h     http.Handler
	owner string
}

func env(kv map[string]string) func(string) string { return func(k string) string { return kv[k] } }

func start(t *testing.T, extra map[string]string) *stack {
	t.Helper()
	srv := redistest.Start(t)
	s := startOn(t, srv.URL(), srv.Client(t), extra)
	s.srv = srv
	return s
}

// startOn starts the ticket function on the Redis at url (rdb: a client of it).
func startOn(t *testing.T, url string, rdb redis.UniversalClient, extra map[string]string) *stack {
	t.Helper()
	s := &stack{key: entratest.NewKey(t, "k1"), logs: &testio.Buffer{}}
	s.jwks = entratest.NewJWKS(t, s.key)
	vars := map[string]string{"BLASTLOG_REDIS_URL": url, "BLASTLOG_ADDR": "127.0.0.1:0",
		"BLASTLOG_ENTRA_TENANT_ID": entratest.Tenant, "BLASTLOG_ENTRA_CLIENT_ID": entratest.Client,
		"BLASTLOG_ENTRA_SCOPE": entratest.Scope, "BLASTLOG_ENTRA_JWKS_URL": s.jwks.URL}
	for k, v := range extra {
		vars[k] = v
	}
	cfg, err := load(env(vars))
	if err != nil {
		t.Fatal(err)
	}
	var srv *http.Server
	a := fx.New(options(cfg, true), fx.Populate(&s.h),
		fx.Decorate(func() *slog.Logger {
			return slog.New(slog.NewJSONHandler(s.logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
		}),
		fx.Invoke(func(hs *http.Server) { srv = hs }))
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := a.Start(ctx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { a.Stop(context.Background()) })
	s.url = "http://" + srv.Addr
	dir := redisstore.NewJobDirectory(rdb, redisstore.Config{})
	s.owner = entratest.OID
	for id, owner := range map[string]string{"run-42": s.owner, "run-other": "someone-else", "elb:job.v2_1": s.owner} {
		if err := dir.Register(context.Background(), job.Record{JobID: id, OwnerOID: owner}); err != nil {
			t.Fatal(err)
		}
	}
	return s
}

func (s *stack) token(t *testing.T) string { return entratest.Sign(t, s.key, entratest.Claims()) }

type reply struct {
	status int
	header http.Header
	body   string
}

func (s *stack) post(t *testing.T, path, token string) reply {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, s.url+path, strings.NewReader(`{"cluster_name":"attacker","namespace":"kube-system"}`))
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return reply{res.StatusCode, res.Header, string(b)}
}

func errCode(t *testing.T, r reply) string {
	var e struct{ Error, Message string }
	if err := json.Unmarshal([]byte(r.body), &e); err != nil || e.Message == "" {
		t.Fatalf("error body %q", r.body)
	}
	return e.Error
}

func TestTicketFlow(t *testing.T) {
	s := start(t, nil)
	tok := s.token(t)

	anon := s.post(t, "/api/blast/logs/run-42/ticket", "")
	if anon.status != 401 || errCode(t, anon) != "unauthorized" || !strings.HasPrefix(anon.header.Get("WWW-Authenticate"), "Bearer") {
		t.Fatalf("anonymous: %+v", anon)
	}
	bad := s.post(t, "/api/blast/logs/run-42/ticket", "not-a-token")
	if bad.status != 401 {
		t.Fatalf("bad token: %d", bad.status)
	}

	other := s.post(t, "/api/blast/logs/run-other/ticket", tok)
	unknown := s.post(t, "/api/blast/logs/run-nope/ticket", tok)
	if other.status != 404 || unknown.status != 404 || other.body != unknown.body || errCode(t, other) != "job_not_found" {
		t.Fatalf("not owned %d %q vs unknown %d %q", other.status, other.body, unknown.status, unknown.body)
	}

	ok := s.post(t, "/api/blast/logs/run-42/ticket", tok)
	if ok.status != 200 || ok.header.Get("Cache-Control") != "no-store" {
		t.Fatalf("owner: %+v", ok)
	}
	var got struct {
		Ticket     string `json:"ticket"`
		TTLSeconds int    `json:"ttl_seconds"`
		ExpiresAt  string `json:"expires_at"`
		EventsURL  string `json:"events_url"`
	}
	json.Unmarshal([]byte(ok.body), &got)
	if len(got.Ticket) < 43 || got.TTLSeconds != 30 || got.EventsURL != "/api/blast/logs/run-42/events?ticket="+got.Ticket {
		t.Fatalf("%+v", got)
	}
	if exp, err := time.Parse(time.RFC3339, got.ExpiresAt); err != nil || time.Until(exp) > 31*time.Second {
		t.Fatalf("expires_at %q", got.ExpiresAt)
	}

	// Redis holds the hash, never the ticket.
	rdb := s.srv.Client(t)
	keys := rdb.Keys(context.Background(), "blastlog:ticket:*").Val()
	if len(keys) != 1 || keys[0] != "blastlog:ticket:"+ticket.Hash(got.Ticket) {
		t.Fatalf("ticket keys %v", keys)
	}
	if v := rdb.Get(context.Background(), keys[0]).Val(); strings.Contains(v, got.Ticket) || !strings.Contains(v, `"job_id":"run-42"`) {
		t.Fatalf("stored %q", v)
	}

	// Another process (the streaming container) redeems it exactly once.
	redeemer := &app.Tickets{Store: redisstore.NewTicketStore(s.srv.Client(t), redisstore.Config{})}
	if rec, err := redeemer.Redeem(context.Background(), got.Ticket, "run-42"); err != nil || rec.OwnerOID != s.owner || rec.Tenant != entratest.Tenant {
		t.Fatalf("redeem: %+v %v", rec, err)
	}
	if _, err := redeemer.Redeem(context.Background(), got.Ticket, "run-42"); err != ticket.ErrRejected {
		t.Fatalf("second redeem: %v", err)
	}

	// A job id of every character allowed round-trips.
	esc := s.post(t, "/api/blast/logs/elb:job.v2_1/ticket", tok)
	if esc.status != 200 || !strings.Contains(esc.body, `/api/blast/logs/elb:job.v2_1/events?ticket=`) {
		t.Fatalf("id of every allowed character: %+v", esc)
	}

	// Nothing logged carries the token, a ticket or the Authorization header.
	logs := s.logs.String()
	for _, secret := range []string{tok, tok[:40], got.Ticket, got.Ticket[:20], "Bearer ey", "authorization"} {
		if strings.Contains(strings.ToLower(logs), strings.ToLower(secret)) {
			t.Fatalf("logs contain %q:\n%s", secret[:min(len(secret), 12)], logs)
		}
	}
	if !strings.Contains(logs, "ticket refused") {
		t.Fatalf("refusals were not logged at all:\n%s", logs)
	}
}

// On a Redis Cluster (a redis+cluster:// URL) a token's ticket is issued and another
// process redeems it once.
func TestTicketFlowOnARedisCluster(t *testing.T) {
	c := redistest.StartCluster(t)
	rdb := c.Client(t)
	s := startOn(t, c.URL(), rdb, nil)
	ok := s.post(t, "/api/blast/logs/run-42/ticket", s.token(t))
	var got struct{ Ticket string }
	if json.Unmarshal([]byte(ok.body), &got); ok.status != 200 || got.Ticket == "" {
		t.Fatalf("owner on a cluster: %+v", ok)
	}
	if other := s.post(t, "/api/blast/logs/run-other/ticket", s.token(t)); other.status != 404 {
		t.Fatalf("another's run: %d", other.status)
	}
	redeemer := &app.Tickets{Store: redisstore.NewTicketStore(rdb, redisstore.Config{})}
	if rec, err := redeemer.Redeem(context.Background(), got.Ticket, "run-42"); err != nil || rec.OwnerOID != s.owner {
		t.Fatalf("redeem: %+v %v", rec, err)
	}
	if _, err := redeemer.Redeem(context.Background(), got.Ticket, "run-42"); err != ticket.ErrRejected {
		t.Fatalf("second redeem: %v", err)
	}
}

func TestBadJobIDs(t *testing.T) {
	s := start(t, nil)
	tok := s.token(t)
	for _, p := range []string{"/api/blast/logs//ticket", "/api/blast/logs/a%00b/ticket", "/api/blast/logs/" + strings.Repeat("j", 129) + "/ticket"} {
		r := s.post(t, p, tok)
		if r.status != 400 || errCode(t, r) != "bad_job_id" {
			t.Errorf("%s: %d %s", p, r.status, r.body)
		}
	}
	// Ids that storage would take for another ("b run", "b;run" and "b/run" are all
	// "b_run" there) are refused, naming the characters allowed.
	for _, id := range []string{"b%20run", "b;run", "b%2Frun", "r%C3%A9sum%C3%A9", "job%2Fwith%20space"} {
		r := s.post(t, "/api/blast/logs/"+id+"/ticket", tok)
		if r.status != 400 || errCode(t, r) != "bad_job_id" || !strings.Contains(r.body, "letters, digits") {
			t.Errorf("%s: %d %s", id, r.status, r.body)
		}
	}
	req, _ := http.NewRequest(http.MethodGet, s.url+"/api/blast/logs/run-42/ticket", nil)
	res, _ := http.DefaultClient.Do(req)
	if res.StatusCode != 405 || res.Header.Get("Allow") != "POST" {
		t.Fatalf("GET: %d", res.StatusCode)
	}
	res.Body.Close()
}

func TestRateLimit(t *testing.T) {
	s := start(t, map[string]string{"BLASTLOG_TICKETS_PER_MINUTE": "3"})
	tok := s.token(t)
	for i := 0; i < 3; i++ {
		if r := s.post(t, "/api/blast/logs/run-42/ticket", tok); r.status != 200 {
			t.Fatalf("%d: %d", i, r.status)
		}
	}
	r := s.post(t, "/api/blast/logs/run-42/ticket", tok)
	if r.status != 429 || errCode(t, r) != "rate_limited" || r.header.Get("Retry-After") == "" {
		t.Fatalf("%+v", r)
	}
}

func TestUnavailable(t *testing.T) {
	s := start(t, nil)
	tok := s.token(t)
	s.srv.Stop()
	r := s.post(t, "/api/blast/logs/run-42/ticket", tok)
	if r.status != 503 || errCode(t, r) != "unavailable" {
		t.Fatalf("redis down: %+v", r)
	}
	ready, _ := http.Get(s.url + "/readyz")
	if ready.StatusCode != 503 {
		t.Fatalf("readyz with Redis down: %d", ready.StatusCode)
	}
	ready.Body.Close()
}

func TestKeySetUnreachableIs503(t *testing.T) {
	s := &stack{}
	srv := redistest.Start(t)
	k := entratest.NewKey(t, "k1")
	j := entratest.NewJWKS(t, k)
	j.Down.Store(true)
	cfg, err := load(env(map[string]string{"BLASTLOG_REDIS_URL": srv.URL(), "BLASTLOG_ENTRA_TENANT_ID": entratest.Tenant,
		"BLASTLOG_ENTRA_CLIENT_ID": entratest.Client, "BLASTLOG_ENTRA_SCOPE": entratest.Scope, "BLASTLOG_ENTRA_JWKS_URL": j.URL}))
	if err != nil {
		t.Fatal(err)
	}
	a := fx.New(options(cfg, false), fx.Populate(&s.h), fx.Decorate(func() *slog.Logger { return slog.New(slog.DiscardHandler) }))
	if err := a.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	defer a.Stop(context.Background())
	res := invoke(t, s.h, "apigw-v2.json", "run-42", entratest.Sign(t, k, entratest.Claims()))
	if res.StatusCode != 503 {
		t.Fatalf("%d %s", res.StatusCode, res.Body)
	}
}

func invoke(t *testing.T, h http.Handler, file, jobID, token string) events.APIGatewayV2HTTPResponse {
	t.Helper()
	raw, err := os.ReadFile("testdata/" + file)
	if err != nil {
		t.Fatal(err)
	}
	payload := strings.NewReplacer("{{JOB}}", jobID, "{{TOKEN}}", token).Replace(string(raw))
	out, err := lambda.NewHandler(awslambda.Handler(h)).Invoke(context.Background(), []byte(payload))
	if err != nil {
		t.Fatal(err)
	}
	var res events.APIGatewayV2HTTPResponse
	if err := json.Unmarshal(out, &res); err != nil {
		t.Fatal(err)
	}
	return res
}

// Lambda mode runs the same handler: the same answers for the same requests.
func TestLambdaModeMatchesHTTP(t *testing.T) {
	s := start(t, nil)
	tok := s.token(t)
	for _, file := range []string{"apigw-v2.json", "function-url.json"} {
		for _, c := range []struct {
			job, token string
			status     int
		}{{"run-42", tok, 200}, {"run-other", tok, 404}, {"run-nope", tok, 404}, {"run-42", "", 401}} {
			res := invoke(t, s.h, file, c.job, c.token)
			httpRes := s.post(t, "/api/blast/logs/"+c.job+"/ticket", c.token)
			if res.StatusCode != c.status || httpRes.status != c.status {
				t.Fatalf("%s %s: lambda %d http %d want %d (%s)", file, c.job, res.StatusCode, httpRes.status, c.status, res.Body)
			}
			if c.status != 200 && res.Body != httpRes.body {
				t.Fatalf("%s %s: bodies differ: %q vs %q", file, c.job, res.Body, httpRes.body)
			}
			if res.Headers["Cache-Control"] != "no-store" || res.Headers["Content-Type"] != "application/json" {
				t.Fatalf("%s: headers %v", file, res.Headers)
			}
		}
	}
}

func TestConfig(t *testing.T) {
	base := map[string]string{"BLASTLOG_REDIS_URL": "redis://127.0.0.1:1/0"}
	with := func(kv ...string) func(string) string {
		m := map[string]string{}
		for k, v := range base {
			m[k] = v
		}
		for i := 0; i < len(kv); i += 2 {
			m[kv[i]] = kv[i+1]
		}
		return env(m)
	}
	for _, c := range []struct {
		getenv func(string) string
		want   string
	}{
		{with("BLASTLOG_AUTH_MODE", "dev-bypass", "BLASTLOG_ENV", "production"), "refused when BLASTLOG_ENV=production"},
		{with(), "BLASTLOG_ENTRA_CLIENT_ID, BLASTLOG_ENTRA_SCOPE, BLASTLOG_ENTRA_TENANT_ID"},
		{with("BLASTLOG_AUTH_MODE", "dev-bypass", "BLASTLOG_TICKET_TTL", "1s"), "BLASTLOG_TICKET_TTL"},
		{with("BLASTLOG_AUTH_MODE", "magic"), "BLASTLOG_AUTH_MODE"},
		{env(map[string]string{"CELERY_BROKER_URL": "redis://h", "BLASTLOG_AUTH_MODE": "dev-bypass"}), "BLASTLOG_REDIS_URL is not set"},
	} {
		if _, err := load(c.getenv); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("want an error with %q, got %v", c.want, err)
		}
	}
	cfg, err := load(with("BLASTLOG_AUTH_MODE", "dev-bypass"))
	if err != nil {
		t.Fatal(err)
	}
	for _, serve := range []bool{true, false} {
		if err := fx.ValidateApp(options(cfg, serve)); err != nil {
			t.Fatal(err)
		}
	}
}

func TestDevBypassWarnsAtStart(t *testing.T) {
	s := start(t, map[string]string{"BLASTLOG_AUTH_MODE": "dev-bypass", "BLASTLOG_DEV_USER": entratest.OID})
	if !strings.Contains(s.logs.String(), "dev-bypass") {
		t.Fatalf("no warning: %s", s.logs.String())
	}
	if r := s.post(t, "/api/blast/logs/run-42/ticket", ""); r.status != 200 {
		t.Fatalf("dev user: %d %s", r.status, r.body)
	}
}

// A run Redis forgot (retention, FLUSHALL) keeps its owner in the archive's index: the
// ticket function reads it there, and answers others the same 404.
func TestArchivedRunKeepsItsOwner(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "archive")
	arch, err := fsdir.New(dir)
	if err != nil {
		t.Fatal(err)
	}
	s := start(t, map[string]string{"BLASTLOG_ARCHIVE": "dir", "BLASTLOG_ARCHIVE_DIR": dir})
	for id, owner := range map[string]string{"old-run": s.owner, "old-other": "someone-else"} {
		idx := chunk.NewIndex(id)
		idx.Record = chunk.Record{OwnerOID: owner, Status: job.Completed}
		idx.Complete = true
		if _, err := arch.PutIndex(context.Background(), idx, ""); err != nil {
			t.Fatal(err)
		}
	}
	tok := s.token(t)
	if r := s.post(t, "/api/blast/logs/old-run/ticket", tok); r.status != 200 {
		t.Fatalf("owner of an archived run: %+v", r)
	}
	other := s.post(t, "/api/blast/logs/old-other/ticket", tok)
	unknown := s.post(t, "/api/blast/logs/never-was/ticket", tok)
	if other.status != 404 || unknown.status != 404 || other.body != unknown.body {
		t.Fatalf("another's archived run %+v, unknown %+v", other, unknown)
	}
}

// An anonymous request with a huge job id must not write a huge log line: the id is
// cut before it is logged.
func TestHugeJobIDIsNotLoggedWhole(t *testing.T) {
	s := start(t, nil)
	huge := strings.Repeat("j", 100_000)
	if r := s.post(t, "/api/blast/logs/"+huge+"/ticket", s.token(t)); r.status != 400 {
		t.Fatalf("status %d", r.status)
	}
	for _, l := range strings.Split(s.logs.String(), "\n") {
		if len(l) > 2000 {
			t.Fatalf("a log line of %d bytes", len(l))
		}
	}
}
