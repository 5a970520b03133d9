package main

import (
	"context"
	"fmt"
	"net/http"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/cdproto/page"
	cdpruntime "github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"
	"go.uber.org/fx"

	"github.com/blastlog/blastlog/adapters/entra/entratest"
	"github.com/blastlog/blastlog/adapters/redisstore"
	"github.com/blastlog/blastlog/core/event"
	"github.com/blastlog/blastlog/functions/internal/envconf"
	"github.com/blastlog/blastlog/internal/testio"
	"github.com/blastlog/blastlog/ports/portstest"
)

// signInStack is the streaming server in BLASTLOG_AUTH_MODE=entra against the
// stand-in authority, on a fixed loopback port (the redirect URI registered there),
// with its log kept for the test to read.
type signInStack struct {
	*stack
	auth *entratest.Authority
	env  map[string]string
	base string
	logs *testio.Buffer
	srv  *streamServer
}

func newSignInStack(t testing.TB) *signInStack {
	t.Helper()
	auth := entratest.NewAuthority(t, entratest.NewKey(t, "k1"))
	port := freePort(t)
	base := "http://127.0.0.1:" + port
	auth.AllowRedirect(base + "/")
	s := &signInStack{stack: newStack(t), auth: auth, base: base, logs: &testio.Buffer{}, env: map[string]string{
		"BLASTLOG_ADDR": "127.0.0.1:" + port, "BLASTLOG_STREAM_TICKETS": "on",
		"BLASTLOG_AUTH_MODE": "entra", "BLASTLOG_ENTRA_AUTHORITY": auth.URL, "BLASTLOG_ENTRA_TENANT_ID": entratest.Tenant,
		"BLASTLOG_ENTRA_CLIENT_ID": entratest.Client, "BLASTLOG_ENTRA_SCOPE": entratest.Scope,
		"BLASTLOG_PAGE_CLIENT_ID": entratest.PageClient, "BLASTLOG_PUBLIC_URL": base}}
	s.start(t)
	return s
}

// start (re)starts the server; the key set is fetched from the authority, whose
// certificate the server's client trusts.
func (s *signInStack) start(t testing.TB) {
	s.srv = s.serverLogging(t, s.logs, s.env, fx.Decorate(func(a envconf.Auth) envconf.Auth {
		a.Entra.HTTPClient = s.auth.Client()
		return a
	}))
}

// signInBrowser is Chromium that trusts the authority's test certificate; rec keeps
// every URL its tabs ask of our server, and their console for a failing test.
func signInBrowser(t testing.TB, base string) (context.Context, *recorder) {
	ctx := browser(t, chromedp.Flag("ignore-certificate-errors", true))
	rec := &recorder{base: base}
	rec.watch(t, ctx)
	t.Cleanup(func() {
		if t.Failed() {
			rec.mu.Lock()
			defer rec.mu.Unlock()
			t.Logf("the page's console:\n%s", strings.Join(rec.console, "\n"))
		}
	})
	return ctx, rec
}

type recorder struct {
	base          string
	mu            sync.Mutex
	urls, console []string
}

func (r *recorder) watch(t testing.TB, ctx context.Context) {
	if err := chromedp.Listen(ctx, func(ev any) {
		r.mu.Lock()
		defer r.mu.Unlock()
		switch e := ev.(type) {
		case *network.EventRequestWillBeSent:
			if strings.HasPrefix(e.Request.URL, r.base) {
				r.urls = append(r.urls, e.Request.URL) // as sent: a fragment never leaves the browser
			}
		case *cdpruntime.EventExceptionThrown:
			r.console = append(r.console, "exception: "+e.ExceptionDetails.Text+" "+exceptionText(e.ExceptionDetails))
		case *cdpruntime.EventConsoleAPICalled:
			for _, a := range e.Args {
				r.console = append(r.console, string(e.Type)+": "+string(a.Value)+a.Description)
			}
		}
	}); err != nil {
		t.Fatal(err)
	}
	if _, err := chromedp.Call(ctx, network.Enable, network.EnableParams{}); err != nil {
		t.Fatal(err)
	}
}

// URLs is every URL of our server the tabs asked for.
func (r *recorder) URLs() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]string(nil), r.urls...)
}

