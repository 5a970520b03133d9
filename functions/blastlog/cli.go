package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"syscall"

	"github.com/spf13/cobra"

	"github.com/blastlog/blastlog/adapters/apiclient"
	"github.com/blastlog/blastlog/core/app"
	"github.com/blastlog/blastlog/functions/internal/version"
	"github.com/blastlog/blastlog/ports"
)

// Exit codes (the README's "From a terminal").
const (
	exitOK           = 0
	exitRunFailed    = 1
	exitUsage        = 2
	exitNotFound     = 3
	exitUnauthorized = 4
	exitUnavailable  = 5
	exitInterrupted  = 130
)

// env is the process's world, so that tests run the CLI in-process.
type env struct {
	args           []string
	stdin          *os.File
	stdout, stderr io.Writer
	getenv         func(string) string
	terminal       func(*os.File) bool
}

// isTerminal reports whether w is a terminal.
func (e *env) isTerminal(w any) bool {
	f, ok := w.(*os.File)
	return ok && e.terminal != nil && e.terminal(f)
}

// global are the flags every command has.
type global struct {
	server, ticketURL, devUser, scope, color string
	// anonymous: requests carry neither a token nor a dev user (no scope configured);
	// else tokenScope is the scope their tokens are for.
	anonymous  bool
	tokenScope string
}

// runFailed is a command's outcome when the run failed or was cancelled.
type runFailed struct{ status string }

func (r runFailed) Error() string { return "the run " + r.status }

// usageError is a command line that cannot be run.
type usageError struct{ msg string }

func (u usageError) Error() string { return u.msg }

func usagef(format string, a ...any) error { return usageError{fmt.Sprintf(format, a...)} }

// run runs one command line and returns its exit code; errors are one line on stderr.
func run(ctx context.Context, e *env) int {
	g := &global{}
	root := newRoot(e, g)
	root.SetArgs(e.args)
	root.SetOut(e.stdout)
	root.SetErr(e.stderr)
	root.SetIn(e.stdin)
	err := root.ExecuteContext(ctx)
	code := exitCode(ctx, err)
	msg := ""
	if code != exitOK && code != exitRunFailed && code != exitInterrupted {
		msg = message(err)
	}
	var apiErr *apiclient.Error
	switch {
	case code != exitUnauthorized || !errors.As(err, &apiErr):
	case g.anonymous:
		msg = errNoSignIn.Error() // the server wants a token and nothing says for which API
	case g.tokenScope != "":
		msg += fmt.Sprintf(" (the token was for %s: is that the server's API and scope? check BLASTLOG_ENTRA_CLIENT_ID and BLASTLOG_ENTRA_SCOPE, or --scope)", g.tokenScope)
	}
	if msg != "" {
		fmt.Fprintln(e.stderr, "blastlog: "+msg)
	}
	return code
}

// exitCode maps an error to the exit codes.
func exitCode(ctx context.Context, err error) int {
	var rf runFailed
	var ue usageError
	switch {
	case err == nil, errors.Is(err, syscall.EPIPE):
		return exitOK // | head: the reader has what it wanted
	case ctx.Err() != nil: // interrupted: whatever was under way says so its own way
		return exitInterrupted
	case errors.As(err, &rf):
		return exitRunFailed
	case errors.As(err, &ue), isCobraUsage(err), errors.Is(err, app.ErrBadQuery):
		return exitUsage
	case errors.Is(err, ports.ErrUnauthenticated):
		return exitUnauthorized
	case errors.Is(err, ports.ErrNotFound):
		return exitNotFound
	}
	return exitUnavailable
}

// isCobraUsage: cobra's own complaints (unknown flag or command, wrong arguments).
func isCobraUsage(err error) bool {
	s := err.Error()
	for _, p := range []string{"unknown flag", "unknown shorthand flag", "unknown command", "accepts ", "requires at least",
		"invalid argument", "flag needs an argument", "bad flag syntax", "if any flags in the group"} {
		if strings.Contains(s, p) {
			return true
		}
	}
	return false
}

