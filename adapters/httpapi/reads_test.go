package httpapi

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/blastlog/blastlog/core/app"
	"github.com/blastlog/blastlog/core/app/history"
	"github.com/blastlog/blastlog/core/event"
	"github.com/blastlog/blastlog/core/job"
	"github.com/blastlog/blastlog/ports/portstest"
)

// readServer serves the read routes over the portstest fakes: run-a (alice's) has a
// submitting and a running step.
func readServer(t *testing.T) *httptest.Server {
	t.Helper()
	ctx := context.Background()
	jobs := portstest.NewJobDirectory()
	if err := jobs.Register(ctx, job.Record{JobID: "run-a", OwnerOID: "alice"}); err != nil {
		t.Fatal(err)
	}
	log := portstest.NewEventLog(0)
	var evs []event.Event
	for _, p := range []string{event.PhaseSubmitting, event.PhaseRunning, "custom_step"} {
		e := portstest.Event("run-a", "a line of "+p)
		e.Phase, e.TS = p, time.Date(2026, 12, 4, 15, 0, 0, 0, time.UTC)
		evs = append(evs, e)
	}
	if _, err := log.Append(ctx, "run-a", evs); err != nil {
		t.Fatal(err)
	}
	tickets := &app.Tickets{Access: &app.Access{Auth: portstest.Authenticator{"tok-alice": {OID: "alice"}}, Jobs: jobs},
		Store: portstest.NewTicketStore(), Limiter: portstest.NewRateLimiter()}
	s := &Server{Tickets: tickets, Reads: &app.Reads{Access: tickets.Access, History: &history.Reader{Log: log}}}
	srv := httptest.NewServer(s.Handler())
	t.Cleanup(srv.Close)
	return srv
}

func getAs(t *testing.T, url string) (*http.Response, string) {
	t.Helper()
	return send(t, http.MethodGet, url, "tok-alice")
}

// A phase the run does not have is a 400 that names its steps (download and search),
// never an empty 200; ElasticBLAST's own steps and the run's other steps are served.
func TestUnknownPhaseNamesTheRunsSteps(t *testing.T) {
	srv := readServer(t)
	for _, path := range []string{"/download?phase=nosuchphase", "/search?q=x&phase=nosuchphase"} {
		res, body := getAs(t, srv.URL+LogsPrefix+"run-a"+path)
		var e errorBody
		json.Unmarshal([]byte(body), &e)
		if res.StatusCode != 400 || e.Error != "bad_request" ||
			e.Message != `phase "nosuchphase" is not a step of this run; its steps are custom_step, running, submitting` {
			t.Errorf("%s: %d %s", path, res.StatusCode, body)
		}
	}
	for _, path := range []string{"/download?phase=custom_step", "/download?phase=exporting_results", "/search?q=line&phase=running"} {
		if res, body := getAs(t, srv.URL+LogsPrefix+"run-a"+path); res.StatusCode != 200 {
			t.Errorf("%s: %d %s", path, res.StatusCode, body)
		}
	}
}

// A step's download is named for the step; the whole run's for the run.
func TestStepDownloadHasItsOwnName(t *testing.T) {
	srv := readServer(t)
	for query, want := range map[string]string{
		"":                                 `attachment; filename="run-a-logs.txt"`,
		"?phase=running":                   `attachment; filename="run-a-running-logs.txt"`,
		"?phase=custom_step&format=ndjson": `attachment; filename="run-a-custom_step-logs.ndjson"`,
	} {
		res, body := getAs(t, srv.URL+LogsPrefix+"run-a/download"+query)
		if got := res.Header.Get("Content-Disposition"); res.StatusCode != 200 || !strings.HasPrefix(got, want+";") {
			t.Errorf("%q: %d %q %s", query, res.StatusCode, got, body)
		}
	}
}

// A bidi override or a zero-width character in a job id never reaches the saved file's
// name: "run-\u202egnp.exe" would display as "run-exe.png".
func TestDownloadNameHasNoFormatCharacters(t *testing.T) {
	for in, want := range map[string]string{
		"run-\u202egnp.exe-logs.txt":       "filename*=UTF-8''run-gnp.exe-logs.txt",
		"run-\u2066x\u2069\u200b-logs.txt": "filename*=UTF-8''run-x-logs.txt",
		"run-é-logs.txt":                   "filename*=UTF-8''run-%C3%A9-logs.txt",
	} {
		if got := contentDisposition(in); !strings.HasSuffix(got, want) || strings.ContainsAny(got, "\u202e\u2066\u2069\u200b") {
			t.Errorf("%q: %q", in, got)
		}
	}
}

// A query that is not UTF-8 is told so, not that it is too long.
func TestSearchQueryNotUTF8(t *testing.T) {
	srv := readServer(t)
	res, body := getAs(t, srv.URL+LogsPrefix+"run-a/search?q=%ff")
	if res.StatusCode != 400 || !strings.Contains(body, "q is not valid UTF-8 text") {
		t.Fatalf("%d %s", res.StatusCode, body)
	}
}