// tab opens a tab of the same browser: signed out, as sessionStorage is the tab's.
// It closes when the test ends, or by close (Chromium opens 6 connections to a host
// at most, and each signed-in tab holds one for its stream).
func (r *recorder) tab(t testing.TB, ctx context.Context) (tab context.Context, close func()) {
	tab, cancel := chromedp.NewContext(ctx)
	t.Cleanup(cancel)
	r.watch(t, tab)
	return tab, cancel
}

// goTo starts a navigation without waiting for its load: sign-in goes on through
// redirects and the page's own navigations.
func goTo(t testing.TB, ctx context.Context, url string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	if _, err := chromedp.Call(ctx, page.Navigate, page.NavigateParams{URL: url}); err != nil {
		t.Fatal(err)
	}
}

func (s *signInStack) lines(t testing.TB, jobID, phase string, lines ...string) []string {
	t.Helper()
	var evs []event.Event
	for _, l := range lines {
		evs = append(evs, event.Event{SchemaVersion: 1, JobID: jobID, Source: event.SourceK8s, Phase: phase, Stream: event.Stdout,
			Pod: "blastn-batch-nt-job-000-3ed51a95-h4j5k", Container: "blast", Line: l, TS: time.Now()})
	}
	ids, err := redisstore.NewEventLog(s.rdb, redisstore.Config{MaxLen: 100_000}).Append(context.Background(), jobID, evs)
	if err != nil {
		t.Fatal(err)
	}
	return portstest.Texts(ids)
}

const signedInAs = `document.getElementById("who").textContent`

func TestSignInOpensTheNewestRunAndADeepLink(t *testing.T) {
	s := newSignInStack(t)
	s.register(t, "run-1", entratest.OID)
	ids := s.lines(t, "run-1", "running", "first line", "the line of the link", "third line")
	// (registered in the same second, the runs are told apart by name: run-2 is newer)
	s.register(t, "run-2", entratest.OID)
	s.lines(t, "run-2", "running", "a new line")
	ctx, rec := signInBrowser(t, s.base)

	// Signed out at "/": the authority signs Ada in, and the page opens her newest run.
	goTo(t, ctx, s.base+"/")
	waitJS(t, ctx, "signed in, live", signedInAs+` === "Ada Lovelace" && document.getElementById("badge").textContent === "live"`)
	if got := jsString(t, ctx, `location.pathname + location.search + location.hash`); got != "/?run=run-2" {
		t.Fatalf("the page is at %s", got)
	}
	if s.auth.Hits("authorize") != 1 || s.auth.Hits("token") != 1 {
		t.Fatalf("authorize %d, token %d: one sign-in is one of each", s.auth.Hits("authorize"), s.auth.Hits("token"))
	}

	// A deep link, opened signed out (in a new tab: the tokens are the tab's), comes
	// back to that run and that line.
	noTokenAnywhere(t, ctx, s, rec.URLs())
	link := s.base + "/?run=run-1#l-" + ids[1]
	ctx, _ = rec.tab(t, ctx)
	goTo(t, ctx, link)
	waitJS(t, ctx, "the linked line", step("running")+`.querySelector(".line.target .text") !== null &&
		`+step("running")+`.querySelector(".line.target .text").textContent === "the line of the link"`)
	if got := jsString(t, ctx, `location.href`); got != link {
		t.Fatalf("after sign-in the page is at %s, not %s", got, link)
	}
	if s.auth.Hits("authorize") != 2 {
		t.Fatalf("authorize %d", s.auth.Hits("authorize"))
	}
	noTokenAnywhere(t, ctx, s, rec.URLs())
}