// message is the one line an error is told in, with what to do about it.
func message(err error) string {
	var ae *apiclient.AuthError
	var e *apiclient.Error
	switch {
	case errors.As(err, &ae):
		return ae.Error()
	case errors.As(err, &e) && errors.Is(err, ports.ErrUnauthenticated):
		return "unauthorized: " + e.Error()
	case errors.As(err, &e) && errors.Is(err, ports.ErrNotFound):
		return "not found (or not yours): " + e.Error()
	}
	return err.Error()
}

func newRoot(e *env, g *global) *cobra.Command {
	root := &cobra.Command{
		Use:   "blastlog",
		Short: "Follow and read ElasticBLAST runs: the submit process and every pod, deleted ones too",
		Long: `blastlog follows and reads ElasticBLAST runs through a blastlog server: the
elastic-blast submit process and every pod of the run, deleted ones too, live or
afterwards, with the run's diagnosis.

The server is BLASTLOG_URL (or --server); tickets come from BLASTLOG_TICKET_URL when
the ticket function is elsewhere. Sign-in is Entra ID (environment, workload or
managed identity, the Azure CLI's login, then a device code on a terminal) for the
API's scope: BLASTLOG_ENTRA_CLIENT_ID and BLASTLOG_ENTRA_SCOPE, or --scope. Against a
development server, --dev-user OID (or BLASTLOG_DEV_USER).

Exit codes: 0 ok (with --wait or -f: the run succeeded), 1 the run failed or was
cancelled, 2 usage, 3 not found or not yours, 4 unauthorized, 5 server unavailable
after retries, 130 interrupted.`,
		Example: `  export BLASTLOG_URL=https://blastlog.example.org
  blastlog runs
  blastlog logs run-42 -f
  blastlog status run-42 --wait && echo succeeded`,
		Version:       version.String(),
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	f := root.PersistentFlags()
	f.StringVar(&g.server, "server", "", "the blastlog server's base URL (default $BLASTLOG_URL)")
	f.StringVar(&g.ticketURL, "ticket-url", "", "the ticket function's base URL, when not the server (default $BLASTLOG_TICKET_URL)")
	f.StringVar(&g.devUser, "dev-user", "", "the caller's object id against a dev-bypass server (default $BLASTLOG_DEV_USER)")
	f.StringVar(&g.scope, "scope", "", "the API's OAuth scope (default api://$BLASTLOG_ENTRA_CLIENT_ID/$BLASTLOG_ENTRA_SCOPE)")
	f.StringVar(&g.color, "color", "auto", "colour: auto (on a terminal, unless NO_COLOR), always or never")
	root.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return usageError{err.Error()} })
	root.AddCommand(runsCmd(e, g), logsCmd(e, g), statusCmd(e, g), reportCmd(e, g), searchCmd(e, g), downloadCmd(e, g))
	return root
}

// client is the API client the flags and the environment say.
func (g *global) client(ctx context.Context, e *env) (*apiclient.Client, error) {
	server := firstOf(g.server, e.getenv("BLASTLOG_URL"))
	if server == "" {
		return nil, usagef("no server: set BLASTLOG_URL to the blastlog server's base URL, or pass --server")
	}
	c := &apiclient.Client{Base: strings.TrimSuffix(server, "/"), TicketBase: firstOf(g.ticketURL, e.getenv("BLASTLOG_TICKET_URL")),
		UserAgent: "blastlog/" + version.String()}
	if dev := firstOf(g.devUser, e.getenv("BLASTLOG_DEV_USER")); dev != "" {
		c.DevUser = dev
		return c, nil
	}
	tok, scope, err := tokenSource(e, g)
	if err != nil {
		return nil, err
	}
	c.Token, g.anonymous, g.tokenScope = tok, tok == nil, scope
	return c, nil
}

// colored says whether w gets colour.
func (g *global) colored(e *env, w io.Writer) (bool, error) {
	switch g.color {
	case "always":
		return true, nil
	case "never":
		return false, nil
	case "auto", "":
		return e.isTerminal(w) && e.getenv("NO_COLOR") == "" && e.getenv("TERM") != "dumb", nil
	}
	return false, usagef("--color must be auto, always or never")
}

func firstOf(s ...string) string {
	for _, v := range s {
		if v != "" {
			return v
		}
	}
	return ""
}
