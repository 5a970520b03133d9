// ssebench: open M SSE clients, publish N messages through a hub's HTTP
// publish API, measure publish->receive latency. Stdlib only.
package main

import (
	"bufio"
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

var (
	mode      = flag.String("mode", "centrifugo", "centrifugo|mercure|generic")
	sseURL    = flag.String("sse", "", "SSE URL")
	pubURL    = flag.String("pub", "", "publish URL")
	channel   = flag.String("channel", "logs", "channel/topic")
	nChans    = flag.Int("channels", 1, "spread clients/publishes over K channels named <channel>-<i> ({ch} in -sse is replaced)")
	apiKey    = flag.String("apikey", "", "centrifugo X-API-Key")
	pubJWT    = flag.String("jwt", "", "mercure publisher bearer JWT (or use -hmac)")
	hmacKey   = flag.String("hmac", "", "HS256 secret to mint mercure publisher JWT (v0.x claims)")
	clients   = flag.Int("clients", 100, "number of SSE clients")
	msgs      = flag.Int("msgs", 1000, "number of messages to publish")
	rate      = flag.Int("rate", 200, "publish rate, msgs/s (0 = as fast as possible)")
	pubConc   = flag.Int("pubconc", 4, "concurrent publishers")
	payload   = flag.Int("payload", 200, "payload pad bytes")
	timeline  = flag.String("timeline", "", "write each delivery's publish time (ms from the first) and latency (µs) to this file")
	pid       = flag.Int("pid", 0, "server pid for RSS sampling")
	waitSecs  = flag.Int("wait", 10, "seconds to wait for delivery after last publish")
	expectPer = flag.Int("expect", 0, "catch-up mode: wait until every client has this many events (replayed history), report time")
	ticketURL = flag.String("ticket", "", "blastlog: ticket endpoint ({ch} replaced); each client POSTs for its own ticket")
	redisAddr = flag.String("redis", "127.0.0.1:6379", "blastlog: Redis address to XADD to")
	streamPfx = flag.String("stream-prefix", "joblogs:", "blastlog: stream key prefix")
)

type client struct {
	lat  []int64
	sent []int64 // each latency's publish time (UnixNano), for -timeline
	seen int64
}

func rssKB(p int) int64 {
	if p == 0 {
		return 0
	}
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", p))
	if err != nil {
		return -1
	}
	for _, l := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(l, "VmRSS:") {
			f := strings.Fields(l)
			v, _ := strconv.ParseInt(f[1], 10, 64)
			return v
		}
	}
	return -1
}

func b64(b []byte) string { return base64.RawURLEncoding.EncodeToString(b) }

func mintJWT(secret string, claims map[string]any) string {
	h := b64([]byte(`{"alg":"HS256","typ":"JWT"}`))
	c, _ := json.Marshal(claims)
	s := h + "." + b64(c)
	m := hmac.New(sha256.New, []byte(secret))
	m.Write([]byte(s))
	return s + "." + b64(m.Sum(nil))
}

var tMarker = []byte(`"t":`)
var tMarker2 = []byte(`t=`)

func parseT(b []byte) (int64, bool) {
	i, n := bytes.Index(b, tMarker), len(tMarker)
	if i < 0 {
		if i, n = bytes.Index(b, tMarker2), len(tMarker2); i < 0 {
			return 0, false
		}
	}
	j := i + n
	k := j
	for k < len(b) && b[k] >= '0' && b[k] <= '9' {
		k++
	}
	v, err := strconv.ParseInt(string(b[j:k]), 10, 64)
	return v, err == nil
}

