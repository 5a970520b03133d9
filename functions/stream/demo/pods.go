package demo

import (
	"context"
	"encoding/json"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/blastlog/blastlog/adapters/kube/kubesim"
)

type fixturePod struct {
	Job        string                       `json:"job"`
	Labels     map[string]string            `json:"labels"`
	Init       map[string][]string          `json:"init_containers"`
	Containers map[string][]string          `json:"containers"`
	Env        map[string]map[string]string `json:"env"`
}

// Pods plays the fixture's pods on the simulator as ElasticBLAST runs them: setup,
// submit, batches batch jobs (copies of the fixture's, numbered), the finalizer; each
// container starts, logs a line every pace and ends; the setup pod is deleted a second
// after it succeeds.
func Pods(ctx context.Context, sim *kubesim.Sim, pace time.Duration, batches int) error {
	var fx struct {
		Pods map[string]fixturePod `json:"pods"`
	}
	if err := json.Unmarshal(fixture, &fx); err != nil {
		return err
	}
	order := []string{"init-ssd", "submit-jobs", "blastn-batch", "elb-finalizer"}
	names := make([]string, 0, len(fx.Pods))
	for n := range fx.Pods {
		names = append(names, n)
	}
	rank := func(n string) int {
		for i, p := range order {
			if len(n) >= len(p) && n[:len(p)] == p {
				return i
			}
		}
		return len(order)
	}
	sort.Slice(names, func(i, j int) bool { return rank(names[i]) < rank(names[j]) })
	var expanded []string
	for _, name := range names {
		if rank(name) != 2 {
			expanded = append(expanded, name)
			continue
		}
		for b := 0; b < max(batches, 1); b++ {
			copyName := strings.Replace(name, "-job-000-", fmt.Sprintf("-job-%03d-", b), 1)
			p := fx.Pods[name]
			p.Job = strings.Replace(p.Job, "-job-000-", fmt.Sprintf("-job-%03d-", b), 1)
			fx.Pods[copyName] = p
			expanded = append(expanded, copyName)
		}
	}
	for _, name := range expanded {
		p := fx.Pods[name]
		spec := kubesim.PodSpec{Name: name, Job: p.Job, Labels: p.Labels, Env: p.Env}
		for c := range p.Init {
			spec.Init = append(spec.Init, c)
		}
		for c := range p.Containers {
			spec.Main = append(spec.Main, c)
		}
		sort.Strings(spec.Main)
		sim.AddPod(spec)
		for _, group := range []map[string][]string{p.Init, p.Containers} {
			for _, c := range sortedKeys(group) {
				sim.Start("default", name, c)
				for _, l := range group[c] {
					select {
					case <-ctx.Done():
						return ctx.Err()
					case <-time.After(pace):
					}
					sim.Log("default", name, c, l)
				}
				sim.Terminate("default", name, c, 0)
			}
		}
		if rank(name) == 0 {
			time.Sleep(time.Second)
			sim.Delete("default", name)
		}
	}
	return nil
}

func sortedKeys(m map[string][]string) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
