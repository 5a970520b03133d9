package main

import (
	"net/http"
	"runtime"
	"testing"
)

// TestPprofOnLoopbackOnly: BLASTLOG_PPROF_ADDR serves the profiles on its own
// loopback listener, never on the API's, and refuses an address other hosts reach.
func TestPprofOnLoopbackOnly(t *testing.T) {
	for _, bad := range []string{":6060", "0.0.0.0:6060", "10.0.0.1:6060", "example.com:6060", "6060"} {
		if _, err := load(func(k string) string {
			return map[string]string{"BLASTLOG_REDIS_URL": "redis://127.0.0.1:1/0", "BLASTLOG_PPROF_ADDR": bad}[k]
		}, false); err == nil {
			t.Errorf("BLASTLOG_PPROF_ADDR=%s accepted", bad)
		}
	}
	s := newStack(t)
	pp := "127.0.0.1:" + freePort(t)
	srv := s.server(t, map[string]string{"BLASTLOG_PPROF_ADDR": pp})
	for u, want := range map[string]int{"http://" + pp + "/debug/pprof/mutex?debug=1": 200, srv.base + "/debug/pprof/": 404} {
		res, err := http.Get(u)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		if res.StatusCode != want {
			t.Errorf("GET %s: %d want %d", u, res.StatusCode, want)
		}
	}
	if runtime.SetMutexProfileFraction(-1) != mutexFraction {
		t.Error("mutex profiling is off while profiling")
	}
	srv.app.Stop(t.Context())
	if runtime.SetMutexProfileFraction(-1) != 0 {
		t.Error("mutex profiling still on after stop")
	}
}
