package main

import (
	"bufio"
	"io"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/creack/pty"

	"github.com/blastlog/blastlog/adapters/entra/entratest"
	"github.com/blastlog/blastlog/core/job"
)

// entraDeployment is blastlog validating Entra ID tokens against the key set of
// entratest, with an authority that signs tokens with the same key.
func entraDeployment(t *testing.T) (*deployment, *entratest.Authority) {
	k := entratest.NewKey(t, "k1")
	jwks := entratest.NewJWKS(t, k)
	d := newDeployment(t, 1, "BLASTLOG_AUTH_MODE=entra", "BLASTLOG_ENTRA_TENANT_ID="+entratest.Tenant,
		"BLASTLOG_ENTRA_CLIENT_ID="+entratest.Client, "BLASTLOG_ENTRA_SCOPE="+entratest.Scope, "BLASTLOG_ENTRA_JWKS_URL="+jwks.URL)
	return d, entratest.NewAuthority(t, k)
}

// The client signs in with an environment credential for the API's scope; a token
// for another audience is exit 4 with the server's reason; a client that knows no
// scope is told what to set.
func TestEntraSignIn(t *testing.T) {
	d, auth := entraDeployment(t)
	d.register("run-entra", entratest.OID)
	d.publish("run-entra", "hello from entra")
	d.setStatus("run-entra", job.Completed)
	scope := []string{"BLASTLOG_ENTRA_CLIENT_ID=" + entratest.Client, "BLASTLOG_ENTRA_SCOPE=" + entratest.Scope}
	env := append(auth.Env(), scope...)
	if code, out, errOut := d.run(env, "logs", "run-entra", "-f", "-o", "raw"); code != 0 || out != "hello from entra\n" {
		t.Fatalf("signed in: exit %d %q %s", code, out, errOut)
	}
	if code, out, _ := d.run(env, "runs", "-o", "json"); code != 0 || !strings.Contains(out, `"run-entra"`) {
		t.Fatalf("runs: exit %d %s", code, out)
	}
	auth.SetClaims(entratest.With(entratest.Claims(), "aud", "api://another-api"))
	code, out, errOut := d.run(env, "runs")
	if code != 4 || out != "" || !strings.HasPrefix(errOut, "blastlog: unauthorized: ") || !strings.Contains(errOut, "the token was for api://"+entratest.Client+"/"+entratest.Scope) || strings.Count(errOut, "\n") != 1 {
		t.Fatalf("wrong audience: exit %d %q %q", code, out, errOut)
	}
	if strings.Contains(errOut, "eyJ") {
		t.Fatalf("a token in the message: %q", errOut)
	}
	code, _, errOut = d.run(auth.Env(), "runs")
	if code != 4 || !strings.Contains(errOut, "this server uses Entra ID: set BLASTLOG_ENTRA_CLIENT_ID") {
		t.Fatalf("no scope: exit %d %q", code, errOut)
	}
	code, _, errOut = d.run(append(scope, "AZURE_TOKEN_CREDENTIALS=EnvironmentCredential"), "runs")
	if code != 4 || !strings.Contains(errOut, "az login") {
		t.Fatalf("no credential: exit %d %q", code, errOut)
	}
}

// startPTY runs the client with its stdin, stdout and stderr on a pseudo-terminal.
func startPTY(t *testing.T, d *deployment, env []string, args ...string) (*exec.Cmd, *os.File) {
	t.Helper()
	cmd := exec.Command(bin["blastlog"], args...)
	cmd.Env = append(os.Environ(), "BLASTLOG_URL="+d.streams[0].base, "BLASTLOG_TICKET_URL="+d.ticket, "HOME="+t.TempDir(),
		"XDG_CONFIG_HOME="+t.TempDir(), "XDG_CACHE_HOME="+t.TempDir(), "TERM=xterm-256color", "NO_COLOR=")
	cmd.Env = append(cmd.Env, env...)
	tty, err := pty.StartWithSize(cmd, &pty.Winsize{Rows: 40, Cols: 200})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait(); tty.Close() })
	return cmd, tty
}

// readUntil reads the terminal until it shows want.
func readUntil(t *testing.T, tty io.Reader, want string, timeout time.Duration) string {
	t.Helper()
	got := make(chan string, 1)
	var seen strings.Builder
	go func() {
		r := bufio.NewReader(tty)
		buf := make([]byte, 4096)
		for {
			n, err := r.Read(buf)
			seen.Write(buf[:n])
			if strings.Contains(seen.String(), want) || err != nil {
				got <- seen.String()
				return
			}
		}
	}()
	select {
	case s := <-got:
		if !strings.Contains(s, want) {
			t.Fatalf("the terminal never showed %q:\n%s", want, s)
		}
		return s
	case <-time.After(timeout):
		t.Fatalf("the terminal did not show %q in %v", want, timeout)
		return ""
	}
}

// On a terminal the client colours pods and steps; NO_COLOR and a pipe turn it off.
func TestColoursOnATerminal(t *testing.T) {
	d := newDeployment(t, 1)
	d.register("run-c", alice)
	d.publish("run-c", "blastn-batch-s00-job-001-a|blast|running|Query_1 hit", "ERROR: db missing")
	dev := []string{"BLASTLOG_DEV_USER=" + alice}
	_, tty := startPTY(t, d, dev, "logs", "run-c")
	out := readUntil(t, tty, "db missing", 20*time.Second)
	if !strings.Contains(out, podColour("blastn-batch-s00-job-001-a")+"blastn-batch-s00-job-001-a") || !strings.Contains(out, red+"ERROR: db missing") {
		t.Fatalf("no colour on a terminal: %q", out)
	}
	_, tty = startPTY(t, d, append(dev, "NO_COLOR=1"), "logs", "run-c")
	if out := readUntil(t, tty, "db missing", 20*time.Second); strings.Contains(out, "\x1b[") {
		t.Fatalf("colour with NO_COLOR: %q", out)
	}
}

// With no other credential, a terminal gets the device code prompt, and Ctrl-C ends
// the wait at once.
func TestDeviceCodePromptOnATerminal(t *testing.T) {
	d, auth := entraDeployment(t)
	d.register("run-dc", entratest.OID)
	env := []string{"AZURE_AUTHORITY_HOST=" + auth.URL + "/", "SSL_CERT_FILE=" + auth.CertFile, "AZURE_TENANT_ID=" + entratest.Tenant,
		"BLASTLOG_ENTRA_CLIENT_ID=" + entratest.Client, "BLASTLOG_ENTRA_SCOPE=" + entratest.Scope,
		"AZURE_CLIENT_ID=", "AZURE_CLIENT_SECRET=", "AZURE_FEDERATED_TOKEN_FILE=", "IDENTITY_ENDPOINT=", "MSI_ENDPOINT=",
		"PATH=" + t.TempDir()} // no Azure CLI, azd or PowerShell
	cmd, tty := startPTY(t, d, env, "runs")
	readUntil(t, tty, "enter the code BLAST-CODE", 30*time.Second)
	start := time.Now()
	tty.Write([]byte{3}) // Ctrl-C
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != 130 {
			t.Fatalf("after Ctrl-C: %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Ctrl-C did not stop the sign-in")
	}
	if el := time.Since(start); el > 2*time.Second {
		t.Fatalf("stopped after %v", el)
	}
}
