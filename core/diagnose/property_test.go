package diagnose

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/blastlog/blastlog/core/event"
)

// A batch's story: its causal order is fixed (a pod's lines before its end, an attempt
// before the next), the order across batches and between the collector's views (pods,
// Jobs, events) is not.
type step struct {
	e     event.Event
	after int // index (in the same batch's list) that must come before it; -1: none
}

// batchStory makes batch n's events: its Job, maybe a FailedScheduling wait, up to
// three attempts (an init container that succeeds, the blast container, and on the
// attempt that succeeds the results-export container), the failures among them
// OOMKilled, an exit 1 or an eviction, and the Job's end. The Job's final notice and
// its BackoffLimitExceeded event may arrive before the last container_ended
// (the job controller is faster than the collector's drain).
func batchStory(r *rand.Rand, n int, at time.Duration) (steps []step, succeeds bool) {
	pod := func(a int) string { return fmt.Sprintf("%s-a%d", b(n), a) }
	add := func(e event.Event, after int) int {
		steps = append(steps, step{e, after})
		return len(steps) - 1
	}
	prev := add(jobNotice(at, n, BatchActive, ""), -1)
	if r.IntN(4) == 0 {
		prev = add(k8sEvent(at, "Pod/"+pod(0), "FailedScheduling", "0/3 nodes are available: 3 Insufficient memory."), prev)
	}
	attempts := 1 + r.IntN(3)
	succeeds = r.IntN(4) != 0
	var lastStart int
	for a := 0; a < attempts; a++ {
		t := at + time.Duration(a+1)*time.Minute
		final := a == attempts-1
		prev = add(containerLine(t, pod(a), "import-query-batches", "INFO: Scanning..."), prev)
		prev = add(ended(t, pod(a), "import-query-batches", a, 0, "Completed", true), prev)
		lastStart = add(containerLine(t, pod(a), "blast", "run start "+fmt.Sprint(n)), prev)
		prev = add(containerLine(t, pod(a), "blast", "batch progress"), lastStart)
		switch {
		case final && succeeds:
			prev = add(ended(t, pod(a), "blast", a, 0, "Completed", false), prev)
			prev = add(containerLine(t, pod(a), "results-export", "INFO: uploading"), prev)
			prev = add(ended(t, pod(a), "results-export", a, 0, "Completed", false), prev)
		default:
			switch r.IntN(3) {
			case 0:
				prev = add(ended(t, pod(a), "blast", a, 137, "OOMKilled", false), prev)
			case 1:
				prev = add(containerLine(t, pod(a), "blast", "Error: /shared/requests/batch.fa: Stale file handle"), prev)
				prev = add(ended(t, pod(a), "blast", a, 1, "Error", false), prev)
			default:
				prev = add(k8sEvent(t, "Pod/"+pod(a), "Evicted", "The node was low on resource: ephemeral-storage."), prev)
				prev = add(ended(t, pod(a), "blast", a, 137, "ContainerStatusUnknown", false), prev)
			}
		}
	}
	end := at + time.Duration(attempts+1)*time.Minute
	if succeeds {
		add(jobNotice(end, n, BatchSucceeded, ""), lastStart)
	} else {
		ev := add(k8sEvent(end, "Job/"+bjob(n), "BackoffLimitExceeded", "Job has reached the specified backoff limit"), lastStart)
		add(jobNotice(end, n, BatchFailed, "BackoffLimitExceeded"), ev)
	}
	return steps, succeeds
}

func containerLine(at time.Duration, pod, container, text string) event.Event {
	return event.Event{SchemaVersion: 1, JobID: run, Source: event.SourceK8s, Phase: event.PhaseRunning, Stream: event.Stdout,
		Pod: pod, Container: container, ContainerID: "containerd://" + pod + "/" + container, Line: text, TS: t0.Add(at)}
}

func ended(at time.Duration, pod, container string, restart, code int, reason string, init bool) event.Event {
	e := event.System(run, event.PhaseRunning, event.NoticeContainerEnded, pod+"/"+container+" ended", t0.Add(at))
	e.Pod, e.Container, e.ContainerID, e.Restart = pod, container, "containerd://"+pod+"/"+container, restart
	e.Ended = &event.Ended{ExitCode: code, Reason: reason, StartedAt: t0.Add(at - 30*time.Second), FinishedAt: t0.Add(at),
		Completeness: event.Complete, Init: init, Memory: "62Gi", CPU: "15"}
	return e
}

func k8sEvent(at time.Duration, object, reason, msg string) event.Event {
	e := event.System(run, event.PhaseRunning, event.NoticeK8sEvent, object+" "+reason+": "+msg, t0.Add(at))
	e.Detail = &event.Detail{Object: object, Type: "Warning", Reason: reason, Count: 1}
	if len(object) > 4 && object[:4] == "Pod/" {
		e.Pod = object[4:]
	}
	return e
}

func jobNotice(at time.Duration, n int, state, reason string) event.Event {
	e := event.System(run, event.PhaseRunning, event.NoticeBatch, fmt.Sprintf("batch %03d %s", n, state), t0.Add(at))
	e.Detail = &event.Detail{Object: "Job/" + bjob(n), Batch: fmt.Sprintf("%03d", n), State: state, Reason: reason}
	return e
}

