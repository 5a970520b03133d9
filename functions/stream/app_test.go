package main

import (
	"os"
	"slices"
	"testing"

	"github.com/blastlog/blastlog/adapters/redisstore"
	"github.com/blastlog/blastlog/core/app/fanout"
)

// The blocking reads' own pool holds every hub reader's XREAD and the archiver's at
// once: a reader waiting for a connection would wait behind another's whole block.
func TestTheTailPoolHoldsEveryBlockingRead(t *testing.T) {
	if need := fanout.DefaultReaders + 1; redisstore.TailPoolSize < need {
		t.Fatalf("TailPoolSize %d, but the hub's readers and the archiver block in %d reads", redisstore.TailPoolSize, need)
	}
}

// -dev reads every variable as the production configuration does, except those it
// overrides, which it names at start.
func TestDevConfigHonoursVariablesAndNamesThoseItIgnores(t *testing.T) {
	vars := map[string]string{"BLASTLOG_STREAM_MAXLEN": "300", "BLASTLOG_RETENTION": "2h", "BLASTLOG_KEY_PREFIX": "x:",
		"BLASTLOG_K8S": "aks", "BLASTLOG_REDIS_URL": "redis://elsewhere:6379/0", "BLASTLOG_STREAM_HARDMAX": "5000"}
	c, err := load(func(k string) string { return vars[k] }, true)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(c.Archive.Dir) })
	if l := c.Redis.Layout; l.MaxLen != 300 || l.Retention.Hours() != 2 || l.KeyPrefix != "x:" {
		t.Errorf("-dev layout %+v: BLASTLOG_STREAM_MAXLEN, _RETENTION and _KEY_PREFIX not honoured", l)
	}
	if c.Archive.HardMax != 5000 {
		t.Errorf("BLASTLOG_STREAM_HARDMAX not honoured: %d", c.Archive.HardMax)
	}
	if !slices.Equal(c.DevIgnored, []string{"BLASTLOG_REDIS_URL", "BLASTLOG_K8S"}) {
		t.Errorf("ignored %v, want BLASTLOG_REDIS_URL and BLASTLOG_K8S named", c.DevIgnored)
	}
	if c.K8s.Mode != "sim" || !c.Auth.DevBypass() || !c.Tickets {
		t.Errorf("-dev must run the simulator, dev-bypass and the ticket route: %+v", c)
	}
	if !c.TempArchive || c.Archive.Dir == "" {
		t.Errorf("-dev without BLASTLOG_ARCHIVE_DIR makes its own archive directory: %+v", c.Archive)
	}
	// The cap and the hard cap are checked against each other in -dev too.
	vars["BLASTLOG_STREAM_MAXLEN"], vars["BLASTLOG_STREAM_HARDMAX"] = "9000", "5000"
	if c, err := load(func(k string) string { return vars[k] }, true); err == nil {
		os.RemoveAll(c.Archive.Dir)
		t.Error("BLASTLOG_STREAM_HARDMAX below BLASTLOG_STREAM_MAXLEN accepted in -dev")
	}
}
