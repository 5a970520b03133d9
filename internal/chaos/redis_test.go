//go:build chaos

package chaos

import (
	"os"
	"os/exec"
	"testing"
	"time"

	"github.com/blastlog/blastlog/adapters/redisstore/redistest"
)

// While a wrapped command writes 3,000 lines at 300/s: Redis is SIGKILLed and
// restarted from its AOF (appendfsync always), then hung (SIGSTOP) for 2 s, then the
// viewer's streaming replica is SIGKILLed and it resumes on the other, with tickets
// from the ticket function's process. The viewer gets the 3,000 lines once each, in
// order.
func TestChaosRedisRestartHangAndAReplicaKilled(t *testing.T) {
	srv := redistest.StartWith(t, "--appendonly", "yes", "--appendfsync", "always")
	url := srv.URL()
	a, b := startReplica(t, "BLASTLOG_REDIS_URL="+url), startReplica(t, "BLASTLOG_REDIS_URL="+url)
	issuer := startHTTP(t, "ticket", "BLASTLOG_REDIS_URL="+url)
	publish(t, url, nil, "job", "register", "--job", "run-chaos", "--owner", owner)
	v := watch(t, "run-chaos", a, b)
	v.mu.Lock()
	v.tickets = issuer.base
	v.mu.Unlock()

	run := exec.Command(bins["publish"], "run", "--job", "run-chaos", "--", os.Args[0])
	run.Env = append(os.Environ(), "BLASTLOG_REDIS_URL="+url, "BLASTLOG_SPOOL_DIR="+t.TempDir(), "CHAOS_GENERATOR=3000:300")
	start := time.Now()
	if err := run.Start(); err != nil {
		t.Fatal(err)
	}
	at := func(d time.Duration) { time.Sleep(time.Until(start.Add(d))) }
	at(2 * time.Second)
	srv.Stop() // SIGKILL
	at(4 * time.Second)
	srv.Restart(t)
	at(6 * time.Second)
	srv.Pause(t)
	at(8 * time.Second)
	srv.Resume(t)
	at(9 * time.Second)
	a.kill()
	v.setReplicas(b)
	if err := run.Wait(); err != nil {
		t.Fatalf("blastlog-publish run: %v", err)
	}
	ran := time.Since(start)
	publish(t, url, nil, "job", "status", "--job", "run-chaos", "--status", "completed")
	got := v.wait(t, 60*time.Second)
	expect(t, got, numbered("/", 3000))
	t.Logf("3,000 of 3,000 lines once, in order; the publisher ran %v (the command 10 s); the viewer reconnected %d times; completed %v after the start",
		ran.Round(10*time.Millisecond), v.reconnects, time.Since(start).Round(10*time.Millisecond))
}
