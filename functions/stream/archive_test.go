package main

import (
	"bufio"
	"compress/gzip"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/blastlog/blastlog/adapters/archive/azblob"
	"github.com/blastlog/blastlog/adapters/archive/azblob/azuritetest"
	"github.com/blastlog/blastlog/adapters/archive/fsdir"
	"github.com/blastlog/blastlog/core/app"
	"github.com/blastlog/blastlog/core/chunk"
	"github.com/blastlog/blastlog/core/event"
	"github.com/blastlog/blastlog/ports"
)

// archived is a streaming container with a dir archive that flushes quickly.
func (s *stack) archived(t *testing.T, dir string, env map[string]string) *streamServer {
	t.Helper()
	vars := map[string]string{"BLASTLOG_ARCHIVE": "dir", "BLASTLOG_ARCHIVE_DIR": dir, "BLASTLOG_ARCHIVE_FLUSH": "200ms",
		"BLASTLOG_STREAM_MAXLEN": "5000", "BLASTLOG_STREAM_TICKETS": "on"}
	for k, v := range env {
		vars[k] = v
	}
	srv := s.server(t, vars)
	s.waitMark(t)
	return srv
}

// waitMark waits for the archive's mark, which makes every writer (the publisher too)
// keep what the archive has not copied.
func (s *stack) waitMark(t *testing.T) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for s.rdb.Exists(context.Background(), "blastlog:archiving").Val() == 0 {
		if time.Now().After(deadline) {
			t.Fatal("the archiver did not mark the streams")
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// waitComplete waits until the run's index says complete.
func waitComplete(t *testing.T, idx ports.ArchiveIndex, jobID string, d time.Duration) chunk.Index {
	t.Helper()
	deadline := time.Now().Add(d)
	for {
		x, _, err := idx.Index(context.Background(), jobID)
		if err == nil && x.Complete {
			return x
		}
		if time.Now().After(deadline) {
			t.Fatalf("run %s not archived completely within %v (index %+v, %v)", jobID, d, x.Count, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// big publishes the run: 500 lines in staging_db, 40,000 in running, 50 in
// exporting_results, numbered across the run; then marks it completed.
func (s *stack) big(t *testing.T, jobID string) {
	t.Helper()
	s.publish(t, "", "job", "register", "--job", jobID, "--owner", owner)
	s.publish(t, numbered(500, 0), "lines", "--job", jobID, "--phase", "staging_db")
	s.publish(t, numbered(40000, 500), "lines", "--job", jobID, "--phase", "running")
	s.publish(t, numbered(50, 40500), "lines", "--job", jobID, "--phase", "exporting_results")
	s.publish(t, "", "job", "status", "--job", jobID, "--status", "completed")
}

func get(t *testing.T, url, user string, hdr ...string) (int, []byte, http.Header) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, url, nil)
	req.Header.Set("X-Dev-User", user)
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	res, err := http.DefaultTransport.RoundTrip(req) // no transparent gzip: the test looks at the bytes
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return res.StatusCode, b, res.Header
}

func snapshotAll(t *testing.T, base, jobID, user string) ([]event.Event, bool) {
	t.Helper()
	var all []event.Event
	after := ""
	for {
		st, b, _ := get(t, base+"/api/blast/logs/"+jobID+"/snapshot?limit=2000&after="+after, user)
		if st != 200 {
			t.Fatalf("snapshot %d: %s", st, b)
		}
		var snap app.Snapshot
		if err := json.Unmarshal(b, &snap); err != nil {
			t.Fatal(err)
		}
		if snap.Gap != nil {
			t.Fatalf("gap %+v after %d", *snap.Gap, len(all))
		}
		all = append(all, snap.Events...)
		if snap.Completed {
			return all, true
		}
		if len(snap.Events) == 0 {
			return all, false
		}
		after = snap.NextAfter.String()
	}
}

func sseAll(t *testing.T, base, jobID, user, resume string, want int) []event.Event {
	t.Helper()
	st, b, _ := post(t, base+"/api/blast/logs/"+jobID+"/ticket", user)
	if st != 200 {
		t.Fatalf("ticket %d: %s", st, b)
	}
	var tk struct{ Ticket string }
	json.Unmarshal(b, &tk)
	c, code := dial(t, base, jobID, tk.Ticket, resume, true, nil)
	if code != 200 {
		t.Fatalf("events: %d", code)
	}
	evs, others := c.logs(t, want, 60*time.Second)
	for _, f := range others {
		if f.event == "gap" {
			t.Fatalf("gap frame %s", f.data)
		}
	}
	for {
		f, err := c.next()
		if err != nil {
			t.Fatalf("no completed frame: %v", err)
		}
		if f.event == "log" {
			t.Fatalf("an extra event after %d: %s", want, f.data)
		}
		if f.event == "completed" {
			return evs
		}
	}
}

func post(t *testing.T, url, user string) (int, []byte, http.Header) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, url, nil)
	req.Header.Set("X-Dev-User", user)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return res.StatusCode, b, res.Header
}

func download(t *testing.T, base, jobID, query, user string) []string {
	t.Helper()
	st, b, h := get(t, base+"/api/blast/logs/"+jobID+"/download"+query, user, "Accept-Encoding", "gzip")
	if st != 200 {
		t.Fatalf("download %d: %s", st, b)
	}
	if h.Get("Content-Encoding") != "gzip" || !strings.HasPrefix(h.Get("Content-Disposition"), "attachment; filename=") {
		t.Fatalf("headers %v", h)
	}
	zr, err := gzip.NewReader(strings.NewReader(string(b)))
	if err != nil {
		t.Fatal(err)
	}
	var lines []string
	sc := bufio.NewScanner(zr)
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		lines = append(lines, sc.Text())
	}
	return lines
}

func countPhase(evs []event.Event, phase string) int {
	n := 0
	for _, e := range evs {
		if e.Phase == phase {
			n++
		}
	}
	return n
}

// The run: 40,550 lines, a stream capped at ~5,000. After completion every
// line is there through snapshots, SSE from the start and the download — and again
// after FLUSHALL, for the owner only.
func TestWholeRunOutlivesTheStreamCapAndRedis(t *testing.T) {
	s := newStack(t)
	dir := filepath.Join(t.TempDir(), "archive")
	srv := s.archived(t, dir, nil)
	s.big(t, "run-big")
	arch, _ := fsdir.New(dir)
	idx := waitComplete(t, arch, "run-big", 60*time.Second)
	if idx.Count != 40550 || len(idx.Gaps) != 0 {
		t.Fatalf("index: %d events, gaps %v", idx.Count, idx.Gaps)
	}
	if n := s.rdb.XLen(context.Background(), "joblogs:run-big").Val(); n > 6000 {
		t.Errorf("the stream still holds %d entries: the archiver did not trim behind its cursor", n)
	}
	check := func(stage string) {
		evs, completed := snapshotAll(t, srv.base, "run-big", owner)
		checkSequence(t, evs, 0, 40550)
		if !completed || countPhase(evs, "staging_db") != 500 {
			t.Fatalf("%s: completed %v, staging_db %d", stage, completed, countPhase(evs, "staging_db"))
		}
		checkSequence(t, sseAll(t, srv.base, "run-big", owner, "", 40550), 0, 40550)
		lines := download(t, srv.base, "run-big", "?format=text", owner)
		if len(lines) != 40551 || lines[40550] != "# 40550 lines, complete" || !strings.HasSuffix(lines[0], "staging_db submit stdout: line 00000") {
			t.Fatalf("%s: download %d lines, first %q last %q", stage, len(lines), lines[0], lines[len(lines)-1])
		}
		for i := 0; i < 40550; i += 997 {
			if !strings.HasSuffix(lines[i], fmt.Sprintf(": line %05d", i)) {
				t.Fatalf("%s: download line %d: %q", stage, i, lines[i])
			}
		}
	}
	check("after completion")

	if err := s.rdb.FlushAll(context.Background()).Err(); err != nil {
		t.Fatal(err)
	}
	check("after FLUSHALL")
	for _, path := range []string{"/snapshot", "/download", "/summary", "/search?q=line"} {
		if st, b, _ := get(t, srv.base+"/api/blast/logs/run-big"+path, "0000000b-0000-4000-8000-0000000000b0"); st != 404 || !strings.Contains(string(b), "job_not_found") {
			t.Errorf("%s for another user: %d %s", path, st, b)
		}
	}
	if st, _, _ := post(t, srv.base+"/api/blast/logs/run-big/ticket", "0000000b-0000-4000-8000-0000000000b0"); st != 404 {
		t.Errorf("ticket for another user: %d", st)
	}
	st, b, _ := get(t, srv.base+"/api/blast/runs", owner)
	if st != 200 || !strings.Contains(string(b), `"job_id":"run-big"`) || !strings.Contains(string(b), `"status":"completed"`) {
		t.Errorf("run list after FLUSHALL: %d %s", st, b)
	}
	type match struct {
		ID     string `json:"id"`
		Line   string `json:"line"`
		LineNo int    `json:"line_no"`
	}
	// A scan stops after SearchMaxTime and says where to go on (a loaded machine may
	// need more than one page): follow next_after to the end of the run.
	var found []match
	for page, after := 0, ""; ; page++ {
		var p struct {
			Matches   []match `json:"matches"`
			NextAfter string  `json:"next_after"`
			Truncated bool    `json:"truncated"`
		}
		st, b, _ = get(t, srv.base+"/api/blast/logs/run-big/search?q=LINE+00250&phase=staging_db&after="+after, owner)
		if err := json.Unmarshal(b, &p); err != nil || st != 200 || page == 100 {
			t.Fatalf("search page %d: %d %s", page, st, b)
		}
		found = append(found, p.Matches...)
		if !p.Truncated {
			break
		}
		after = p.NextAfter
	}
	if len(found) != 1 || found[0].LineNo != 251 || found[0].Line != "line 00250" {
		t.Fatalf("search of an archived step after FLUSHALL: %+v", found)
	}
	var around app.Snapshot
	st, b, _ = get(t, srv.base+"/api/blast/logs/run-big/snapshot?limit=10&around="+found[0].ID, owner)
	if json.Unmarshal(b, &around); st != 200 || len(around.Events) != 10 || around.Events[5].Line != "line 00250" ||
		around.Events[0].Line != "line 00245" {
		t.Errorf("around a permalinked line: %d %s", st, b)
	}
	var sum app.RunSummary
	st, b, _ = get(t, srv.base+"/api/blast/logs/run-big/summary", owner)
	if json.Unmarshal(b, &sum); st != 200 || sum.Steps["staging_db"].Count != 500 || sum.Steps["running"].Count != 40000 || sum.Count != 40550 {
		t.Errorf("summary %d %s", st, b)
	}
}

// A viewer resuming inside the archived range while the run still writes gets every
// event once, from the archive, then the stream, then live.
func TestResumeInTheArchiveContinuesLive(t *testing.T) {
	s := newStack(t)
	dir := filepath.Join(t.TempDir(), "archive")
	srv := s.archived(t, dir, map[string]string{"BLASTLOG_STREAM_MAXLEN": "500"})
	s.publish(t, "", "job", "register", "--job", "run-r", "--owner", owner)
	s.publish(t, numbered(3000, 0), "lines", "--job", "run-r", "--phase", "running")
	arch, _ := fsdir.New(dir)
	deadline := time.Now().Add(30 * time.Second)
	for {
		// Archived and trimmed: the stream no longer holds line 00100.
		if x, _, err := arch.Index(context.Background(), "run-r"); err == nil && x.Count == 3000 &&
			s.rdb.XLen(context.Background(), "joblogs:run-r").Val() <= 1000 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("not archived and trimmed in time")
		}
		time.Sleep(50 * time.Millisecond)
	}
	evs, _ := snapshotAll(t, srv.base, "run-r", owner)
	resume := evs[99].ID
	done := make(chan error, 1)
	go func() {
		err := s.run(numbered(2000, 3000), "lines", "--job", "run-r", "--phase", "running")
		if err == nil {
			err = s.run("", "job", "status", "--job", "run-r", "--status", "completed")
		}
		done <- err
	}()
	got := sseAll(t, srv.base, "run-r", owner, resume.String(), 4900)
	checkSequence(t, got, 100, 4900)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}

