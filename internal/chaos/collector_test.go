//go:build chaos

package chaos

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/blastlog/blastlog/adapters/kube/kubesim"
	"github.com/blastlog/blastlog/adapters/kube/kubetest"
	"github.com/blastlog/blastlog/adapters/redisstore/redistest"
	"github.com/blastlog/blastlog/core/target"
)

const elbID = "job-0123456789abcdef0123456789abcdef"

// pods is what plays pods: kubesim itself, or a Mirror into a real API server.
type pods interface {
	AddPod(kubesim.PodSpec)
	Start(ns, name, c string)
	Log(ns, name, c string, lines ...string)
	Terminate(ns, name, c string, exit int32)
}

// kubeconfig writes a kubeconfig for server with a bearer token.
func kubeconfig(t *testing.T, server, token string) string {
	path := filepath.Join(t.TempDir(), "kubeconfig")
	os.WriteFile(path, []byte(fmt.Sprintf(`apiVersion: v1
kind: Config
clusters: [{name: k, cluster: {server: %q, insecure-skip-tls-verify: true}}]
users: [{name: u, user: {token: %q}}]
contexts: [{name: c, context: {cluster: k, user: u}}]
current-context: c
`, server, token)), 0o600)
	return path
}

// writePods starts n pods in ns that write lines each, 10 every 100 ms, then end;
// the returned func waits for them.
func writePods(d pods, ns string, n, lines int) (names []string, wait func()) {
	var wg sync.WaitGroup
	for p := 0; p < n; p++ {
		name := fmt.Sprintf("blastn-batch-nt-job-%03d-89abcdef-p%d", p, p)
		names = append(names, name)
		d.AddPod(kubesim.PodSpec{Namespace: ns, Name: name, Main: []string{"blast"},
			Labels: map[string]string{target.LabelJobID: elbID, target.LabelApp: "blast"}})
		d.Start(ns, name, "blast")
		wg.Add(1)
		go func() {
			defer wg.Done()
			for c := 0; c < lines/10; c++ {
				batch := make([]string, 10)
				for i := range batch {
					batch[i] = fmt.Sprintf("%s line %05d", name, c*10+i)
				}
				d.Log(ns, name, "blast", batch...)
				time.Sleep(100 * time.Millisecond)
			}
		}()
	}
	return names, func() {
		wg.Wait()
		for _, name := range names {
			d.Terminate(ns, name, "blast", 0)
		}
	}
}

// checkPods: got holds each pod's lines once, in that pod's order, and nothing else.
func checkPods(t *testing.T, got, names []string, lines int) {
	t.Helper()
	byPod := map[string][]string{}
	for _, l := range got {
		key := l[:len(l)-len(" line 00000")]
		byPod[key] = append(byPod[key], l)
	}
	var flat, want []string
	for _, name := range names {
		flat = append(flat, byPod[name+"/"+name]...)
		for i := 0; i < lines; i++ {
			want = append(want, fmt.Sprintf("%s/%s line %05d", name, name, i))
		}
	}
	if len(flat) != len(got) {
		t.Fatalf("%d of %d lines are from the pods: %v", len(flat), len(got), got[:min(5, len(got))])
	}
	expect(t, flat, want)
}

// Six pods write 600 lines each over 6 s. The one streaming replica that collects them
// is SIGKILLed after 2 s, a second replica (started a moment before) takes the run's
// lease over when it expires and resumes from the checkpoints: the viewer gets every
// pod line once, in each pod's order.
func TestChaosCollectorReplicaKilled(t *testing.T) {
	srv := redistest.Start(t)
	srv.RequireReal(t)
	url := srv.URL()
	sim := kubesim.New()
	t.Cleanup(sim.Close)
	env := []string{"BLASTLOG_REDIS_URL=" + url, "BLASTLOG_K8S=kubeconfig", "KUBECONFIG=" + kubeconfig(t, sim.URL(), "chaos")}
	publish(t, url, nil, "job", "register", "--job", "run-k", "--owner", owner, "--elb-job-id", elbID)
	publish(t, url, nil, "job", "status", "--job", "run-k", "--status", "running")
	a := startReplica(t, env...)
	v := watch(t, "run-k", a)

	const n, lines = 6, 600
	start := time.Now()
	names, wait := writePods(sim, "default", n, lines)
	time.Sleep(time.Until(start.Add(1500 * time.Millisecond)))
	b := startReplica(t, env...)
	time.Sleep(time.Until(start.Add(2 * time.Second)))
	a.kill()
	killed := time.Now()
	v.setReplicas(b)
	wait()
	publish(t, url, nil, "job", "status", "--job", "run-k", "--status", "completed")
	checkPods(t, v.wait(t, 90*time.Second), names, lines)
	t.Logf("%d of %d pod lines once, in each pod's order, after the collecting replica was SIGKILLed; completed %v after the kill; the viewer reconnected %d times",
		n*lines, n*lines, time.Since(killed).Round(10*time.Millisecond), v.reconnects)
}

// Four pods write 600 lines each over 6 s through a real kube-apiserver, which is
// SIGKILLed after 2 s and back 2 s later: the collector's follows and watch break and
// resume from the checkpoints, and the viewer gets every pod line once.
func TestChaosAPIServerRestartedMidFollow(t *testing.T) {
	cp, err := kubetest.Start()
	if errors.Is(err, kubetest.ErrNoBinaries) && os.Getenv("CI") == "" {
		t.Skip("needs kube-apiserver and etcd: go tool task k8s:binaries")
	}
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cp.Stop)
	m := cp.NewMirror()
	srv := redistest.Start(t)
	srv.RequireReal(t)
	url := srv.URL()
	env := []string{"BLASTLOG_REDIS_URL=" + url, "BLASTLOG_K8S=kubeconfig", "KUBECONFIG=" + kubeconfig(t, cp.Admin.Host, kubetest.AdminToken)}
	publish(t, url, nil, "job", "register", "--job", "run-a", "--owner", owner, "--elb-job-id", elbID, "--namespace", m.Namespace)
	publish(t, url, nil, "job", "status", "--job", "run-a", "--status", "running")
	v := watch(t, "run-a", startReplica(t, env...))

	const n, lines = 4, 600
	start := time.Now()
	names, wait := writePods(m, m.Namespace, n, lines)
	time.Sleep(time.Until(start.Add(2 * time.Second)))
	down := time.Now()
	if err := cp.RestartAPIServer(2 * time.Second); err != nil {
		t.Fatal(err)
	}
	back := time.Since(down)
	wait()
	publish(t, url, nil, "job", "status", "--job", "run-a", "--status", "completed")
	checkPods(t, v.wait(t, 120*time.Second), names, lines)
	t.Logf("%d of %d pod lines once after kube-apiserver was SIGKILLed mid-follow and ready again %v later; completed %v after the start",
		n*lines, n*lines, back.Round(10*time.Millisecond), time.Since(start).Round(10*time.Millisecond))
}