func main() {
	flag.Parse()
	tr := &http.Transport{
		DialContext:         (&net.Dialer{Timeout: 10 * time.Second}).DialContext,
		MaxIdleConns:        0,
		MaxIdleConnsPerHost: *pubConc * 2,
		DisableCompression:  true,
	}
	sseClient := &http.Client{Transport: tr}
	pubClient := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: *pubConc * 2, DisableCompression: true}, Timeout: 10 * time.Second}

	rss0 := rssKB(*pid)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	cs := make([]*client, *clients)
	var ready, failed int64
	var wg sync.WaitGroup
	connStart := time.Now()
	chName := func(i int) string {
		if *nChans <= 1 {
			return *channel
		}
		return fmt.Sprintf("%s-%d", *channel, i%*nChans)
	}
	for i := range cs {
		c := &client{lat: make([]int64, 0, *msgs)}
		if *timeline != "" {
			c.sent = make([]int64, 0, *msgs)
		}
		u := strings.ReplaceAll(*sseURL, "{ch}", chName(i))
		cs[i] = c
		wg.Add(1)
		go func() {
			defer wg.Done()
			if *mode == "blastlog" {
				t, err := fetchTicket(strings.ReplaceAll(*ticketURL, "{ch}", chName(i)))
				if err != nil {
					if atomic.AddInt64(&failed, 1) <= 3 {
						fmt.Fprintln(os.Stderr, "ticket:", err)
					}
					return
				}
				u = strings.ReplaceAll(u, "{ticket}", t)
			}
			req, _ := http.NewRequestWithContext(ctx, "GET", u, nil)
			req.Header.Set("Accept", "text/event-stream")
			resp, err := sseClient.Do(req)
			if err != nil || resp.StatusCode != 200 {
				n := atomic.AddInt64(&failed, 1)
				if err == nil && n > 3 {
					resp.Body.Close()
				} else if err == nil {
					b, _ := io.ReadAll(io.LimitReader(resp.Body, 300))
					fmt.Fprintf(os.Stderr, "status %d: %s\n", resp.StatusCode, b)
					resp.Body.Close()
				} else if atomic.LoadInt64(&failed) < 5 {
					fmt.Fprintln(os.Stderr, "dial:", err)
				}
				return
			}
			defer resp.Body.Close()
			r := bufio.NewReaderSize(resp.Body, 1<<20)
			isReady := false
			if *mode != "centrifugo" { // mercure/generic: ready once headers arrive
				atomic.AddInt64(&ready, 1)
				isReady = true
			}
			for {
				line, err := r.ReadSlice('\n')
				if err != nil {
					return
				}
				if !bytes.HasPrefix(line, []byte("data:")) {
					continue
				}
				now := time.Now().UnixNano()
				if !isReady && bytes.Contains(line, []byte(`"connect"`)) {
					atomic.AddInt64(&ready, 1)
					isReady = true
					continue
				}
				if t, ok := parseT(line); ok {
					c.lat = append(c.lat, now-t)
					if c.sent != nil {
						c.sent = append(c.sent, t)
					}
					atomic.AddInt64(&c.seen, 1)
				}
			}
		}()
	}
	deadline := time.Now().Add(60 * time.Second)
	for atomic.LoadInt64(&ready)+atomic.LoadInt64(&failed) < int64(*clients) && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	connDur := time.Since(connStart)
	time.Sleep(500 * time.Millisecond)
	rss1 := rssKB(*pid)
	fmt.Printf("clients ready=%d failed=%d in %v; server RSS before=%dKB after-connect=%dKB (%.1f KB/conn)\n",
		ready, failed, connDur.Round(time.Millisecond), rss0, rss1, float64(rss1-rss0)/float64(max64(ready, 1)))

	if *expectPer > 0 {
		dl := time.Now().Add(time.Duration(*waitSecs) * time.Second)
		for time.Now().Before(dl) {
			done := 0
			for _, c := range cs {
				if atomic.LoadInt64(&c.seen) >= int64(*expectPer) {
					done++
				}
			}
			if done == len(cs) {
				break
			}
			time.Sleep(10 * time.Millisecond)
		}
		var tot int64
		full := 0
		for _, c := range cs {
			n := atomic.LoadInt64(&c.seen)
			tot += n
			if n >= int64(*expectPer) {
				full++
			}
		}
		fmt.Printf("catch-up: %d/%d clients got >=%d replayed events (total %d) within %v of start\n", full, len(cs), *expectPer, tot, time.Since(connStart).Round(time.Millisecond))
		cancel()
		return
	}
	// Mercure publisher JWT.
	jwt := *pubJWT
	if *mode == "mercure" && jwt == "" && *hmacKey != "" {
		jwt = mintJWT(*hmacKey, map[string]any{"mercure": map[string]any{"publish": []string{"*"}}})
	}
	pad := strings.Repeat("x", *payload)
	var pubErr, pubOK int64
	pubStart := time.Now()
	jobs := make(chan int, 1024)
	var pwg sync.WaitGroup
	for w := 0; w < *pubConc; w++ {
		pwg.Add(1)
		go func() {
			defer pwg.Done()
			if *mode == "blastlog" {
				rc, err := net.Dial("tcp", *redisAddr)
				if err != nil {
					fmt.Fprintln(os.Stderr, "redis:", err)
					return
				}
				defer rc.Close()
				br := bufio.NewReader(rc)
				for seq := range jobs {
					t := time.Now().UnixNano()
					ev := fmt.Sprintf(`{"schema_version":1,"job_id":%q,"source":"terminal_exec","phase":"running","stream":"stdout","pod":"","container":"","line":"t=%d s=%d %s","ts":%q}`,
						chName(seq), t, seq, pad, time.Now().UTC().Format(time.RFC3339Nano))
					if err := xadd(rc, br, *streamPfx+chName(seq), ev); err != nil {
						if atomic.AddInt64(&pubErr, 1) < 3 {
							fmt.Fprintln(os.Stderr, "xadd:", err)
						}
						continue
					}
					atomic.AddInt64(&pubOK, 1)
				}
				return
			}
			for seq := range jobs {
				t := time.Now().UnixNano()
				var req *http.Request
				switch *mode {
				case "centrifugo":
					body := fmt.Sprintf(`{"channel":%q,"data":{"t":%d,"s":%d,"p":%q}}`, chName(seq), t, seq, pad)
					req, _ = http.NewRequest("POST", *pubURL, strings.NewReader(body))
					req.Header.Set("Content-Type", "application/json")
					req.Header.Set("X-API-Key", *apiKey)
				case "mercure":
					v := url.Values{}
					v.Set("topic", chName(seq))
					v.Set("data", fmt.Sprintf(`{"t":%d,"s":%d,"p":%q}`, t, seq, pad))
					req, _ = http.NewRequest("POST", *pubURL, strings.NewReader(v.Encode()))
					req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
					req.Header.Set("Authorization", "Bearer "+jwt)
				default:
					body := fmt.Sprintf(`{"t":%d,"s":%d,"p":%q}`, t, seq, pad)
					req, _ = http.NewRequest("POST", *pubURL, strings.NewReader(body))
				}
				resp, err := pubClient.Do(req)
				if err != nil {
					if atomic.AddInt64(&pubErr, 1) < 3 {
						fmt.Fprintln(os.Stderr, "publish:", err)
					}
					continue
				}
				b, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				if resp.StatusCode/100 != 2 || bytes.Contains(b, []byte(`"error"`)) {
					if atomic.AddInt64(&pubErr, 1) < 3 {
						fmt.Fprintf(os.Stderr, "publish status %d: %s\n", resp.StatusCode, b)
					}
					continue
				}
				atomic.AddInt64(&pubOK, 1)
			}
		}()
	}
	var tick *time.Ticker
	if *rate > 0 {
		tick = time.NewTicker(time.Second / time.Duration(*rate))
	}
	for i := 0; i < *msgs; i++ {
		if tick != nil {
			<-tick.C
		}
		jobs <- i
	}
	close(jobs)
	pwg.Wait()
	pubDur := time.Since(pubStart)
	rss2 := rssKB(*pid)
	expected := pubOK * ready / int64(max64(int64(*nChans), 1))
	wdl := time.Now().Add(time.Duration(*waitSecs) * time.Second)
	for time.Now().Before(wdl) {
		var got int64
		for _, c := range cs {
			got += atomic.LoadInt64(&c.seen)
		}
		if got >= expected {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	cancel()
	wg.Wait()
	var all []int64
	for _, c := range cs {
		all = append(all, c.lat...)
	}
	if *timeline != "" {
		writeTimeline(*timeline, cs)
	}
	sort.Slice(all, func(i, j int) bool { return all[i] < all[j] })
	pct := func(p float64) time.Duration {
		if len(all) == 0 {
			return 0
		}
		i := int(p * float64(len(all)-1))
		return time.Duration(all[i])
	}
	fmt.Printf("published ok=%d err=%d in %v (%.0f msg/s); delivered %d/%d (%.2f%%), fan-out %.0f deliveries/s\n",
		pubOK, pubErr, pubDur.Round(time.Millisecond), float64(pubOK)/pubDur.Seconds(),
		len(all), expected, 100*float64(len(all))/float64(max64(expected, 1)), float64(len(all))/pubDur.Seconds())
	fmt.Printf("latency p50=%v p90=%v p99=%v p999=%v max=%v; server RSS during-publish=%dKB\n",
		pct(0.5).Round(time.Microsecond), pct(0.9).Round(time.Microsecond), pct(0.99).Round(time.Microsecond),
		pct(0.999).Round(time.Microsecond), pct(1).Round(time.Microsecond), rss2)
}

func max64(a, b int64) int64 {
	if a > b {
		return a
	}
	return b
}

func fetchTicket(u string) (string, error) {
	resp, err := http.Post(u, "application/json", nil)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	var v struct{ Ticket string }
	if err := json.NewDecoder(resp.Body).Decode(&v); err != nil || v.Ticket == "" {
		return "", fmt.Errorf("status %d: no ticket (%v)", resp.StatusCode, err)
	}
	return v.Ticket, nil
}

// xadd sends XADD key MAXLEN ~ 1000000 * event <json> and reads the reply.
func xadd(w io.Writer, r *bufio.Reader, key, ev string) error {
	args := []string{"XADD", key, "MAXLEN", "~", "1000000", "*", "event", ev}
	var b strings.Builder
	fmt.Fprintf(&b, "*%d\r\n", len(args))
	for _, a := range args {
		fmt.Fprintf(&b, "$%d\r\n%s\r\n", len(a), a)
	}
	if _, err := io.WriteString(w, b.String()); err != nil {
		return err
	}
	line, err := r.ReadString('\n')
	if err != nil {
		return err
	}
	if strings.HasPrefix(line, "-") {
		return fmt.Errorf("%s", strings.TrimSpace(line))
	}
	if strings.HasPrefix(line, "$") {
		_, err = r.ReadString('\n')
	}
	return err
}

// writeTimeline writes "ms latency_µs" per delivery, ordered by publish time: where
// in the run the slow deliveries fall (a pause, a periodic burst, a collection).
func writeTimeline(path string, cs []*client) {
	type d struct{ sent, lat int64 }
	var ds []d
	for _, c := range cs {
		for i := range c.lat {
			ds = append(ds, d{c.sent[i], c.lat[i]})
		}
	}
	if len(ds) == 0 {
		return
	}
	sort.Slice(ds, func(i, j int) bool { return ds[i].sent < ds[j].sent })
	var b strings.Builder
	fmt.Fprintf(&b, "# first published at %d ms (Unix)\n", ds[0].sent/1e6)
	for _, x := range ds {
		fmt.Fprintf(&b, "%d %d\n", (x.sent-ds[0].sent)/1e6, x.lat/1e3)
	}
	if err := os.WriteFile(path, []byte(b.String()), 0o644); err != nil {
		fmt.Fprintln(os.Stderr, "timeline:", err)
	}
}