func TestSignInRenewsTokensWithoutBreakingTheStream(t *testing.T) {
	s := newSignInStack(t)
	s.auth.SetAccessTTL(3 * time.Second)
	s.register(t, "run-r", entratest.OID)
	s.lines(t, "run-r", "running", "line 0")
	ctx, rec := signInBrowser(t, s.base)
	goTo(t, ctx, s.base+"/?run=run-r")
	waitJS(t, ctx, "live", `document.getElementById("badge").textContent === "live" && `+step("running")+`.querySelectorAll(".line").length === 1`)
	do(t, ctx, `window.firstSource = window.blastlogStream.es`)

	// The access token expires while lines arrive: the stream stays the same connection.
	for i := 1; i <= 20; i++ {
		s.lines(t, "run-r", "running", fmt.Sprintf("line %d", i))
		time.Sleep(250 * time.Millisecond)
	}
	waitJS(t, ctx, "21 lines", step("running")+`.querySelectorAll(".line").length === 21`)
	if !jsBool(t, ctx, `window.blastlogStream.es === window.firstSource`) {
		t.Fatal("the stream was reopened while the token expired")
	}

	// The replica goes away and comes back: the page takes a new ticket with a token
	// renewed by the refresh token, and resumes; no line is lost.
	before := s.auth.Hits("token")
	s.srv.app.Stop(context.Background())
	s.lines(t, "run-r", "running", "line 21", "line 22")
	s.start(t)
	s.lines(t, "run-r", "running", "line 23")
	waitJS(t, ctx, "24 lines after the reconnection", step("running")+`.querySelectorAll(".line").length === 24`)
	if got := s.auth.Hits("token"); got <= before {
		t.Fatalf("token requests %d then %d: the new ticket did not take a renewed token", before, got)
	}
	texts := jsString(t, ctx, `[...`+step("running")+`.querySelectorAll(".line .text")].map((e) => e.textContent).join("|")`)
	var want []string
	for i := 0; i <= 23; i++ {
		want = append(want, fmt.Sprintf("line %d", i))
	}
	if texts != strings.Join(want, "|") {
		t.Fatalf("lines %s", texts)
	}
	if s.auth.Hits("authorize") != 1 {
		t.Fatalf("renewal went through the authorize page %d times", s.auth.Hits("authorize")-1)
	}
	noTokenAnywhere(t, ctx, s, rec.URLs())
}

func TestSignOutThenTheRefusals(t *testing.T) {
	s := newSignInStack(t)
	s.register(t, "run-a", entratest.OID)
	s.lines(t, "run-a", "running", "a line")
	s.register(t, "run-other", "0f0e0d0c-aaaa-bbbb-cccc-0000000000ff")
	ctx, rec := signInBrowser(t, s.base)

	// Another user's run: one sentence, and her own runs offered.
	goTo(t, ctx, s.base+"/?run=run-other")
	waitJS(t, ctx, "not hers", `document.getElementById("notice").textContent.includes("Run run-other is not one of your runs, or it does not exist.")`)
	if got := jsString(t, ctx, `[...document.querySelectorAll("#notice a")].map((a) => a.getAttribute("href")).join(" ")`); got != "/?run=run-a" {
		t.Fatalf("her runs offered: %q", got)
	}

	// Sign out: the page and the authority forget her; the page asks before signing in.
	do(t, ctx, `document.getElementById("sign-out").click()`)
	waitJS(t, ctx, "asked to sign in", `document.getElementById("signin").textContent.includes("You are signed out.") &&
		document.getElementById("signin-button") !== null`)
	if s.auth.Hits("logout") != 1 {
		t.Fatalf("logout %d", s.auth.Hits("logout"))
	}
	// Signing in again from the button works.
	do(t, ctx, `document.getElementById("signin-button").click()`)
	waitJS(t, ctx, "signed in again", signedInAs+` === "Ada Lovelace"`)

	// A refused sign-in: the authority's reason, in a sentence, and a button to retry.
	s.auth.Refuse("access_denied", "AADSTS65004: User declined to consent to access the app.")
	ctx, _ = rec.tab(t, ctx) // signed out: the sign-in is the tab's
	goTo(t, ctx, s.base+"/?run=run-a")
	waitJS(t, ctx, "the refusal", `document.getElementById("signin").textContent.includes("Sign-in was refused by 127.0.0.1:")`)
	if got := jsString(t, ctx, `document.querySelector("#signin p").textContent`); !strings.HasSuffix(got, "AADSTS65004: User declined to consent to access the app. (access_denied)") {
		t.Fatalf("the refusal says %q", got)
	}
	if got := jsString(t, ctx, `location.pathname + location.search + location.hash`); got != "/?run=run-a" {
		t.Fatalf("after a refusal the page is at %s", got)
	}
	s.auth.Refuse("", "")

	// A token for another API: the server refuses it, and the page says why.
	s.auth.SetAudience("api://another-api")
	ctx, _ = rec.tab(t, ctx)
	goTo(t, ctx, s.base+"/?run=run-a")
	waitJS(t, ctx, "refused by the server", `document.getElementById("notice").textContent ===
		"The server did not accept your sign-in: the access token was refused: audience is not this API."`)
	issued := s.auth.Issued()
	req, _ := http.NewRequest("GET", s.base+"/api/blast/runs", nil)
	req.Header.Set("Authorization", "Bearer "+issued[len(issued)-3]) // the last access token
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusUnauthorized {
		t.Fatalf("a token for another audience: %d", res.StatusCode)
	}
	s.auth.SetAudience(entratest.Client)

	// A user with no runs.
	s.auth.SignInAs(entratest.With(entratest.User(), "oid", "0f0e0d0c-aaaa-bbbb-cccc-0000000000ee", "name", "Grace"))
	ctx, _ = rec.tab(t, ctx)
	goTo(t, ctx, s.base+"/")
	waitJS(t, ctx, "no runs yet", signedInAs+` === "Grace" && document.getElementById("notice").textContent.includes("no runs yet")`)
	noTokenAnywhere(t, ctx, s, rec.URLs())
}

