package kubesim

import (
	"fmt"
	"net/http"
	"strconv"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
)

func runtimeRaw(b []byte) runtime.RawExtension { return runtime.RawExtension{Raw: b} }

// logs serves GET .../pods/{name}/log as the kubelet does, through the API server.
func (s *Sim) logs(w http.ResponseWriter, r *http.Request, ns, name string) {
	q := r.URL.Query()
	follow := q.Get("follow") == "true"
	stamps := q.Get("timestamps") == "true"
	previous := q.Get("previous") == "true"
	tail := int64(-1)
	if v := q.Get("tailLines"); v != "" {
		tail, _ = strconv.ParseInt(v, 10, 64)
	}
	var since time.Time
	if v := q.Get("sinceTime"); v != "" {
		since, _ = time.Parse(time.RFC3339, v) // whole seconds, as the API passes it on
	}

	s.mu.Lock()
	p, c := s.containerOf(ns, name, q.Get("container"))
	if p == nil || p.logsLost {
		s.mu.Unlock()
		writeStatus(w, http.StatusNotFound, metav1.StatusReasonNotFound, fmt.Sprintf("pods %q not found", name))
		return
	}
	if c == nil {
		s.mu.Unlock()
		writeStatus(w, http.StatusBadRequest, metav1.StatusReasonBadRequest,
			fmt.Sprintf("container %s is not valid for pod %s", q.Get("container"), name))
		return
	}
	idx := len(c.instances) - 1
	if previous {
		idx--
		if idx < 0 || c.instances[idx].id == "" {
			s.mu.Unlock()
			writeStatus(w, http.StatusBadRequest, metav1.StatusReasonBadRequest,
				fmt.Sprintf("previous terminated container %q in pod %q not found", c.name, name))
			return
		}
	}
	inst := c.instances[idx]
	if inst.state == "waiting" {
		s.mu.Unlock()
		writeStatus(w, http.StatusBadRequest, metav1.StatusReasonBadRequest,
			fmt.Sprintf("container %q in pod %q is waiting to start: PodInitializing", c.name, name))
		return
	}
	cuts := s.cuts
	s.mu.Unlock()

	w.Header().Set("Content-Type", "text/plain")
	w.WriteHeader(http.StatusOK)
	fl := w.(http.Flusher)
	next := 0
	// Select the first line: sinceTime, then tailLines of what is left.
	s.mu.Lock()
	for next < len(inst.lines) && !since.IsZero() && inst.lines[next].ts.Before(since) {
		next++
	}
	if tail >= 0 && int64(len(inst.lines)-next) > tail {
		next = len(inst.lines) - int(tail)
	}
	s.mu.Unlock()
	for {
		s.mu.Lock()
		batch := append([]logLine(nil), inst.lines[next:]...)
		next = len(inst.lines)
		done := inst.state == "terminated" || p.deleted || !follow || (previous)
		cut := s.cuts != cuts
		changed := p.changed
		s.mu.Unlock()
		// Chunks of at most 64 lines, flushed, like a kubelet copying a growing file.
		for len(batch) > 0 {
			n := min(64, len(batch))
			for _, l := range batch[:n] {
				if stamps {
					fmt.Fprintf(w, "%s %s\n", l.ts.Format(time.RFC3339Nano), l.text)
				} else {
					fmt.Fprintf(w, "%s\n", l.text)
				}
			}
			fl.Flush()
			batch = batch[n:]
		}
		if done || cut {
			return
		}
		select {
		case <-changed:
		case <-r.Context().Done():
			return
		}
	}
}
