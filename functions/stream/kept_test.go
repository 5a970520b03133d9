package main

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/blastlog/blastlog/adapters/prices/pricestest"
	"github.com/blastlog/blastlog/adapters/redisstore"
	"github.com/blastlog/blastlog/core/app"
	"github.com/blastlog/blastlog/core/event"
)

// keptEnv is a streaming container without an archive (the default) that writes the
// kept summary quickly.
var keptEnv = map[string]string{"BLASTLOG_ARCHIVE_FLUSH": "200ms", "BLASTLOG_STREAM_TICKETS": "on"}

// oomNotices are what the collector stores when batch 013 is OOMKilled and its Job
// fails: the container's end and the Job's.
func oomNotices(jobID string) []event.Event {
	pod := "blastn-batch-s00-job-013-3ed51a95-x7k2p"
	at := time.Now().UTC()
	ended := event.System(jobID, event.PhaseRunning, event.NoticeContainerEnded, pod+"/blast ended (OOMKilled, exit code 137)", at)
	ended.Pod, ended.Container, ended.ContainerID = pod, "blast", "containerd://013"
	ended.Ended = &event.Ended{ExitCode: 137, Reason: "OOMKilled", StartedAt: at.Add(-time.Minute), FinishedAt: at,
		Completeness: event.Complete, Memory: "62Gi", CPU: "15"}
	job := event.System(jobID, event.PhaseRunning, event.NoticeBatch, "batch 013 failed", at)
	job.Detail = &event.Detail{Object: "Job/blastn-batch-s00-job-013-3ed51a95", Batch: "013", State: "failed",
		Reason: "BackoffLimitExceeded"}
	return []event.Event{ended, job}
}

func summaryOf(t *testing.T, base, jobID string) app.RunSummary {
	t.Helper()
	st, b, _ := get(t, base+"/api/blast/logs/"+jobID+"/summary", owner)
	var sum app.RunSummary
	if err := json.Unmarshal(b, &sum); err != nil || st != 200 {
		t.Fatalf("summary: %d %s", st, b)
	}
	return sum
}

// Without an archive, a run's summary and verdict cover every event it ever had: an
// OOMKilled batch early in a 12,000-line run is still the verdict after the stream
// was trimmed to its 5,000, and after the replica restarted.
func TestSummaryKeptWithoutAnArchive(t *testing.T) {
	s := newStack(t)
	srv := s.server(t, keptEnv)
	s.waitMark(t) // the writers keep what the summary has not counted
	const run = "run-kept"
	s.publish(t, "", "job", "register", "--job", run, "--owner", owner)
	log := redisstore.NewEventLog(s.rdb, redisstore.Config{})
	if _, err := log.Append(context.Background(), run, oomNotices(run)); err != nil {
		t.Fatal(err)
	}
	s.publish(t, numbered(12000, 0), "lines", "--job", run, "--phase", "running")
	s.publish(t, "", "job", "status", "--job", run, "--status", "completed")
	check := func(stage string, base string) {
		t.Helper()
		deadline := time.Now().Add(30 * time.Second)
		var sum app.RunSummary
		for {
			sum = summaryOf(t, base, run)
			if sum.Count == 12002 && !sum.Partial {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("%s: count %d partial %v", stage, sum.Count, sum.Partial)
			}
			time.Sleep(50 * time.Millisecond)
		}
		if n := sum.Steps["running"].Count; n != 12002 {
			t.Fatalf("%s: the running step counts %d", stage, n)
		}
		d := sum.Diagnosis
		if d.State != "failed" || !strings.Contains(d.Headline, "batch 013 was OOMKilled (exit 137, limit 62Gi)") ||
			len(d.Causes) == 0 || d.Causes[0].Reason != "OOMKilled" {
			b, _ := json.Marshal(d)
			t.Fatalf("%s: %s", stage, b)
		}
	}
	check("one replica", srv.base)
	waitLen(t, s, run, 6000)
	check("after the stream was trimmed", srv.base)
	srv.app.Stop(context.Background())
	again := s.server(t, keptEnv)
	check("after a restart", again.base)
}