// The archive's Blob Storage down for 20 s mid-run: /readyz stays ready, and once it
// is back nothing is lost.
func TestBlobOutageLosesNothing(t *testing.T) {
	az := azuritetest.Start(t)
	s := newStack(t)
	srv := s.server(t, map[string]string{"BLASTLOG_ARCHIVE": "azblob", "BLASTLOG_ARCHIVE_CONNECTION_STRING": az.ConnectionString(),
		"BLASTLOG_ARCHIVE_FLUSH": "200ms", "BLASTLOG_STREAM_MAXLEN": "1000", "BLASTLOG_STREAM_TICKETS": "on"})
	s.waitMark(t)
	s.publish(t, "", "job", "register", "--job", "run-o", "--owner", owner)
	s.publish(t, numbered(2000, 0), "lines", "--job", "run-o", "--phase", "running")
	time.Sleep(time.Second)
	az.Stop()
	outage := time.Now()
	s.publish(t, numbered(6000, 2000), "lines", "--job", "run-o", "--phase", "running")
	for time.Since(outage) < 20*time.Second {
		if st, b, _ := get(t, srv.base+"/readyz", owner); st != 200 {
			t.Fatalf("readyz during the archive outage: %d %s", st, b)
		}
		time.Sleep(time.Second)
	}
	az.Restart(t)
	s.publish(t, "", "job", "status", "--job", "run-o", "--status", "completed")
	evs, _ := snapshotAll(t, srv.base, "run-o", owner)
	checkSequence(t, evs, 0, 8000)
	store, err := azblob.NewFromConnectionString(az.ConnectionString(), "")
	if err != nil {
		t.Fatal(err)
	}
	waitComplete(t, store, "run-o", 60*time.Second)
	if err := s.rdb.FlushAll(context.Background()).Err(); err != nil {
		t.Fatal(err)
	}
	evs, _ = snapshotAll(t, srv.base, "run-o", owner)
	checkSequence(t, evs, 0, 8000)
}

