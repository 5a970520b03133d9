package demo

import (
	"context"
	"strings"
	"testing"

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
