package diagnose

import (
	"bufio"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// Submit transcripts (testdata/submit, written from ElasticBLAST's own messages): the
// first line says the exit code and the table entry the failure must be named by.
func TestSubmitFailuresBeforeAnyPod(t *testing.T) {
	files, err := filepath.Glob("testdata/submit/*.txt")
	if err != nil || len(files) < 8 {
		t.Fatalf("%d transcripts (%v)", len(files), err)
	}
	reasons := map[string]bool{}
	for _, name := range files {
		t.Run(filepath.Base(name), func(t *testing.T) {
			f, err := os.Open(name)
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			sc := bufio.NewScanner(f)
			sc.Scan()
			head := strings.Fields(strings.TrimPrefix(sc.Text(), "#")) // exit N, want R
			code, _ := strconv.Atoi(strings.TrimSuffix(head[1], ","))
			want := ""
			if len(head) > 3 {
				want = head[3]
			}
			fd := &feed{}
			for sc.Scan() {
				fd.line(time.Second, "", sc.Text())
			}
			fd.command(2*time.Second, code)
			d := fd.tracker().Diagnose(Run{Status: "failed", Now: t0.Add(time.Minute)})
			if d.State != StateFailed || len(d.Causes) == 0 {
				t.Fatalf("%s %+v", d.State, d.Causes)
			}
			c := d.Causes[0]
			if c.Kind != KindSubmit || c.Reason != want || c.ExitCode == nil || *c.ExitCode != code {
				t.Fatalf("cause %+v, want a submit cause %q with exit %d", c, want, code)
			}
			if want == "" {
				if !strings.Contains(d.Headline, "exit code "+strconv.Itoa(code)) || c.Message != "ERROR: something nobody has seen before" {
					t.Fatalf("an unknown error: %q, message %q", d.Headline, c.Message)
				}
				return
			}
			r, _ := ruleNamed(want)
			if !strings.Contains(d.Headline, r.Headline) || c.Hint != r.Hint || c.Hint == "" {
				t.Fatalf("headline %q hint %q, want the table's %q / %q", d.Headline, c.Hint, r.Headline, r.Hint)
			}
			reasons[want] = true
		})
	}
	if len(reasons) < 8 {
		t.Fatalf("the transcripts name %d distinct failures, want at least 8", len(reasons))
	}
}

// Every entry of the table is reached by the message it was written from, and plain
// ElasticBLAST output matches none.
func TestMessageTable(t *testing.T) {
	for _, ok := range []string{
		"INFO: 10 batches, 15234 base/residue total",
		"Final Job Status: Completed",
		"run end 013 0",
		"WARNING: get_latest_dir failed (not needed for custom DB URLs)",
		"blastn -db core_nt -query batch_013.fa -outfmt '6 qseqid sseqid'",
	} {
		if r, found := MatchMessage(ok); found {
			t.Errorf("%q matched %s", ok, r.Reason)
		}
	}
	for _, r := range Rules {
		if r.Hint == "" || r.Headline == "" || len(r.match) == 0 {
			t.Errorf("%s: incomplete", r.Reason)
		}
		line := strings.Join(r.match[0], " … ")
		if got, ok := MatchMessage(line); !ok || got.Reason != r.Reason {
			t.Errorf("%s: its own words %q matched %q", r.Reason, line, got.Reason)
		}
	}
}

func TestAnnouncedBatches(t *testing.T) {
	for line, want := range map[string]int{
		"2026-06-01T02:03:09.345678Z INFO: 24 batches, 15234 base/residue total":        24,
		"INFO: Re-computed 7 batches, 100 base/residue total":                           7,
		"2026-06-01T02:09:12Z INFO: Submitting 10 sharded jobs (10 shards x 1 batches)": 10,
		"Submitted 120 jobs": 120,
		"Submitted jobs":     0,
		"batch_013: 5/40 queries searched, 37 hits so far": 0,
	} {
		if got, _ := announcedBatches(line); got != want {
			t.Errorf("%q: %d, want %d", line, got, want)
		}
	}
}

// Init containers that finished are no finished batch, and the total comes from the
// submit output before any Job exists.
func TestInitContainersAreNotBatches(t *testing.T) {
	f := &feed{}
	f.line(0, "", "INFO: 24 batches, 15234 base/residue total")
	for i := 0; i < 6; i++ {
		e := ended(time.Minute, b(i), "import-query-batches", 0, 0, "Completed", true)
		f.add(e)
	}
	d := f.tracker().Diagnose(Run{Status: "running", Now: t0.Add(2 * time.Minute)})
	if p := d.Progress; p == nil || p.Batches != 24 || p.Succeeded != 0 || p.Failed != 0 {
		t.Fatalf("%+v", d.Progress)
	}
	if d.Headline != "0 of 24 batches done, 0 running, 24 pending." {
		t.Fatalf("headline %q", d.Headline)
	}
	for _, bs := range d.Batches {
		if len(bs.Attempts) != 0 {
			t.Fatalf("an init container as an attempt: %+v", bs)
		}
	}
}

// A memory limit is named only for memory causes; it comes from the Job's template,
// else from the pod's own spec.
func TestLimitsOnlyForMemoryCauses(t *testing.T) {
	noJob := &feed{}
	noJob.line(0, b(3), "run start")
	oom := ended(time.Minute, b(3), "blast", 0, 137, "OOMKilled", false)
	oom.Ended.Memory, oom.Ended.CPU = "62Gi", "15"
	noJob.add(oom)
	noJob.k8s(time.Minute, "Job/"+bjob(3), "Warning", "BackoffLimitExceeded", "Job has reached the specified backoff limit")
	d := noJob.tracker().Diagnose(Run{Status: "failed", Now: t0.Add(2 * time.Minute)})
	if len(d.Causes) != 1 || d.Causes[0].Limit == nil || d.Causes[0].Limit.Memory != "62Gi" ||
		!strings.Contains(d.Headline, "was OOMKilled (exit 137, limit 62Gi)") {
		t.Fatalf("without the Job: %q %+v", d.Headline, d.Causes)
	}
	other := jobs(2).line(0, b(1), "Error: /shared/requests/batch_001.fa: Stale file handle").
		ended(time.Minute, time.Minute, b(1), 0, 1, "Error").
		k8s(time.Minute, "Pod/"+b(0), "Warning", "Evicted", "The node was low on resource: ephemeral-storage.")
	d = other.tracker().Diagnose(Run{Status: "running", Now: t0.Add(2 * time.Minute)})
	if len(d.Causes) != 2 {
		t.Fatalf("%+v", d.Causes)
	}
	for _, c := range d.Causes {
		if c.Limit != nil {
			t.Errorf("a limit on %s: %+v", c.Reason, c)
		}
		if strings.Contains(c.Hint, "mem-limit") {
			t.Errorf("a memory hint on %s: %q", c.Reason, c.Hint)
		}
	}
}

// A hint that depends on an exit code is chosen by the attempt's reason and its last
// error line first: exit 1 after "Stale file handle" is not a BLAST options error.
func TestHintsByMessageBeforeExitCode(t *testing.T) {
	stale := jobs(1).line(0, b(5), "Error: /shared/requests/batch_005.fa: Stale file handle").
		ended(time.Minute, time.Minute, b(5), 0, 1, "Error").job(time.Minute, 5, BatchFailed, "BackoffLimitExceeded")
	d := stale.tracker().Diagnose(Run{Status: "failed", Now: t0.Add(2 * time.Minute)})
	c := d.Causes[0]
	if !strings.Contains(c.Hint, "shared volume") || strings.Contains(c.Hint, "options") ||
		!strings.Contains(d.Headline, "exited with 1 (the shared volume went away)") {
		t.Fatalf("%q: %+v", d.Headline, c)
	}
	// The job script's own report of BLAST's exit code names it.
	blast := jobs(1).line(0, b(2), "run end 002 2").ended(time.Minute, time.Minute, b(2), 0, 2, "Error").
		job(time.Minute, 2, BatchFailed, "BackoffLimitExceeded")
	if c := blast.tracker().Diagnose(Run{Status: "failed", Now: t0.Add(2 * time.Minute)}).Causes[0]; !strings.Contains(c.Hint, "database") {
		t.Fatalf("%+v", c)
	}
	// A container that is not ElasticBLAST's BLAST container: its exit code is no BLAST code.
	f := &feed{}
	e := ended(time.Minute, "elb-finalizer-3ed51a95-m3n4b", "finalizer", 0, 1, "Error", false)
	f.add(e)
	if c := f.tracker().Diagnose(Run{Status: "failed", Now: t0.Add(2 * time.Minute)}).Causes[0]; strings.Contains(c.Hint, "BLAST") {
		t.Fatalf("%+v", c)
	}
}

// A retried batch shows its attempts and retries in the table, green in the headline.
func TestRecoveredBatchIsSucceededWithRetries(t *testing.T) {
	f := jobs(3).done(0, time.Minute).done(2, time.Minute).
		line(time.Minute, b(1), "Error: /shared/requests/batch_001.fa: Stale file handle").
		ended(2*time.Minute, time.Minute, b(1), 0, 1, "Error").
		k8s(2*time.Minute, "Pod/"+b(1)+"b", "Warning", "Evicted", "The node was low on resource: ephemeral-storage.").
		ended(3*time.Minute, time.Minute, b(1)+"b", 1, 137, "ContainerStatusUnknown").
		line(4*time.Minute, b(1)+"c", "run start").ended(5*time.Minute, time.Minute, b(1)+"c", 2, 0, "Completed").
		job(5*time.Minute, 1, BatchSucceeded, "")
	d := f.tracker().Diagnose(Run{Status: "completed", Now: t0.Add(6 * time.Minute)})
	if d.State != StateSucceeded || len(d.Causes) != 0 || d.Headline != "All 3 batches succeeded, 1 batch after a retry." {
		t.Fatalf("%s %q %+v", d.State, d.Headline, d.Causes)
	}
	if bs := d.Batches[1]; bs.State != BatchSucceeded || bs.Retries != 2 || len(bs.Attempts) != 3 {
		t.Fatalf("%+v", bs)
	}
}