// A streaming container SIGKILLed mid-run: the other replica takes the run over from
// the index and the chunks, and the archive holds exactly the stream's events.
func TestArchiverKilledMidRunIsTakenOver(t *testing.T) {
	s := newStack(t)
	dir := filepath.Join(t.TempDir(), "archive")
	bin := filepath.Join(t.TempDir(), "blastlog-stream")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("build: %v %s", err, out)
	}
	env := []string{"BLASTLOG_REDIS_URL=" + s.srv.URL(), "BLASTLOG_AUTH_MODE=dev-bypass", "BLASTLOG_ADDR=127.0.0.1:0",
		"BLASTLOG_ARCHIVE=dir", "BLASTLOG_ARCHIVE_DIR=" + dir, "BLASTLOG_ARCHIVE_FLUSH=200ms", "BLASTLOG_STREAM_MAXLEN=100000"}
	proc := exec.Command(bin)
	proc.Env = append(os.Environ(), env...)
	proc.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := proc.Start(); err != nil {
		t.Fatal(err)
	}
	defer proc.Process.Kill()
	s.waitMark(t)
	s.publish(t, "", "job", "register", "--job", "run-k", "--owner", owner)
	s.publish(t, numbered(5000, 0), "lines", "--job", "run-k", "--phase", "running")
	arch, _ := fsdir.New(dir)
	deadline := time.Now().Add(30 * time.Second)
	for {
		if refs, _ := arch.Chunks(context.Background(), "run-k"); len(refs["running"]) >= 2 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the first replica archived nothing")
		}
		time.Sleep(20 * time.Millisecond)
	}
	proc.Process.Signal(syscall.SIGKILL)
	proc.Wait()
	s.publish(t, numbered(3000, 5000), "lines", "--job", "run-k", "--phase", "running")
	s.publish(t, "", "job", "status", "--job", "run-k", "--status", "completed")
	s.archived(t, dir, map[string]string{"BLASTLOG_STREAM_MAXLEN": "100000"}) // the other replica
	idx := waitComplete(t, arch, "run-k", 60*time.Second)
	held, err := s.rdb.XRange(context.Background(), "joblogs:run-k", "-", "+").Result()
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, ref := range idx.Steps["running"].Chunks {
		raw, err := arch.Chunk(context.Background(), "run-k", "running", ref.Seq)
		if err != nil {
			t.Fatal(err)
		}
		c, err := chunk.Decode(raw)
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range c.Events {
			ids = append(ids, e.ID.String())
		}
	}
	if len(ids) != len(held) || len(ids) != 8000 {
		t.Fatalf("archive holds %d events, stream %d, want 8000", len(ids), len(held))
	}
	for i := range ids {
		if ids[i] != held[i].ID {
			t.Fatalf("event %d: archive %s, stream %s", i, ids[i], held[i].ID)
		}
	}
}

