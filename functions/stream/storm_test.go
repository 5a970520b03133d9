package main

import (
	"bufio"
	"context"
	"fmt"
	"math/rand/v2"
	"net"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// 5,000 viewers reconnect at once — what a replica's death sends to the others — as
// the page's client does after a broken stream (its first retry waits 250-500 ms,
// uniform), with the per-owner cap raised as a load test must: every one gets 200,
// and every one then receives the next line. A load test: the test task runs it
// without the race detector (which allows 8,128 goroutines; this needs about 20,000).
func TestReconnectStormAllGet200(t *testing.T) {
	if testing.Short() {
		t.Skip("5,000 connections; not in -short")
	}
	if raceEnabled {
		t.Skip("a load test: the test task runs it in its pass without -race")
	}
	const viewers = 5000
	s := newStack(t)
	srv := s.server(t, loadTest)
	s.register(t, "run-storm", owner)
	tickets := make([]string, viewers)
	for i := range tickets {
		tickets[i] = s.ticket(t, "run-storm")
	}
	tr := &http.Transport{DialContext: (&net.Dialer{Timeout: 30 * time.Second}).DialContext, MaxIdleConnsPerHost: -1}
	defer tr.CloseIdleConnections()
	hc := &http.Client{Transport: tr}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()

	var ok, got atomic.Int64
	statuses := sync.Map{} // status -> count
	var connected, received sync.WaitGroup
	connected.Add(viewers)
	received.Add(viewers)
	start := time.Now()
	var lastOK atomic.Int64
	for i := 0; i < viewers; i++ {
		go func() {
			defer received.Done()
			time.Sleep(250*time.Millisecond + rand.N(250*time.Millisecond)) // blastlog-client.js: ceil/2 + random·ceil/2, ceil 500 ms
			req, _ := http.NewRequestWithContext(ctx, http.MethodGet, srv.base+"/api/blast/logs/run-storm/events?ticket="+tickets[i], nil)
			res, err := hc.Do(req)
			if err != nil {
				statuses.Store("error: "+err.Error(), true)
				connected.Done()
				return
			}
			defer res.Body.Close()
			n, _ := statuses.LoadOrStore(res.StatusCode, new(atomic.Int64))
			n.(*atomic.Int64).Add(1)
			if res.StatusCode != 200 {
				connected.Done()
				return
			}
			ok.Add(1)
			lastOK.Store(int64(time.Since(start)))
			connected.Done()
			r := bufio.NewReader(res.Body)
			for {
				l, err := r.ReadString('\n')
				if err != nil {
					return
				}
				if strings.HasPrefix(l, "data: ") && strings.Contains(l, "after the storm") {
					got.Add(1)
					return
				}
			}
		}()
	}
	connected.Wait()
	var report []string
	statuses.Range(func(k, v any) bool {
		if n, isCount := v.(*atomic.Int64); isCount {
			report = append(report, fmt.Sprintf("%v×%d", k, n.Load()))
		} else {
			report = append(report, fmt.Sprint(k))
		}
		return true
	})
	t.Logf("%d viewers: %v; the last 200 after %v", viewers, report, time.Duration(lastOK.Load()).Round(time.Millisecond))
	if ok.Load() != viewers {
		t.Fatalf("%d of %d got 200: %v", ok.Load(), viewers, report)
	}
	s.publish(t, "after the storm\n", "lines", "--job", "run-storm", "--phase", "running")
	done := make(chan struct{})
	go func() { received.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(60 * time.Second):
	}
	cancel()
	if got.Load() != viewers {
		t.Fatalf("%d of %d viewers received the line after the storm", got.Load(), viewers)
	}
}
