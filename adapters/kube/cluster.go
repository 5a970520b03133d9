package kube

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"

	"github.com/blastlog/blastlog/core/job"
	"github.com/blastlog/blastlog/core/target"
	"github.com/blastlog/blastlog/ports"
)

// Cluster is ports.Cluster over client-go.
type Cluster struct {
	api  kubernetes.Interface // list and watch
	logs kubernetes.Interface // log streams: their own client, their own rate limit
}

var _ ports.Cluster = (*Cluster)(nil)

// New builds the clients from cfg. Log streams, polls and the pod GETs that precede
// them get no client-side limit of client-go's (its default of 5/10 would delay
// hundreds of follows): the collector paces them itself (BLASTLOG_K8S_QPS).
func New(cfg *rest.Config) (*Cluster, error) {
	api, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return nil, err
	}
	lc := rest.CopyConfig(cfg)
	lc.QPS, lc.RateLimiter = -1, nil // negative: no token bucket
	logs, err := kubernetes.NewForConfig(lc)
	if err != nil {
		return nil, err
	}
	return &Cluster{api: api, logs: logs}, nil
}

// WatchPods implements ports.Cluster.
func (c *Cluster) WatchPods(ctx context.Context, ns string, f func(ports.PodChange)) error {
	backoff := time.Second
	sleep := func() bool {
		select {
		case <-ctx.Done():
			return false
		case <-time.After(backoff):
			backoff = min(backoff*2, 30*time.Second)
			return true
		}
	}
	for ctx.Err() == nil {
		list, err := c.api.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{})
		if err != nil {
			if ctx.Err() != nil || !sleep() {
				return ctx.Err()
			}
			continue
		}
		backoff = time.Second
		for i := range list.Items {
			f(ports.PodChange{Pod: Convert(&list.Items[i])})
		}
		rv := list.ResourceVersion
		for ctx.Err() == nil {
			next, expired := c.watch(ctx, ns, rv, f)
			if expired {
				break // 410: list again
			}
			if next == rv && !sleep() {
				return ctx.Err()
			}
			rv = next
		}
	}
	return ctx.Err()
}

// ListPods implements ports.Cluster.
func (c *Cluster) ListPods(ctx context.Context, ns string) ([]target.Pod, error) {
	list, err := c.api.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{})
	if err != nil {
		return nil, classify(err)
	}
	out := make([]target.Pod, len(list.Items))
	for i := range list.Items {
		out[i] = Convert(&list.Items[i])
	}
	return out, nil
}

// Pod implements ports.Cluster.
func (c *Cluster) Pod(ctx context.Context, ns, name string) (target.Pod, error) {
	// One GET per log open or resume: it shares the log client's rate limit, not the
	// watch client's (client-go's default 5 QPS would queue hundreds of them).
	p, err := c.logs.CoreV1().Pods(ns).Get(ctx, name, metav1.GetOptions{})
	if err != nil {
		return target.Pod{}, classify(err)
	}
	return Convert(p), nil
}

// watch follows changes from rv; it returns the last resourceVersion seen, and
// whether the watch expired.
func (c *Cluster) watch(ctx context.Context, ns, rv string, f func(ports.PodChange)) (string, bool) {
	timeout := int64(300)
	w, err := c.api.CoreV1().Pods(ns).Watch(ctx, metav1.ListOptions{ResourceVersion: rv, AllowWatchBookmarks: true,
		TimeoutSeconds: &timeout})
	if err != nil {
		return rv, apierrors.IsResourceExpired(err) || apierrors.IsGone(err)
	}
	defer w.Stop()
	for ev := range w.ResultChan() {
		switch ev.Type {
		case watch.Error:
			err := apierrors.FromObject(ev.Object)
			return rv, apierrors.IsResourceExpired(err) || apierrors.IsGone(err)
		case watch.Bookmark, watch.Added, watch.Modified, watch.Deleted:
			p, ok := ev.Object.(*corev1.Pod)
			if !ok {
				continue
			}
			rv = p.ResourceVersion
			if ev.Type != watch.Bookmark {
				f(ports.PodChange{Pod: Convert(p), Deleted: ev.Type == watch.Deleted})
			}
		}
	}
	return rv, false
}

// Convert turns a pod into discovery's plain description.
func Convert(p *corev1.Pod) target.Pod {
	out := target.Pod{Namespace: p.Namespace, Name: p.Name, UID: string(p.UID), Labels: p.Labels,
		Deleted: p.DeletionTimestamp != nil}
	for _, o := range p.OwnerReferences {
		if o.Kind == "Job" {
			out.Job = o.Name
		}
	}
	if out.Job == "" {
		out.Job = p.Labels[target.LabelJobNew]
	}
	if out.Job == "" {
		out.Job = p.Labels[target.LabelJobName]
	}
	out.Init = containers(p.Spec.InitContainers, p.Status.InitContainerStatuses)
	out.Main = containers(p.Spec.Containers, p.Status.ContainerStatuses)
	return out
}