// noTokenAnywhere: no code or token the authority issued is in the page's
// localStorage, its cookies, its DOM, a URL our server was asked for, or the server's
// log. (MSAL keeps them in the tab's sessionStorage.)
func noTokenAnywhere(t testing.TB, ctx context.Context, s *signInStack, urls []string) {
	t.Helper()
	issued := s.auth.Issued()
	if len(issued) == 0 {
		t.Fatal("the authority issued nothing")
	}
	places := map[string]string{
		"localStorage":   jsString(t, ctx, `JSON.stringify(Object.entries(localStorage))`),
		"cookies":        jsString(t, ctx, `document.cookie`),
		"the DOM":        jsString(t, ctx, `document.documentElement.outerHTML`),
		"the URLs":       strings.Join(urls, "\n"),
		"the server log": s.logs.String(),
	}
	names := make([]string, 0, len(places))
	for n := range places {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		for _, tok := range issued {
			if strings.Contains(places[n], tok) {
				t.Errorf("a token the authority issued is in %s", n)
			}
		}
		// A JWT's header, whichever token it is.
		if strings.Contains(places[n], "eyJhbGciOi") {
			t.Errorf("a JWT is in %s", n)
		}
	}
	if len(urls) == 0 || s.logs.String() == "" {
		t.Fatalf("%d URLs and %d bytes of log: nothing was looked through", len(urls), len(s.logs.String()))
	}
}

func jsBool(t testing.TB, ctx context.Context, expr string) bool {
	t.Helper()
	b, err := eval[bool](ctx, expr)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func exceptionText(d *cdpruntime.ExceptionDetails) string {
	if d.Exception != nil {
		return d.Exception.Description
	}
	return ""
}

// BenchmarkSignInDeepLink: a deep link opened signed out (a new tab), to its line on
// screen, through the stand-in authority on loopback; and the authority's requests
// that cost.
func BenchmarkSignInDeepLink(b *testing.B) {
	s := newSignInStack(b)
	s.register(b, "run-b", entratest.OID)
	ids := s.lines(b, "run-b", "running", "first line", "the line of the link", "third line")
	ctx, rec := signInBrowser(b, s.base)
	link := s.base + "/?run=run-b#l-" + ids[1]
	before := map[string]int{}
	for _, e := range []string{"discovery", "authorize", "token", "keys"} {
		before[e] = s.auth.Hits(e)
	}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		tab, closeTab := rec.tab(b, ctx)
		goTo(b, tab, link)
		waitJS(b, tab, "the linked line", step("running")+`.querySelector(".line.target .text") !== null`)
		closeTab()
	}
	b.StopTimer()
	for e, n := range before {
		b.ReportMetric(float64(s.auth.Hits(e)-n)/float64(b.N), e+"/op")
	}
}
