package main

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"sync"
	"testing"
	"time"

	"github.com/blastlog/blastlog/adapters/archive/fsdir"
	"github.com/blastlog/blastlog/adapters/redisstore"
	"github.com/blastlog/blastlog/core/event"
	"github.com/blastlog/blastlog/core/job"
)

// BenchmarkTerminalClient: the terminal client blastlog against a streaming container
// in its own process. logs: printing a 1,000,000-line archived run (no follow) beside
// the API's download of the same run; follow: the time from a line's publish to its
// print by logs -f, over 1,000 lines published 5 ms apart.
func BenchmarkTerminalClient(b *testing.B) {
	s := newStack(b)
	cli := filepath.Join(b.TempDir(), "blastlog")
	if out, err := exec.Command("go", "build", "-o", cli, "../blastlog").CombinedOutput(); err != nil {
		b.Fatalf("%v %s", err, out)
	}
	dir := filepath.Join(b.TempDir(), "archive")
	d, err := fsdir.New(dir)
	if err != nil {
		b.Fatal(err)
	}
	fillRun(b, d)
	_, base := serverProcess(b, s, map[string]string{"BLASTLOG_ARCHIVE": "dir", "BLASTLOG_ARCHIVE_DIR": dir,
		"BLASTLOG_DEV_USER": owner, "BLASTLOG_OWNER_MAX_REQUESTS": "100", "BLASTLOG_MAX_HEAVY_READS": "100"})
	ticketBin := filepath.Join(b.TempDir(), "blastlog-ticket")
	if out, err := exec.Command("go", "build", "-o", ticketBin, "../ticket").CombinedOutput(); err != nil {
		b.Fatalf("%v %s", err, out)
	}
	port := freePort(b)
	ticket := exec.Command(ticketBin)
	ticket.Env = append(os.Environ(), "BLASTLOG_REDIS_URL="+s.url, "BLASTLOG_AUTH_MODE=dev-bypass", "BLASTLOG_DEV_USER="+owner,
		"BLASTLOG_ADDR=127.0.0.1:"+port)
	if err := ticket.Start(); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { ticket.Process.Kill(); ticket.Wait() })
	client := func(args ...string) *exec.Cmd {
		cmd := exec.Command(cli, args...)
		cmd.Env = append(os.Environ(), "BLASTLOG_URL="+base, "BLASTLOG_TICKET_URL=http://127.0.0.1:"+port, "BLASTLOG_DEV_USER="+owner)
		return cmd
	}
	b.Run("logs", func(b *testing.B) {
		for b.Loop() {
			var api lineCounter
			t0 := time.Now()
			getTo(b, base+"/api/blast/logs/"+readRun+"/download?format=ndjson", &api)
			apiTime := time.Since(t0)
			cmd := client("logs", readRun, "-o", "raw")
			var printed lineCounter
			cmd.Stdout = &printed
			t0 = time.Now()
			if err := cmd.Run(); err != nil {
				b.Fatal(err)
			}
			el := time.Since(t0)
			if printed.lines != readLines {
				b.Fatalf("printed %d lines", printed.lines)
			}
			b.ReportMetric(float64(printed.lines)/el.Seconds(), "printed-lines/s")
			b.ReportMetric(float64(api.lines-1)/apiTime.Seconds(), "api-download-lines/s")
		}
	})
	b.Run("follow", func(b *testing.B) {
		ctx := context.Background()
		jobs := redisstore.NewJobDirectory(s.rdb, redisstore.Config{})
		log := redisstore.NewEventLog(s.rdb, redisstore.Config{})
		for i := 0; b.Loop(); i++ {
			run := fmt.Sprintf("cli-follow-%d", i)
			if err := jobs.Register(ctx, job.Record{JobID: run, OwnerOID: owner, Status: job.Running}); err != nil {
				b.Fatal(err)
			}
			cmd := client("logs", run, "-f", "-o", "raw")
			out, _ := cmd.StdoutPipe()
			if err := cmd.Start(); err != nil {
				b.Fatal(err)
			}
			var mu sync.Mutex
			sent := map[string]time.Time{}
			var lat []time.Duration
			done := make(chan struct{})
			go func() {
				defer close(done)
				sc := bufio.NewScanner(out)
				for sc.Scan() {
					at := time.Now()
					mu.Lock()
					if t, ok := sent[sc.Text()]; ok {
						lat = append(lat, at.Sub(t))
					}
					mu.Unlock()
				}
			}()
			time.Sleep(500 * time.Millisecond) // connected
			for n := 0; n < 1000; n++ {
				line := fmt.Sprintf("line %d", n)
				e := event.Event{SchemaVersion: 1, JobID: run, Source: event.SourceTerminal, Stream: event.Stdout, Line: line, TS: time.Now()}
				mu.Lock()
				sent[line] = time.Now()
				mu.Unlock()
				if _, err := log.Append(ctx, run, []event.Event{e}); err != nil {
					b.Fatal(err)
				}
				time.Sleep(5 * time.Millisecond)
			}
			jobs.SetStatus(ctx, run, job.Completed)
			<-done
			if err := cmd.Wait(); err != nil {
				b.Fatal(err)
			}
			if len(lat) != 1000 {
				b.Fatalf("%d of 1000 lines printed", len(lat))
			}
			sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
			b.ReportMetric(float64(lat[500].Microseconds())/1000, "median-ms")
			b.ReportMetric(float64(lat[990].Microseconds())/1000, "p99-ms")
		}
	})
}
