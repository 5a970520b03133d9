//go:build chaos

package chaos

import (
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/blastlog/blastlog/adapters/kube/kubesim"
	"github.com/blastlog/blastlog/adapters/redisstore/redistest"
	"github.com/blastlog/blastlog/core/target"
)

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
	kubeconfig := filepath.Join(t.TempDir(), "kubeconfig")
	os.WriteFile(kubeconfig, []byte(fmt.Sprintf(`apiVersion: v1
kind: Config
clusters: [{name: sim, cluster: {server: %q}}]
users: [{name: u, user: {token: chaos}}]
contexts: [{name: c, context: {cluster: sim, user: u}}]
current-context: c
`, sim.URL())), 0o600)
	env := []string{"BLASTLOG_REDIS_URL=" + url, "BLASTLOG_K8S=kubeconfig", "KUBECONFIG=" + kubeconfig}
	const elbID = "job-0123456789abcdef0123456789abcdef"
	publish(t, url, nil, "job", "register", "--job", "run-k", "--owner", owner, "--elb-job-id", elbID)
	publish(t, url, nil, "job", "status", "--job", "run-k", "--status", "running")
	a := startReplica(t, env...)
	v := watch(t, "run-k", a)

	const pods, lines = 6, 600
	start := time.Now()
	var wg sync.WaitGroup
	var want []string
	for p := 0; p < pods; p++ {
		name := fmt.Sprintf("blastn-batch-nt-job-%03d-89abcdef-p%d", p, p)
		sim.AddPod(kubesim.PodSpec{Name: name, Main: []string{"blast"},
			Labels: map[string]string{target.LabelJobID: elbID, target.LabelApp: "blast"}})
		sim.Start("default", name, "blast")
		for i := 0; i < lines; i++ {
			want = append(want, fmt.Sprintf("%s/%s line %05d", name, name, i))
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			for c := 0; c < lines/10; c++ {
				batch := make([]string, 10)
				for i := range batch {
					batch[i] = fmt.Sprintf("%s line %05d", name, c*10+i)
				}
				sim.Log("default", name, "blast", batch...)
				time.Sleep(100 * time.Millisecond)
			}
			sim.Terminate("default", name, "blast", 0)
		}()
	}
	time.Sleep(time.Until(start.Add(1500 * time.Millisecond)))
	b := startReplica(t, env...)
	time.Sleep(time.Until(start.Add(2 * time.Second)))
	a.kill()
	killed := time.Now()
	v.setReplicas(b)
	wg.Wait()
	publish(t, url, nil, "job", "status", "--job", "run-k", "--status", "completed")
	got := v.wait(t, 90*time.Second)
	// Lines of different pods interleave; each pod's are in order.
	byPod := map[string][]string{}
	for _, l := range got {
		byPod[l[:len(l)-len(" line 00000")]] = append(byPod[l[:len(l)-len(" line 00000")]], l)
	}
	var flat []string
	for p := 0; p < pods; p++ {
		name := fmt.Sprintf("blastn-batch-nt-job-%03d-89abcdef-p%d", p, p)
		flat = append(flat, byPod[name+"/"+name]...)
	}
	if len(flat) != len(got) {
		t.Fatalf("%d of %d lines are from the pods: %v", len(flat), len(got), got[:min(5, len(got))])
	}
	expect(t, flat, want)
	t.Logf("%d of %d pod lines once, in each pod's order, after the collecting replica was SIGKILLed; completed %v after the kill; the viewer reconnected %d times",
		len(flat), pods*lines, time.Since(killed).Round(10*time.Millisecond), v.reconnects)
}