func containers(spec []corev1.Container, status []corev1.ContainerStatus) []target.Container {
	byName := map[string]corev1.ContainerStatus{}
	for _, s := range status {
		byName[s.Name] = s
	}
	out := make([]target.Container, 0, len(spec))
	for _, c := range spec {
		tc := target.Container{Name: c.Name, Env: map[string]string{}}
		for _, e := range c.Env {
			if e.Value != "" {
				tc.Env[e.Name] = e.Value
			}
		}
		if s, ok := byName[c.Name]; ok {
			tc.ID, tc.RestartCount = s.ContainerID, int(s.RestartCount)
			switch {
			case s.State.Running != nil:
				tc.State = target.Running
				tc.StartedAt = s.State.Running.StartedAt.Time
			case s.State.Terminated != nil:
				term := s.State.Terminated
				tc.State = target.Terminated
				if tc.ID == "" {
					tc.ID = term.ContainerID
				}
				tc.StartedAt, tc.FinishedAt = term.StartedAt.Time, term.FinishedAt.Time
				tc.ExitCode, tc.Reason = int(term.ExitCode), term.Reason
			}
		}
		out = append(out, tc)
	}
	return out
}

// For implements ports.ClusterSource: one cluster for every run.
func (c *Cluster) For(context.Context, job.Record) (ports.Cluster, error) { return c, nil }

// FollowLog implements ports.Cluster.
func (c *Cluster) FollowLog(ctx context.Context, req ports.LogRequest, f func([]byte, bool) error) error {
	opts := &corev1.PodLogOptions{Container: req.Container, Follow: req.Follow && !req.Previous, Timestamps: true, Previous: req.Previous}
	if !req.SinceTime.IsZero() {
		t := metav1.NewTime(req.SinceTime)
		opts.SinceTime = &t
	} else if req.TailLines > 0 {
		opts.TailLines = &req.TailLines
	}
	rc, err := c.logs.CoreV1().Pods(req.Namespace).GetLogs(req.Pod, opts).Stream(ctx)
	if err != nil {
		return classify(err)
	}
	defer rc.Close()
	r := bufio.NewReaderSize(rc, 32<<10)
	var long []byte
	for {
		chunk, err := r.ReadSlice('\n')
		if errors.Is(err, bufio.ErrBufferFull) {
			if len(long) < ports.MaxLogLine {
				long = append(long, chunk[:min(len(chunk), ports.MaxLogLine-len(long))]...)
			}
			continue
		}
		if len(chunk) > 0 || len(long) > 0 {
			line := chunk
			if len(long) > 0 {
				if len(long) < ports.MaxLogLine {
					long = append(long, chunk[:min(len(chunk), ports.MaxLogLine-len(long))]...)
				}
				line, long = long, nil
			}
			line = trimEOL(line)
			if ferr := f(line, r.Buffered() > 0); ferr != nil {
				return ferr
			}
		}
		if err != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			if errors.Is(err, io.EOF) {
				if !req.Follow {
					return nil // a poll: the end of what the kubelet holds now
				}
				return c.ending(ctx, req)
			}
			return fmt.Errorf("reading the log of %s/%s: %w: %w", req.Pod, req.Container, ports.ErrCut, err)
		}
	}
}

// ending tells why a log stream closed: the container ended (nil; a previous
// instance's log always ends), the pod is gone (ErrNotFound), or the stream was cut
// while the container runs (ErrCut; also when the pod cannot be read now).
func (c *Cluster) ending(ctx context.Context, req ports.LogRequest) error {
	if req.Previous {
		return nil
	}
	p, err := c.logs.CoreV1().Pods(req.Namespace).Get(ctx, req.Pod, metav1.GetOptions{})
	if err != nil {
		if apierrors.IsNotFound(err) {
			return fmt.Errorf("%w: pod %s", ports.ErrNotFound, req.Pod)
		}
		return fmt.Errorf("%w: %s/%s (the pod could not be read: %v)", ports.ErrCut, req.Pod, req.Container, err)
	}
	for _, st := range append(p.Status.InitContainerStatuses, p.Status.ContainerStatuses...) {
		if st.Name == req.Container && st.State.Terminated != nil {
			return nil
		}
	}
	return fmt.Errorf("%w: %s/%s", ports.ErrCut, req.Pod, req.Container)
}

func trimEOL(b []byte) []byte {
	for len(b) > 0 && (b[len(b)-1] == '\n' || b[len(b)-1] == '\r') {
		b = b[:len(b)-1]
	}
	return b
}

// classify maps API answers to the port's errors.
func classify(err error) error {
	switch {
	case apierrors.IsNotFound(err):
		return fmt.Errorf("%w: %v", ports.ErrNotFound, err)
	case apierrors.IsForbidden(err):
		return fmt.Errorf("%w: %v", ports.ErrForbidden, err)
	case apierrors.IsBadRequest(err):
		msg := err.Error()
		for _, w := range []string{"waiting to start", "PodInitializing", "ContainerCreating"} {
			if strings.Contains(msg, w) {
				return fmt.Errorf("%w: %v", ports.ErrWaiting, err)
			}
		}
	}
	return err
}