// The chunks parse with the seed system's chunk schema, read by a Python reader (the
// seed system is Python).
func TestChunksReadByPython(t *testing.T) {
	py, err := exec.LookPath("python3")
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatal("python3 is required in CI for the seed-schema reader")
		}
		t.Skip("needs python3 for the seed-schema reader")
	}
	s := newStack(t)
	dir := filepath.Join(t.TempDir(), "archive")
	// 250 lines at once are a backlog: chunks of ten times 10.
	s.archived(t, dir, map[string]string{"BLASTLOG_ARCHIVE_CHUNK": "10"})
	s.publish(t, "", "job", "register", "--job", "run-py", "--owner", owner)
	s.publish(t, numbered(250, 0), "lines", "--job", "run-py", "--phase", "running")
	s.publish(t, numbered(30, 250), "lines", "--job", "run-py", "--phase", "exporting_results", "--stream", "stderr")
	s.publish(t, "", "job", "status", "--job", "run-py", "--status", "completed")
	arch, _ := fsdir.New(dir)
	waitComplete(t, arch, "run-py", 30*time.Second)
	out, err := exec.Command(py, "testdata/read_chunks.py", filepath.Join(dir, "run-py")).CombinedOutput()
	if err != nil {
		t.Fatalf("python reader: %v\n%s", err, out)
	}
	if got := strings.TrimSpace(string(out)); got != "running 3 250\nexporting_results 1 30" {
		t.Fatalf("python reader says %q", got)
	}
}