// interleave merges the batches' stories in a random order that keeps each step after
// the one it depends on.
func interleave(r *rand.Rand, stories [][]step) []event.Event {
	done := make([][]bool, len(stories))
	for i := range stories {
		done[i] = make([]bool, len(stories[i]))
	}
	var out []event.Event
	for {
		var ready [][2]int
		for i, s := range stories {
			for j, st := range s {
				if !done[i][j] && (st.after < 0 || done[i][st.after]) && (j == 0 || done[i][j-1] || isLoose(s, j)) {
					ready = append(ready, [2]int{i, j})
				}
			}
		}
		if len(ready) == 0 {
			return out
		}
		pick := ready[r.IntN(len(ready))]
		done[pick[0]][pick[1]] = true
		out = append(out, stories[pick[0]][pick[1]].e)
	}
}

// isLoose: the Job's closing notices only wait for what they name in after, not for
// the steps listed before them.
func isLoose(s []step, j int) bool {
	n := s[j].e.Notice
	return n == event.NoticeBatch && j > 0 || n == event.NoticeK8sEvent && s[j].e.Detail.Reason == "BackoffLimitExceeded"
}

// Whatever the order the collector stores a run's pods, Jobs and events in, progress
// never goes back (done, failed and the total), a batch that recovered is never a
// cause, and the final verdict is the one of the in-order delivery.
func TestVerdictOverRandomOrders(t *testing.T) {
	for seed := uint64(0); seed < 200; seed++ {
		r := rand.New(rand.NewPCG(seed, 42))
		n := 2 + r.IntN(20)
		var stories [][]step
		var inOrder []event.Event
		failing := 0
		for i := 0; i < n; i++ {
			s, ok := batchStory(r, i, time.Duration(i)*time.Second)
			if !ok {
				failing++
			}
			stories = append(stories, s)
			for _, st := range s {
				inOrder = append(inOrder, st.e)
			}
		}
		submit := event.Event{SchemaVersion: 1, JobID: run, Source: event.SourceTerminal, Phase: event.PhaseSubmitting,
			Stream: event.Stderr, Line: fmt.Sprintf("2026-12-04T14:00:00Z INFO: %d batches, 15234 base/residue total", n), TS: t0}
		shuffled := append([]event.Event{submit}, interleave(r, stories)...)
		inOrder = append([]event.Event{submit}, inOrder...)
		if len(shuffled) != len(inOrder) {
			t.Fatalf("seed %d: interleaving lost events: %d of %d", seed, len(shuffled), len(inOrder))
		}
		var tr Tracker
		var last Progress
		for i := range shuffled {
			shuffled[i].ID = event.ID{MS: uint64(1764856800000 + i)}
			tr.Add(&shuffled[i])
			d := tr.Diagnose(Run{Status: "running", Now: t0.Add(time.Hour)})
			p := d.Progress
			if p == nil || p.Batches != n {
				t.Fatalf("seed %d, event %d: total %+v, want %d from the submit output", seed, i, p, n)
			}
			if p.Succeeded+p.Failed < last.Succeeded+last.Failed || p.Failed < last.Failed || p.Succeeded < last.Succeeded {
				t.Fatalf("seed %d, event %d (%s %s): progress went back: %s after %s", seed, i, shuffled[i].Notice, shuffled[i].Line, p.Text, last.Text)
			}
			if d.Headline != p.Text+"." && d.State == StateRunning && len(tr.Waiting) == 0 {
				t.Fatalf("seed %d: the headline %q is not the bar's %q", seed, d.Headline, p.Text)
			}
			for _, c := range d.Causes {
				if c.Batch != "" && tr.Batches[c.Batch].State() == BatchSucceeded {
					t.Fatalf("seed %d: batch %s recovered but is a cause: %+v", seed, c.Batch, c)
				}
				if c.Limit != nil && !memoryCause(c) {
					t.Fatalf("seed %d: a limit on a cause that is not about memory: %+v", seed, c)
				}
			}
			last = *p
		}
		var ordered Tracker
		for i := range inOrder {
			inOrder[i].ID = event.ID{MS: uint64(1764856800000 + i)}
			ordered.Add(&inOrder[i])
		}
		status := "completed"
		if failing > 0 {
			status = "failed"
		}
		at := Run{Status: status, Now: t0.Add(2 * time.Hour)}
		got, want := tr.Diagnose(at), ordered.Diagnose(at)
		if got.State != want.State || got.Headline != want.Headline || *got.Progress != *want.Progress {
			t.Fatalf("seed %d: %s %q %+v\nin order: %s %q %+v", seed, got.State, got.Headline, got.Progress, want.State, want.Headline, want.Progress)
		}
		if got.Progress.Failed != failing || got.Progress.Succeeded != n-failing {
			t.Fatalf("seed %d: %s, want %d failed of %d", seed, got.Progress.Text, failing, n)
		}
		if failing == 0 && (got.State != StateSucceeded || len(got.Causes) != 0) {
			gj, _ := json.Marshal(got.Causes)
			t.Fatalf("seed %d: a succeeded run (retries and all) has causes: %s %s", seed, got.State, gj)
		}
	}
}
