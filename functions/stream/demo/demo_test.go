package demo

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"sort"
	"strings"
	"testing"

	"github.com/blastlog/blastlog/adapters/kube/kubesim"
	"github.com/blastlog/blastlog/core/job"
	"github.com/blastlog/blastlog/ports/portstest"
)

func TestSubmitPublishesTheFixtureSanitised(t *testing.T) {
	log, jobs := portstest.NewEventLog(0), portstest.NewJobDirectory()
	if err := Submit(context.Background(), log, jobs, "demo", "oid", 0, nil); err != nil {
		t.Fatal(err)
	}
	o, _ := load()
	evs, _ := log.Read(context.Background(), "demo", "", 1000)
	// The azcopy progress line carries a bare CR: it becomes two lines.
	if want := len(o.Stdout) + len(o.Stderr) + 1; len(evs) != want {
		t.Fatalf("%d events, want %d", len(evs), want)
	}
	for _, e := range evs {
		if strings.ContainsAny(e.Line, "\x1b\r") {
			t.Fatalf("unsanitised: %q", e.Line)
		}
	}
	if r, _ := jobs.Get(context.Background(), "demo"); r.Status != job.Completed || r.OwnerOID != "oid" {
		t.Fatalf("record %+v", r)
	}
}

func TestPodsPlayTheRunOnTheSimulator(t *testing.T) {
	sim := kubesim.New()
	defer sim.Close()
	if err := Pods(context.Background(), sim, 0, 3); err != nil {
		t.Fatal(err)
	}
	res, err := http.Get(sim.URL() + "/api/v1/namespaces/default/pods")
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	var list struct {
		Items []struct {
			Metadata struct{ Name string } `json:"metadata"`
		} `json:"items"`
	}
	json.NewDecoder(res.Body).Decode(&list)
	var names []string
	for _, it := range list.Items {
		names = append(names, it.Metadata.Name)
	}
	sort.Strings(names)
	// The setup pod was deleted after it succeeded; three batch jobs, submit, finalizer.
	want := "[blastn-batch-s00-job-000-3ed51a95-h4j5k blastn-batch-s00-job-001-3ed51a95-h4j5k blastn-batch-s00-job-002-3ed51a95-h4j5k elb-finalizer-3ed51a95-m3n4b submit-jobs-3ed51a95-q9w8e]"
	if fmt.Sprint(names) != want {
		t.Fatalf("%v", names)
	}
}
