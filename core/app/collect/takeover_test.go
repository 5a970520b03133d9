package collect

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/blastlog/blastlog/core/event"
	"github.com/blastlog/blastlog/core/target"
	"github.com/blastlog/blastlog/ports/portstest"
)

// The sanitiser's state travels with the checkpoint: a private key block begun under
// one holder is masked to its end under the next.
func TestAKeyBlockIsMaskedAcrossATakeover(t *testing.T) {
	r := newRig(t)
	p := target.Pod{Name: "submit-jobs-3ed51a95-pem", Labels: map[string]string{target.LabelApp: "submit", target.LabelJobID: elbID},
		Main: []target.Container{{Name: "submit-jobs"}}}
	r.cluster.AddPod(p)
	r.cluster.StartContainer("default", p.Name, "submit-jobs")
	short := func(c *Config) { c.LeaseTTL = 300 * time.Millisecond }
	stop := r.collect("a", short)
	r.cluster.Log("default", p.Name, "submit-jobs", "-----BEGIN RSA PRIVATE KEY-----", "MIIEowIBAAKCAQEAu1SU1LfVLPHCozMxH2Mo4lgOEePzNm0tRgeLezV6ffAt0gun")
	r.waitFor("the key's first lines", func([]event.Event) bool { return len(r.k8sLinesOf(p.Name)) == 2 })
	if err := stop(); err != nil {
		t.Fatal(err)
	}
	stop = r.collect("b", short)
	r.cluster.Log("default", p.Name, "submit-jobs", "q2w3", "-----END RSA PRIVATE KEY-----", "key written")
	r.cluster.EndContainer("default", p.Name, "submit-jobs", 0, "Completed")
	r.waitFor("its end", count(event.NoticeContainerEnded, 1))
	if err := stop(); err != nil {
		t.Fatal(err)
	}
	got := fmt.Sprint(r.k8sLinesOf(p.Name))
	if want := "[-----BEGIN RSA PRIVATE KEY----- *** *** -----END RSA PRIVATE KEY----- key written]"; got != want {
		t.Fatalf("got  %s\nwant %s", got, want)
	}
}

// A holder that dies (no renewal, no release) is replaced once its lease runs out;
// the new holder stores every line once, and the dead one appends nothing after its
// lease.
func TestADeadHolderIsReplaced(t *testing.T) {
	r := newRig(t)
	p := batchPod(4, "a")
	r.cluster.AddPod(p)
	r.cluster.StartContainer("default", p.Name, "blast")
	ttl := func(c *Config) { c.LeaseTTL = 300 * time.Millisecond }
	a := r.collector("a", ttl)
	lease := &portstest.DyingLeases{Leases: a.Leases}
	a.Leases = lease
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- a.Collect(ctx, runID) }()
	r.write(p.Name, "blast", 0, 20)
	r.waitFor("20 lines", func([]event.Event) bool { return len(r.lines()) == 20 })
	lease.Kill()
	select {
	case err := <-done:
		if !errors.Is(err, errLeaseLost) {
			t.Fatalf("the dead holder stopped with %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("the dead holder went on")
	}
	// The next replica tries the active run every round, and takes it once the dead
	// holder's lease has run out.
	r.coord.Touch(ctx, runID)
	bctx, stopB := context.WithCancel(ctx)
	defer stopB()
	go r.collector("b", ttl).Run(bctx)
	r.write(p.Name, "blast", 20, 40)
	r.cluster.EndContainer("default", p.Name, "blast", 0, "Completed")
	r.waitFor("its end", count(event.NoticeContainerEnded, 1))
	r.wantEachOnce([]string{p.Name}, 40)
}

// Two replicas run their collectors on the same active runs at once: one holds each
// run at a time, and every line of every container is stored once, with one
// container_ended notice each.
func TestTwoReplicasCollectEachLineOnce(t *testing.T) {
	r := newRig(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	r.coord.Touch(ctx, runID)
	var pods []string
	for i := range 6 {
		p := batchPod(10+i, "a")
		r.cluster.AddPod(p)
		r.cluster.StartContainer("default", p.Name, "blast")
		pods = append(pods, p.Name)
	}
	for _, h := range []string{"a", "b"} {
		go r.collector(h, func(c *Config) { c.MaxFollows = 2; c.LeaseTTL = 300 * time.Millisecond }).Run(ctx)
	}
	for round := range 5 {
		for _, p := range pods {
			r.write(p, "blast", round*20, (round+1)*20)
		}
		time.Sleep(30 * time.Millisecond)
	}
	for _, p := range pods {
		r.cluster.EndContainer("default", p, "blast", 0, "Completed")
	}
	r.waitFor("every end", count(event.NoticeContainerEnded, len(pods)))
	time.Sleep(200 * time.Millisecond) // a second notice would come by now
	evs := r.events()
	if n := len(notices(evs, event.NoticeContainerEnded)); n != len(pods) {
		t.Fatalf("%d container_ended notices for %d containers:\n%s", n, len(pods), dump(evs))
	}
	r.wantEachOnce(pods, 100)
}

// frozenCheckpoints stops saving once frozen: a holder that dies between storing
// lines and saving what they cover.
type frozenCheckpoints struct {
	*portstest.Coordination
	frozen atomic.Bool
}

func (f *frozenCheckpoints) Save(ctx context.Context, jobID, key string, state []byte) error {
	if f.frozen.Load() {
		return nil
	}
	return f.Coordination.Save(ctx, jobID, key, state)
}

// A holder whose checkpoint fell behind what it stored (it died before saving) is
// followed by one that finds the newer lines in the log and does not store them again.
func TestANewHolderCatchesUpWithTheLog(t *testing.T) {
	r := newRig(t)
	p := batchPod(5, "a")
	r.cluster.AddPod(p)
	r.cluster.StartContainer("default", p.Name, "blast")
	ckpts := &frozenCheckpoints{Coordination: r.coord}
	a := r.collector("a", func(c *Config) { c.LeaseTTL = 300 * time.Millisecond })
	a.Checkpoints = ckpts
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- a.Collect(ctx, runID) }()
	r.write(p.Name, "blast", 0, 10)
	r.waitFor("a saved checkpoint", func([]event.Event) bool {
		saved, _ := r.coord.Load(ctx, runID)
		for k := range saved {
			if strings.Contains(k, "/") {
				return true
			}
		}
		return false
	})
	ckpts.frozen.Store(true)
	r.write(p.Name, "blast", 10, 30)
	r.waitFor("30 lines", func([]event.Event) bool { return len(r.lines()) == 30 })
	cancel()
	<-done
	stop := r.collect("b")
	r.write(p.Name, "blast", 30, 40)
	r.cluster.EndContainer("default", p.Name, "blast", 0, "Completed")
	r.waitFor("its end", count(event.NoticeContainerEnded, 1))
	if err := stop(); err != nil {
		t.Fatal(err)
	}
	r.wantEachOnce([]string{p.Name}, 40)
}