// waitLen waits until the run's stream holds at most n entries (the archiver trims it
// behind what it counted).
func waitLen(t *testing.T, s *stack, jobID string, n int64) {
	t.Helper()
	key := redisstore.Config{}.StreamKey(jobID)
	deadline := time.Now().Add(30 * time.Second)
	for {
		l := s.rdb.XLen(context.Background(), key).Val()
		if l <= n {
			return
		}
		if time.Now().After(deadline) {
			h := s.rdb.HGetAll(context.Background(), redisstore.Config{}.ArchiveKey(jobID)).Val()
			t.Fatalf("%s holds %d entries, want at most %d (the keeper's cursor %v)", key, l, n, h)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// Notifications need nothing but BLASTLOG_NOTIFY_URLS: without an archive, a failed
// run tells the webhook once, across two replicas.
func TestNotifyWithoutAnArchive(t *testing.T) {
	vars := map[string]string{"BLASTLOG_REDIS_URL": "redis://127.0.0.1:1", "BLASTLOG_AUTH_MODE": "dev-bypass",
		"BLASTLOG_NOTIFY_URLS": "https://hooks.example.org/x"}
	if c, err := load(func(k string) string { return vars[k] }, false); err != nil || !c.Notify.Enabled() || c.Archive.On() {
		t.Fatalf("%+v %v", c.Notify, err)
	}
	s := newStack(t)
	h := newHook(t)
	env := map[string]string{"BLASTLOG_NOTIFY_URLS": h.srv.URL + "/hook", "BLASTLOG_NOTIFY_SECRET": "hook-secret",
		"BLASTLOG_PUBLIC_URL": "https://blastlog.example.org"}
	for k, v := range keptEnv {
		env[k] = v
	}
	s.server(t, env)
	s.server(t, env)
	s.waitMark(t)
	const run = "run-hook"
	s.publish(t, "", "job", "register", "--job", run, "--owner", owner)
	if _, err := redisstore.NewEventLog(s.rdb, redisstore.Config{}).Append(context.Background(), run, oomNotices(run)); err != nil {
		t.Fatal(err)
	}
	s.publish(t, numbered(20, 0), "lines", "--job", run, "--phase", "running")
	s.publish(t, "", "job", "status", "--job", run, "--status", "failed")
	deadline := time.Now().Add(30 * time.Second)
	for len(h.got()) == 0 && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	time.Sleep(3 * time.Second) // a second message would come within a check or two
	got := h.got()
	if len(got) != 1 || got[0].JobID != run || got[0].State != "failed" || !strings.Contains(got[0].Headline, "OOMKilled") {
		t.Fatalf("%d messages: %+v", len(got), got)
	}
	raw, _ := json.Marshal(got[0])
	if strings.Contains(string(raw), "line 1") || strings.Contains(string(raw), "ended (OOMKilled") {
		t.Fatalf("log text left the system: %s", raw)
	}

}

// In production, no archive is said once at start as a warning naming what is lost.
func TestArchiveOffInProductionWarns(t *testing.T) {
	var c config
	c.Auth.Env = "production"
	level, msg := archiveNotice(c)
	if level != slog.LevelWarn || !strings.Contains(msg, "BLASTLOG_STREAM_MAXLEN") || !strings.Contains(msg, "BLASTLOG_RETENTION") {
		t.Fatalf("%v %q", level, msg)
	}
	c.Auth.Env = "development"
	if level, _ := archiveNotice(c); level != slog.LevelInfo {
		t.Fatalf("development: %v", level)
	}
	c.Auth.Env, c.Archive.Mode = "production", "azblob"
	if level, msg := archiveNotice(c); level != slog.LevelInfo || msg != "archiving runs" {
		t.Fatalf("with an archive: %v %q", level, msg)
	}
}

// BLASTLOG_PRICES=azure: the run's cost is its node-hours at the Azure Retail Prices
// API's pay-as-you-go and spot prices for the nodes' types in their region.
func TestCostFromTheAzureRetailPrices(t *testing.T) {
	api := pricestest.New(t, pricestest.Price{Region: "eastus", Type: "Standard_E32s_v3", USD: 2.016, Spot: 0.4032})
	s := newStack(t)
	srv := s.server(t, map[string]string{"BLASTLOG_PRICES": "azure", "BLASTLOG_PRICES_URL": api.URL})
	s.register(t, "run-az", owner)
	at := time.Now().UTC().Truncate(time.Second)
	var evs []event.Event
	for i, spot := range []bool{false, true} {
		name := fmt.Sprintf("aks-nodepool1-%d", i)
		n := event.System("run-az", "", event.NoticeNode, "node "+name+" no longer runs this run's pods", at)
		n.Detail = &event.Detail{Object: "Node/" + name, State: "released", FirstTS: at.Add(-90 * time.Minute), LastTS: at,
			InstanceType: "Standard_E32s_v3", Region: "eastus", Spot: spot}
		evs = append(evs, n)
	}
	if _, err := redisstore.NewEventLog(s.rdb, redisstore.Config{MaxLen: 100_000}).Append(context.Background(), "run-az", evs); err != nil {
		t.Fatal(err)
	}
	s.publish(t, "", "job", "status", "--job", "run-az", "--status", "completed")
	c := summaryOf(t, srv.base, "run-az").Diagnosis.Cost
	if c == nil || c.NodeHours != 3 || c.Source != "azure" || c.USD == nil || *c.USD != 3.63 || len(c.Unpriced) != 0 {
		t.Fatalf("cost %+v, want 3 node-hours, 1.5 × 2.016 + 1.5 × 0.4032 = $3.63 from azure", c)
	}
	// The prices are kept: a second summary asks the API nothing.
	before := api.Requests.Load()
	summaryOf(t, srv.base, "run-az")
	if api.Requests.Load() != before {
		t.Fatal("the prices were read again")
	}
}
