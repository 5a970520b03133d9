package collect

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"

	"github.com/blastlog/blastlog/core/event"
	"github.com/blastlog/blastlog/core/target"
)

// This file ends a target: its container_ended notice, once per instance.

// finish marks f done and stores its container_ended notice, once per instance:
// complete, partial (tail, or the pod deleted before its log was read to the end)
// or missed (deleted before any line was read). gone: the pod was not found.
func (rs *runState) finish(ctx context.Context, f *tstate, cause error, gone bool) {
	rs.mu.Lock()
	f.state = done
	if f.cp.Ended {
		rs.mu.Unlock()
		return
	}
	t, cp, read, used := f.t, f.cp, f.read, f.usage.figures()
	rs.mu.Unlock()
	d := &event.Ended{ExitCode: t.ExitCode, Reason: t.Reason, StartedAt: t.StartedAt, FinishedAt: t.FinishedAt,
		Completeness: event.Complete, Init: t.Init, Memory: t.MemoryLimit, CPU: t.CPULimit, Usage: used, Node: t.Node}
	switch {
	case gone && !read && cp.Lines == 0:
		d.Completeness = event.Missed
	case gone:
		d.Completeness, d.Missing = event.Partial, event.MissingDeleted
	case cause != nil:
		d.Completeness, d.Missing = event.Partial, event.MissingDeleted
	case cp.Rotated:
		d.Completeness, d.Missing = event.Partial, event.MissingRotated
	case cp.Tailed:
		d.Completeness, d.Missing = event.Partial, event.MissingTail
	}
	e := event.System(rs.jobID, t.Phase, event.NoticeContainerEnded, endedSentence(t, d, cp.Lines), rs.c.Config.now())
	e.Ended = d
	// The notice names its container instance, as the summary and batch table need.
	e.Pod, e.Container, e.ContainerID, e.Restart = t.Pod, t.Container, t.ContainerID, t.Restart
	if !rs.lease.valid(rs.c.Config.now()) {
		return
	}
	if _, err := rs.c.Log.Append(ctx, rs.jobID, []event.Event{e}); err != nil {
		return // a later holder finds it not ended and says it then
	}
	cp.Ended = true
	rs.mu.Lock()
	f.cp = cp
	rs.mu.Unlock()
	state, _ := json.Marshal(&cp)
	rs.c.Checkpoints.Save(ctx, rs.jobID, t.Key(), state)
}

func endedSentence(t target.Target, d *event.Ended, lines int64) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s/%s ended", t.Pod, t.Container)
	if d.Reason != "" || d.ExitCode != 0 {
		fmt.Fprintf(&b, " (%s, exit code %d)", strings.TrimSpace(d.Reason), d.ExitCode)
	}
	switch d.Completeness {
	case event.Complete:
		fmt.Fprintf(&b, ": all %d lines stored", lines)
	case event.Missed:
		b.WriteString(": its pod was deleted before any line could be read; its output is missing")
	default:
		why := map[string]string{event.MissingTail: "it ran before collection began, so only its last lines were read",
			event.MissingDeleted: "its pod was deleted before its log was read to the end",
			event.MissingRotated: "the kubelet rotated its log before it was read"}[d.Missing]
		fmt.Fprintf(&b, ": %d lines stored, some are missing (%s)", lines, why)
	}
	return b.String()
}
