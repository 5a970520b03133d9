package kube

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	metricsv1beta1 "k8s.io/metrics/pkg/apis/metrics/v1beta1"

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

// Node implements ports.Cluster.
func (c *Cluster) Node(ctx context.Context, name string) (target.Node, error) {
	n, err := c.logs.CoreV1().Nodes().Get(ctx, name, metav1.GetOptions{})
	if err != nil {
		return target.Node{}, classify(err)
	}
	return target.NodeOf(n.Name, n.Labels), nil
}

// PodMetrics implements ports.Cluster: one list of the namespace's PodMetrics through
// the API server (and its aggregator), into k8s.io/metrics' types, the usage read as
// resource.Quantity. The request goes by the API client's REST client: the generated
// metrics clientset would add half a megabyte to the image for this one call.
func (c *Cluster) PodMetrics(ctx context.Context, ns string) ([]target.Usage, error) {
	raw, err := c.api.CoreV1().RESTClient().Get().AbsPath("/apis/metrics.k8s.io/v1beta1/namespaces", ns, "pods").Do(ctx).Raw()
	if err != nil {
		return nil, classify(err)
	}
	var list metricsv1beta1.PodMetricsList
	if err := json.Unmarshal(raw, &list); err != nil {
		return nil, fmt.Errorf("metrics.k8s.io: %w", err)
	}
	var out []target.Usage
	for _, pm := range list.Items {
		for _, ct := range pm.Containers {
			out = append(out, target.Usage{Pod: pm.Name, Container: ct.Name, Memory: ct.Usage.Memory().Value(),
				CPU: ct.Usage.Cpu().AsApproximateFloat64(), At: pm.Timestamp.Time})
		}
	}
	return out, nil
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
		Deleted: p.DeletionTimestamp != nil, CreatedAt: p.CreationTimestamp.Time, Node: p.Spec.NodeName}
	for _, cond := range p.Status.Conditions {
		if cond.Type == corev1.PodScheduled && cond.Status == corev1.ConditionFalse {
			out.Unschedulable, out.UnschedulableMessage = cond.Reason, cond.Message
		}
	}
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
		tc.MemoryLimit, tc.CPULimit = limits(c)
		for _, e := range c.Env {
			if e.Value != "" {
				tc.Env[e.Name] = e.Value
			}
		}
		if s, ok := byName[c.Name]; ok {
			tc.ID, tc.RestartCount = s.ContainerID, int(s.RestartCount)
			if last := s.LastTerminationState.Terminated; last != nil {
				tc.Last = target.Ended{ID: last.ContainerID, ExitCode: int(last.ExitCode), Reason: last.Reason,
					StartedAt: last.StartedAt.Time, FinishedAt: last.FinishedAt.Time}
			}
			switch {
			case s.State.Running != nil:
				tc.State = target.Running
				tc.StartedAt = s.State.Running.StartedAt.Time
			case s.State.Waiting != nil:
				tc.WaitingReason, tc.WaitingMessage = s.State.Waiting.Reason, s.State.Waiting.Message
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

// listWatch is one kind of object listed, then watched from the list's
// resourceVersion (listed again once the watch expires).
type listWatch struct {
	list  func(ctx context.Context) (items []runtime.Object, rv string, err error)
	watch func(ctx context.Context, opts metav1.ListOptions) (watch.Interface, error)
	f     func(obj runtime.Object, deleted bool)
}

// run lists and watches until ctx ends. A list refused for lack of permission is
// returned (ports.ErrForbidden): the caller says so once rather than retrying blind.
func (lw listWatch) run(ctx context.Context) error {
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
		items, rv, err := lw.list(ctx)
		if err != nil {
			if err = classify(err); errors.Is(err, ports.ErrForbidden) {
				return err
			}
			if !sleep() {
				break
			}
			continue
		}
		backoff = time.Second
		for _, o := range items {
			lw.f(o, false)
		}
		for ctx.Err() == nil {
			next, expired := lw.follow(ctx, rv)
			if expired {
				break
			}
			if next == rv && !sleep() {
				return ctx.Err()
			}
			rv = next
		}
	}
	return ctx.Err()
}

func (lw listWatch) follow(ctx context.Context, rv string) (string, bool) {
	timeout := int64(300)
	w, err := lw.watch(ctx, metav1.ListOptions{ResourceVersion: rv, AllowWatchBookmarks: true, TimeoutSeconds: &timeout})
	if err != nil {
		return rv, apierrors.IsResourceExpired(err) || apierrors.IsGone(err)
	}
	defer w.Stop()
	for ev := range w.ResultChan() {
		if ev.Type == watch.Error {
			err := apierrors.FromObject(ev.Object)
			return rv, apierrors.IsResourceExpired(err) || apierrors.IsGone(err)
		}
		m, err := meta.Accessor(ev.Object)
		if err != nil {
			continue
		}
		rv = m.GetResourceVersion()
		if ev.Type == watch.Added || ev.Type == watch.Modified || ev.Type == watch.Deleted {
			lw.f(ev.Object, ev.Type == watch.Deleted)
		}
	}
	return rv, false
}

// WatchEvents implements ports.Cluster.
func (c *Cluster) WatchEvents(ctx context.Context, ns string, f func(target.Event)) error {
	events := c.api.CoreV1().Events(ns)
	return listWatch{
		list: func(ctx context.Context) ([]runtime.Object, string, error) {
			l, err := events.List(ctx, metav1.ListOptions{})
			if err != nil {
				return nil, "", err
			}
			return objects(l.Items), l.ResourceVersion, nil
		},
		watch: events.Watch,
		f: func(o runtime.Object, deleted bool) {
			if e, ok := o.(*corev1.Event); ok && !deleted {
				f(ConvertEvent(e))
			}
		},
	}.run(ctx)
}

// WatchJobs implements ports.Cluster.
func (c *Cluster) WatchJobs(ctx context.Context, ns string, f func(target.Job)) error {
	jobs := c.api.BatchV1().Jobs(ns)
	return listWatch{
		list: func(ctx context.Context) ([]runtime.Object, string, error) {
			l, err := jobs.List(ctx, metav1.ListOptions{})
			if err != nil {
				return nil, "", err
			}
			return objects(l.Items), l.ResourceVersion, nil
		},
		watch: jobs.Watch,
		f: func(o runtime.Object, deleted bool) {
			if j, ok := o.(*batchv1.Job); ok {
				tj := ConvertJob(j)
				tj.Deleted = deleted
				f(tj)
			}
		},
	}.run(ctx)
}

// objects are a list's items as the objects a watch also delivers.
func objects[T any, P interface {
	*T
	runtime.Object
}](items []T) []runtime.Object {
	out := make([]runtime.Object, len(items))
	for i := range items {
		out[i] = P(&items[i])
	}
	return out
}

// ConvertEvent is an Event as the collector sees it. The count of a recent event may
// be in its series instead (events.k8s.io semantics through core/v1).
func ConvertEvent(e *corev1.Event) target.Event {
	out := target.Event{UID: string(e.UID), Kind: e.InvolvedObject.Kind, Name: e.InvolvedObject.Name,
		FieldPath: e.InvolvedObject.FieldPath, Type: e.Type, Reason: e.Reason, Text: e.Message, Count: int(e.Count),
		First: e.FirstTimestamp.Time, Last: e.LastTimestamp.Time}
	if s := e.Series; s != nil && int(s.Count) > out.Count {
		out.Count, out.Last = int(s.Count), s.LastObservedTime.Time
	}
	if out.First.IsZero() {
		out.First = e.EventTime.Time
	}
	if out.Last.IsZero() {
		out.Last = out.First
	}
	if out.Count == 0 {
		out.Count = 1
	}
	return out
}

// ConvertJob is a Job as the collector sees it.
func ConvertJob(j *batchv1.Job) target.Job {
	out := target.Job{Namespace: j.Namespace, Name: j.Name, Labels: j.Labels, Env: map[string]string{}}
	for _, cond := range j.Status.Conditions {
		if cond.Status != corev1.ConditionTrue {
			continue
		}
		switch cond.Type {
		case batchv1.JobComplete:
			out.Done = "succeeded"
		case batchv1.JobFailed:
			out.Done, out.Reason = "failed", cond.Reason
		}
	}
	if cs := j.Spec.Template.Spec.Containers; len(cs) > 0 {
		out.MemoryLimit, out.CPULimit = limits(cs[0])
		for _, c := range cs {
			for _, e := range c.Env {
				if e.Value != "" {
					out.Env[e.Name] = e.Value
				}
			}
		}
	}
	return out
}

func limits(c corev1.Container) (memory, cpu string) {
	if q, ok := c.Resources.Limits[corev1.ResourceMemory]; ok {
		memory = q.String()
	}
	if q, ok := c.Resources.Limits[corev1.ResourceCPU]; ok {
		cpu = q.String()
	}
	return memory, cpu
}
