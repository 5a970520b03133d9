package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/blastlog/blastlog/adapters/entra/entratest"
	"github.com/blastlog/blastlog/adapters/redisstore"
	"github.com/blastlog/blastlog/adapters/redisstore/redistest"
	"github.com/blastlog/blastlog/core/job"
	"github.com/blastlog/blastlog/core/ticket"
	"github.com/blastlog/blastlog/internal/testio"
)

// The ticket function built as Lambda runs it (a static bootstrap for
// provided.al2023) under Amazon's Runtime Interface Emulator, which plays the Lambda
// runtime API: the fx app starts in the init phase, API Gateway HTTP API events are
// answered, and SIGTERM stops it.
func TestLambdaModeUnderTheRuntimeInterfaceEmulator(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the bootstrap binary (-short)")
	}
	rie := testio.Tool(t, "lambdarie")
	dir := t.TempDir()
	build := exec.Command("go", "build", "-o", filepath.Join(dir, "bootstrap"), ".")
	build.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}

	srv := redistest.Start(t)
	rdb := srv.Client(t)
	for id, owner := range map[string]string{"run-42": entratest.OID, "run-other": "someone-else"} {
		if err := redisstore.NewJobDirectory(rdb, redisstore.Config{}).Register(context.Background(), job.Record{JobID: id, OwnerOID: owner}); err != nil {
			t.Fatal(err)
		}
	}
	key := entratest.NewKey(t, "k1")
	jwks := entratest.NewJWKS(t, key)
	invokeAddr, apiAddr := freeAddr(t), freeAddr(t)
	cmd := exec.Command(rie, "--runtime-interface-emulator-address", invokeAddr, "--runtime-api-address", apiAddr,
		filepath.Join(dir, "bootstrap"))
	cmd.Env = append(os.Environ(), "BLASTLOG_REDIS_URL="+srv.URL(), "BLASTLOG_ENTRA_TENANT_ID="+entratest.Tenant,
		"BLASTLOG_ENTRA_CLIENT_ID="+entratest.Client, "BLASTLOG_ENTRA_SCOPE="+entratest.Scope,
		"BLASTLOG_ENTRA_JWKS_URL="+jwks.URL)
	var out testio.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	t.Cleanup(func() {
		cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-exited:
		case <-time.After(10 * time.Second):
			cmd.Process.Kill()
			<-exited
			t.Errorf("the emulator did not stop on SIGTERM; its output:\n%s", out.String())
		}
	})

	tok := entratest.Sign(t, key, entratest.Claims())
	url := "http://" + invokeAddr + "/2015-03-31/functions/function/invocations"
	first := rieInvoke(t, url, "run-42", tok, 15*time.Second, &out)
	var issued struct {
		Ticket    string `json:"ticket"`
		EventsURL string `json:"events_url"`
	}
	if err := json.Unmarshal([]byte(first.Body), &issued); first.StatusCode != 200 || err != nil ||
		issued.EventsURL != "/api/blast/logs/run-42/events?ticket="+issued.Ticket || first.Headers["Cache-Control"] != "no-store" {
		t.Fatalf("a ticket through the runtime: %d %v %s", first.StatusCode, first.Headers, first.Body)
	}
	// The ticket is in Redis, by its hash, for the streaming container to redeem.
	if n, err := rdb.Exists(context.Background(), "blastlog:ticket:"+ticket.Hash(issued.Ticket)).Result(); err != nil || n != 1 {
		t.Fatalf("the issued ticket is not stored: %d %v", n, err)
	}
	for _, c := range []struct {
		job, token, code string
		status           int
	}{{"run-other", tok, "job_not_found", 404}, {"run-nope", tok, "job_not_found", 404}, {"run-42", "", "unauthorized", 401}} {
		res := rieInvoke(t, url, c.job, c.token, 5*time.Second, &out)
		if res.StatusCode != c.status || !strings.Contains(res.Body, `"error":"`+c.code+`"`) {
			t.Errorf("%s: %d %s", c.job, res.StatusCode, res.Body)
		}
	}
	if strings.Contains(out.String(), tok) || strings.Contains(out.String(), issued.Ticket) {
		t.Fatal("the runtime's output holds a token or a ticket")
	}
}

// rieInvoke sends the API Gateway HTTP API event of testdata/apigw-v2.json to the
// emulator, retrying until it answers (the runtime starts the function on the first
// invoke) or within.
func rieInvoke(t *testing.T, url, jobID, token string, within time.Duration, out *testio.Buffer) events.APIGatewayV2HTTPResponse {
	t.Helper()
	raw, err := os.ReadFile("testdata/apigw-v2.json")
	if err != nil {
		t.Fatal(err)
	}
	payload := strings.NewReplacer("{{JOB}}", jobID, "{{TOKEN}}", token).Replace(string(raw))
	deadline := time.Now().Add(within)
	for {
		res, err := http.Post(url, "application/json", bytes.NewReader([]byte(payload)))
		if err == nil {
			body, _ := io.ReadAll(res.Body)
			res.Body.Close()
			var ev events.APIGatewayV2HTTPResponse
			if res.StatusCode == 200 && json.Unmarshal(body, &ev) == nil && ev.StatusCode != 0 {
				return ev
			}
			err = fmt.Errorf("%d %s", res.StatusCode, body)
		}
		if time.Now().After(deadline) {
			t.Fatalf("the emulator did not answer within %v: %v\nits output:\n%s", within, err, out.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// freeAddr is a loopback address nobody listens on now.
func freeAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}
