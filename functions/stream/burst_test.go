package main

import (
	"bufio"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/blastlog/blastlog/adapters/archive/azblob/azuritetest"
)

// A burst is kept whole with default settings: `yes | head -c 4000000` through
// `blastlog-publish run` writes 2,000,000 lines in about a second, far faster than
// Redis takes them. The publisher spools what Redis cannot take at once, the archive
// copies faster than the publisher stores, and after completion the download holds
// all 2,000,001 lines (the command's end last) in order, complete. On a directory and
// on Azurite. A throughput test: the test task runs it without the race detector.
func TestBurstIsKeptWhole(t *testing.T) {
	if testing.Short() {
		t.Skip("2,000,000 lines on two backends; not in -short")
	}
	if raceEnabled {
		t.Skip("a throughput test: the test task runs it in its pass without -race")
	}
	for _, backend := range []string{"dir", "azurite"} {
		t.Run(backend, func(t *testing.T) {
			env := map[string]string{"BLASTLOG_ARCHIVE": "dir", "BLASTLOG_ARCHIVE_DIR": t.TempDir()}
			if backend == "azurite" {
				env = map[string]string{"BLASTLOG_ARCHIVE": "azblob", "BLASTLOG_ARCHIVE_CONNECTION_STRING": azuritetest.Start(t).ConnectionString()}
			}
			s := newStack(t)
			srv := s.server(t, env)
			s.waitMark(t)
			s.publish(t, "", "job", "register", "--job", "burst", "--owner", owner)
			cmd := exec.Command(publishBin, "run", "--job", "burst", "--", "sh", "-c", "yes | head -c 4000000")
			cmd.Env = append(os.Environ(), "BLASTLOG_REDIS_URL="+s.url, "BLASTLOG_SPOOL_DIR="+t.TempDir())
			var stderr strings.Builder
			cmd.Stdout, cmd.Stderr = io.Discard, &stderr // the command's output passes through
			start := time.Now()
			if err := cmd.Run(); err != nil || stderr.Len() > 0 && !spoolNotice(stderr.String()) {
				t.Fatalf("blastlog-publish run: %v %s", err, stderr.String())
			}
			t.Logf("%s: the publisher stored 2,000,001 lines in %v", backend, time.Since(start).Round(time.Millisecond))
			s.publish(t, "", "job", "status", "--job", "burst", "--status", "completed")
			deadline := time.Now().Add(3 * time.Minute)
			for !burstWhole(t, srv.base) {
				if time.Now().After(deadline) {
					t.Fatal("the burst was not whole and complete within 3 minutes")
				}
				time.Sleep(time.Second)
			}
			t.Logf("%s: whole and complete %v after the start", backend, time.Since(start).Round(time.Millisecond))
		})
	}
}

// spoolNotice: the publisher's only output was its warning that it spools.
func spoolNotice(out string) bool {
	for _, l := range strings.Split(strings.TrimSpace(out), "\n") {
		if !strings.Contains(l, "is not keeping up") {
			return false
		}
	}
	return true
}

// burstWhole reads the burst's NDJSON download: false while it is not complete yet;
// the test fails on any line out of order, missing or repeated.
func burstWhole(t *testing.T, base string) bool {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, base+"/api/blast/logs/burst/download?format=ndjson", nil)
	req.Header.Set("X-Dev-User", owner)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	sc := bufio.NewScanner(res.Body)
	sc.Buffer(nil, 1<<20)
	var n int64
	for sc.Scan() {
		var e struct {
			Line     string `json:"line"`
			Seq      int64  `json:"seq"`
			Trailer  bool   `json:"trailer"`
			Count    int64  `json:"count"`
			Complete bool   `json:"complete"`
		}
		if err := json.Unmarshal(sc.Bytes(), &e); err != nil {
			t.Fatal(err)
		}
		if e.Trailer {
			if !e.Complete {
				return false
			}
			if e.Count != 2_000_001 || n != e.Count {
				t.Fatalf("complete with %d lines (trailer %d), want 2,000,001", n, e.Count)
			}
			return true
		}
		n++
		want := "y"
		if n == 2_000_001 {
			want = "sh exited with code 0"
		}
		if e.Seq != n || e.Line != want {
			t.Fatalf("line %d: seq %d %q", n, e.Seq, e.Line)
		}
	}
	t.Fatalf("no trailer after %d lines: %v", n, sc.Err())
	return false
}
