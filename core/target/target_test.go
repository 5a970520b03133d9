package target

import (
	"fmt"
	"testing"

	"github.com/blastlog/blastlog/core/event"
)

const (
	ours   = "job-429825360482416da20736cf3ed51a95"
	theirs = "job-000000000000000000000000cafebabe"
)

func pod(name, job string, labels map[string]string, env map[string]string) Pod {
	p := Pod{Namespace: "default", Name: name, UID: "uid-" + name, Job: job, Labels: labels,
		Main: []Container{{Name: "main", ID: "containerd://1", State: Running, Env: env}}}
	return p
}

func TestOwnership(t *testing.T) {
	r := Run{ID: ours}
	if r.Suffix() != "3ed51a95" || (Run{ID: "3ed51a95"}).Suffix() != "3ed51a95" || (Run{ID: "job-42"}).Suffix() != "" {
		t.Fatal("suffix")
	}
	lab := func(id string) map[string]string { return map[string]string{LabelJobID: id, LabelApp: "blast"} }
	cases := []struct {
		name string
		p    Pod
		want bool
	}{
		{"label", pod("init-pv-abcde", "init-pv", lab(ours), nil), true},
		{"env", pod("elb-finalizer-3ed51a95-m3n4b", "elb-finalizer-3ed51a95", nil, map[string]string{EnvJobID: ours}), true},
		{"name segment", pod("submit-jobs-3ed51a95-q9w8e", "", nil, nil), true},
		{"job name segment", pod("x-q9w8e", "submit-jobs-3ed51a95", nil, nil), true},
		{"other run's label", pod("blastn-batch-s00-job-000-cafebabe-uvwxy", "", lab(theirs), nil), false},
		{"other run's label wins over a look-alike name", pod("blastn-batch-3ed51a95-job-000-cafebabe-x", "", lab(theirs), nil), false},
		{"other run's env wins", pod("elb-finalizer-3ed51a95-x", "", nil, map[string]string{EnvJobID: theirs}), false},
		{"suffix inside a segment", pod("submit-jobs-x3ed51a95-q9w8e", "", nil, nil), false},
		{"suffix prefix of a segment", pod("submit-jobs-3ed51a95b-q9w8e", "", nil, nil), false},
		{"create-workspace", pod("create-workspace-abcde", "", map[string]string{"name": "create-workspace"}, nil), false},
		{"vmtouch", pod("vmtouch-db-cache-fghij", "", map[string]string{LabelApp: "vmtouch-cache"}, nil), false},
		{"warmup of no run", pod("warm-core-nt-00-klmno", "", map[string]string{LabelApp: "elb-db-warmup"}, nil), false},
		{"import-queries", pod("import-queries-pqrst", "", map[string]string{LabelApp: "setup"}, nil), false},
		{"empty label falls back to name", pod("init-ssd-3ed51a95-0-x7k2p", "", map[string]string{LabelJobID: ""}, nil), true},
	}
	for _, c := range cases {
		if got := r.Owns(c.p); got != c.want {
			t.Errorf("%s: Owns = %v", c.name, got)
		}
	}
	if (Run{}).Owns(pod("a", "", lab(""), nil)) {
		t.Error("an empty run owns a pod")
	}
}

// Two runs interleaved in one namespace: each pod goes to exactly its run.
func TestTwoRunsInterleaved(t *testing.T) {
	a, b := Run{ID: ours}, Run{ID: theirs}
	var pods []Pod
	for i, r := range []Run{a, b, a, b} {
		s := r.Suffix()
		pods = append(pods,
			pod(fmt.Sprintf("init-ssd-%s-%d-p%d", s, i, i), fmt.Sprintf("init-ssd-%s-%d", s, i), map[string]string{LabelJobID: r.ID, LabelApp: "setup"}, nil),
			pod(fmt.Sprintf("blastn-batch-nt-job-%03d-%s-p%d", i, s, i), "", map[string]string{LabelJobID: r.ID, LabelApp: "blast"}, map[string]string{EnvJobID: r.ID}),
			pod(fmt.Sprintf("elb-finalizer-%s-p%d", s, i), "", nil, map[string]string{EnvJobID: r.ID}))
	}
	for _, p := range pods {
		if a.Owns(p) == b.Owns(p) {
			t.Errorf("%s: owned by both or neither", p.Name)
		}
	}
}

func TestPhasesAndOrder(t *testing.T) {
	r := Run{ID: ours}
	p := pod("blastn-batch-nt-job-007-3ed51a95-h4j5k", "blastn-batch-nt-job-007-3ed51a95", map[string]string{LabelApp: "blast", LabelJobID: ours}, nil)
	p.Init = []Container{{Name: "load-blastdb-into-ram", ID: "c://i"}}
	p.Main = []Container{{Name: "blast", ID: "c://b"}, {Name: "results-export"}}
	ts := Targets(r, p)
	var got []string
	for _, tg := range ts {
		got = append(got, fmt.Sprintf("%s:%v:%s", tg.Container, tg.Init, tg.Phase))
	}
	if want := "[load-blastdb-into-ram:true:running blast:false:running results-export:false:running]"; fmt.Sprint(got) != want {
		t.Fatalf("%v", got)
	}
	if ts[0].Key() != "uid-blastn-batch-nt-job-007-3ed51a95-h4j5k/load-blastdb-into-ram/c://i" {
		t.Fatal(ts[0].Key())
	}
	if id, ok := KeyContainerID(ts[0].Key()); !ok || id != "c://i" {
		t.Fatalf("the key's container id: %q %v", id, ok)
	}
	if _, ok := KeyContainerID("no-slashes"); ok {
		t.Fatal("a key without its parts")
	}
	for name, want := range map[string]string{"init-ssd-3ed51a95-0": event.PhaseStagingDB, "init-pv": event.PhaseStagingDB,
		"submit-jobs-3ed51a95": event.PhaseRunning, "elb-finalizer-3ed51a95": event.PhaseExportingResults, "warm-core-nt-00": event.PhaseWarmingUp} {
		if got := PhaseOf(Pod{Job: name}); got != want {
			t.Errorf("%s: %s", name, got)
		}
	}
	if Targets(r, pod("other", "", map[string]string{LabelJobID: theirs}, nil)) != nil {
		t.Fatal("targets of another run")
	}
}
