package kubesim

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
)

type logLine struct {
	ts   time.Time
	text string
}

type instance struct {
	id       string
	waitWhy  string // while waiting: the kubelet's reason (ImagePullBackOff, ...); "": PodInitializing
	waitMsg  string
	lines    []logLine
	state    string // waiting, running, terminated
	exit     int32
	reason   string // the kubelet's reason when terminated; "" is Completed or Error
	started  time.Time
	finished time.Time
	memory   int64   // working set (bytes) the metrics API reports while it runs; 0: none
	cpu      float64 // cores
}

type container struct {
	name      string
	init      bool
	env       map[string]string
	instances []*instance // the last is current; a restart adds one
}

type pod struct {
	obj        corev1.Pod
	containers []*container
	deleted    bool
	logsLost   bool // LoseLogs: the kubelet no longer has its logs
	// unschedulable is the PodScheduled condition's message while the scheduler finds
	// no node ("" once it does).
	unschedulable string
	limits        map[string]corev1.ResourceList // container -> limits
	node          string                         // where it runs once scheduled
	changed       chan struct{}                  // closed and replaced on every change (log streams wait on it)
}

// watchEvent is one change of an object of a kind (pods, events, jobs).
type watchEvent struct {
	rv   int64
	typ  string
	kind string
	ns   string
	obj  any // a copy: *corev1.Pod, *corev1.Event, *batchv1.Job
}

// Sim is the simulated API server.
type Sim struct {
	mu       sync.Mutex
	pods     map[string]*pod              // ns/name
	nodes    map[string]map[string]string // node name -> labels (AddNode)
	rv       int64
	history  []watchEvent               // for watches from a resourceVersion
	oldestRV int64                      // watches from before this get 410
	watchers map[chan watchEvent]string // -> ns + "/" + kind
	events   map[string]*corev1.Event   // ns/name
	jobs     map[string]*batchv1.Job    // ns/name
	cuts     int64                      // bumped by CutStreams: open log streams end
	now      func() time.Time
	server   *httptest.Server
	uidSeq   int
	bearer   string // required Authorization bearer token, if set
	metrics  int    // 0: served; 404 or 403: metrics.k8s.io answers that
	requests atomic.Int64
	byKind   map[string]int64 // requests per resource (pods, events, jobs), under mu
}

// Requests is how many API requests the simulator has served.
func (s *Sim) Requests() int64 { return s.requests.Load() }

// RequestsFor is how many requests named a resource: "pods" (with their logs),
// "events", "jobs", "metrics" (PodMetrics lists) or "nodes".
func (s *Sim) RequestsFor(resource string) int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.byKind[resource]
}

// RequireBearer makes every request carry "Authorization: Bearer token" (401 otherwise).
func (s *Sim) RequireBearer(token string) {
	s.mu.Lock()
	s.bearer = token
	s.mu.Unlock()
}

// New starts a simulator; Close stops it.
func New() *Sim {
	s := &Sim{pods: map[string]*pod{}, watchers: map[chan watchEvent]string{}, now: time.Now, oldestRV: 1,
		events: map[string]*corev1.Event{}, jobs: map[string]*batchv1.Job{}}
	s.server = httptest.NewServer(http.HandlerFunc(s.serve))
	return s
}

// URL is the API server's address.
func (s *Sim) URL() string { return s.server.URL }

// Close stops the server and ends every stream.
func (s *Sim) Close() {
	s.mu.Lock()
	for ch := range s.watchers {
		close(ch)
		delete(s.watchers, ch)
	}
	for _, p := range s.pods {
		p.deleted = true
		p.notify()
	}
	s.mu.Unlock()
	s.server.CloseClientConnections()
	s.server.Close()
}

func (p *pod) notify() {
	close(p.changed)
	p.changed = make(chan struct{})
}

// PodSpec describes a pod to create.
type PodSpec struct {
	Namespace, Name, Job string
	Labels               map[string]string
	Init, Main           []string
	Env                  map[string]map[string]string // container -> env
	// Limits are the containers' resource limits (container -> limits).
	Limits map[string]corev1.ResourceList
	// Unschedulable: the pod starts Pending with PodScheduled False and this message
	// (Schedule clears it).
	Unschedulable string
	// Node is the node it is scheduled on (DefaultNode when ""); see AddNode.
	Node string
}

// DefaultNode is where a pod runs unless its PodSpec says otherwise.
const DefaultNode = "aks-blast-12345678-vmss000000"

// AddPod creates a pod whose containers are all waiting.
func (s *Sim) AddPod(spec PodSpec) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if spec.Namespace == "" {
		spec.Namespace = "default"
	}
	s.uidSeq++
	p := &pod{changed: make(chan struct{}), unschedulable: spec.Unschedulable, limits: spec.Limits, node: spec.Node}
	if p.node == "" {
		p.node = DefaultNode
	}
	p.obj.Namespace, p.obj.Name = spec.Namespace, spec.Name
	p.obj.CreationTimestamp = metav1.NewTime(s.now())
	p.obj.UID = types.UID(fmt.Sprintf("uid-%d-%s", s.uidSeq, spec.Name))
	p.obj.Labels = map[string]string{}
	for k, v := range spec.Labels {
		p.obj.Labels[k] = v
	}
	if spec.Job != "" {
		p.obj.Labels["job-name"] = spec.Job
		p.obj.Labels["batch.kubernetes.io/job-name"] = spec.Job
		ctrl := true
		p.obj.OwnerReferences = []metav1.OwnerReference{{APIVersion: "batch/v1", Kind: "Job", Name: spec.Job,
			UID: types.UID("job-uid-" + spec.Job), Controller: &ctrl}}
	}
	for _, g := range []struct {
		names []string
		init  bool
	}{{spec.Init, true}, {spec.Main, false}} {
		for _, n := range g.names {
			p.containers = append(p.containers, &container{name: n, init: g.init, env: spec.Env[n],
				instances: []*instance{{state: "waiting"}}})
		}
	}
	s.pods[spec.Namespace+"/"+spec.Name] = p
	s.publishLocked("ADDED", p)
}

func (s *Sim) get(ns, name string) *pod { return s.pods[ns+"/"+name] }

func (s *Sim) containerOf(ns, name, c string) (*pod, *container) {
	p := s.get(ns, name)
	if p == nil {
		return nil, nil
	}
	for _, cc := range p.containers {
		if cc.name == c {
			return p, cc
		}
	}
	return p, nil
}

// Start starts (or, after a restart, restarts) a container.
func (s *Sim) Start(ns, name, c string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	p, cc := s.containerOf(ns, name, c)
	cur := cc.instances[len(cc.instances)-1]
	s.uidSeq++
	cur.state, cur.id, cur.started = "running", fmt.Sprintf("containerd://%s-%s-%d", name, c, s.uidSeq), s.now()
	p.notify()
	s.publishLocked("MODIFIED", p)
}

// Log appends lines to a running container's current instance, stamped now (or at ts
// when given), and returns their timestamps.
func (s *Sim) Log(ns, name, c string, lines ...string) {
	s.LogAt(ns, name, c, time.Time{}, lines...)
}

// LogAt appends lines stamped ts (zero: now).
func (s *Sim) LogAt(ns, name, c string, ts time.Time, lines ...string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	p, cc := s.containerOf(ns, name, c)
	cur := cc.instances[len(cc.instances)-1]
	for _, l := range lines {
		t := ts
		if t.IsZero() {
			t = s.now()
		}
		cur.lines = append(cur.lines, logLine{t.UTC(), l})
	}
	p.notify()
}

// Terminate ends a container's current instance with an exit code.
func (s *Sim) Terminate(ns, name, c string, exit int32) { s.TerminateWith(ns, name, c, exit, "") }

// TerminateWith ends a container's current instance with an exit code and the
// kubelet's reason (OOMKilled, ...); "" says Completed or Error by the code.
func (s *Sim) TerminateWith(ns, name, c string, exit int32, reason string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	p, cc := s.containerOf(ns, name, c)
	cur := cc.instances[len(cc.instances)-1]
	cur.state, cur.exit, cur.reason, cur.finished = "terminated", exit, reason, time.Now()
	p.notify()
	s.publishLocked("MODIFIED", p)
}

// Restart ends the current instance and starts a new one in place (restartPolicy
// OnFailure), as the kubelet does.
func (s *Sim) Restart(ns, name, c string) {
	s.mu.Lock()
	p, cc := s.containerOf(ns, name, c)
	cur := cc.instances[len(cc.instances)-1]
	if cur.state != "terminated" {
		cur.state, cur.exit, cur.finished = "terminated", 1, time.Now()
	}
	cc.instances = append(cc.instances, &instance{state: "waiting"})
	p.notify()
	s.mu.Unlock()
	s.Start(ns, name, c)
}

// Delete removes a pod: its log streams end and its logs are gone.
func (s *Sim) Delete(ns, name string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	p := s.get(ns, name)
	if p == nil {
		return
	}
	p.deleted = true
	delete(s.pods, ns+"/"+name)
	p.notify()
	s.publishLocked("DELETED", p)
}

// LoseLogs makes the pod's logs unreadable (404) while the pod object stays, as when
// the kubelet has already removed the pod: a collector that had not read it yet has
// missed it.
func (s *Sim) LoseLogs(ns, name string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if p := s.get(ns, name); p != nil {
		p.logsLost = true
		p.notify()
	}
}

// Rotate moves the lines of the container's current instance out of the file the
// kubelet serves, as its log rotation does: later reads see only lines written after.
func (s *Sim) Rotate(ns, name, c string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, cc := s.containerOf(ns, name, c); cc != nil {
		cur := cc.instances[len(cc.instances)-1]
		cur.lines = nil
	}
}

// CutStreams ends every open log stream mid-way, as a dropped connection would.
func (s *Sim) CutStreams() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.cuts++
	for _, p := range s.pods {
		p.notify()
	}
}

// ExpireWatches forgets history so that a watch from an older resourceVersion gets 410.
func (s *Sim) ExpireWatches() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.oldestRV = s.rv + 1
	s.history = nil
	for ch := range s.watchers {
		close(ch)
		delete(s.watchers, ch)
	}
}

// publishLocked records a change of p with a new resourceVersion and tells watchers.
func (s *Sim) publishLocked(typ string, p *pod) {
	s.rv++
	p.obj.ResourceVersion = strconv.FormatInt(s.rv, 10)
	p.obj.Status = s.statusLocked(p)
	s.emitLocked(watchEvent{rv: s.rv, typ: typ, kind: "pods", ns: p.obj.Namespace, obj: p.obj.DeepCopy()})
}

// emitLocked keeps ev for watches from an earlier resourceVersion and sends it to the
// watchers of its namespace and kind.
func (s *Sim) emitLocked(ev watchEvent) {
	s.history = append(s.history, ev)
	if len(s.history) > 10000 {
		s.history = s.history[len(s.history)-10000:]
		s.oldestRV = s.history[0].rv
	}
	for ch, key := range s.watchers {
		if key == ev.ns+"/"+ev.kind {
			select {
			case ch <- ev:
			default: // a watcher that does not keep up is cut; client-go re-lists
				close(ch)
				delete(s.watchers, ch)
			}
		}
	}
}

func (s *Sim) statusLocked(p *pod) corev1.PodStatus {
	st := corev1.PodStatus{Phase: corev1.PodPending, HostIP: "127.0.0.1"}
	running, allDone, failed := false, true, false
	p.obj.Spec = corev1.PodSpec{RestartPolicy: corev1.RestartPolicyOnFailure}
	if p.unschedulable == "" {
		p.obj.Spec.NodeName = p.node
	}
	for _, c := range p.containers {
		cur := c.instances[len(c.instances)-1]
		cs := corev1.ContainerStatus{Name: c.name, ContainerID: cur.id, RestartCount: int32(len(c.instances) - 1)}
		if n := len(c.instances); n > 1 {
			prev := c.instances[n-2]
			cs.LastTerminationState.Terminated = &corev1.ContainerStateTerminated{ExitCode: prev.exit, ContainerID: prev.id,
				Reason: terminatedReason(prev), StartedAt: metav1.NewTime(prev.started), FinishedAt: metav1.NewTime(prev.finished)}
		}
		switch cur.state {
		case "waiting":
			cs.State.Waiting = &corev1.ContainerStateWaiting{Reason: "PodInitializing"}
			if cur.waitWhy != "" {
				cs.State.Waiting = &corev1.ContainerStateWaiting{Reason: cur.waitWhy, Message: cur.waitMsg}
			}
			allDone = false
		case "running":
			cs.State.Running = &corev1.ContainerStateRunning{StartedAt: metav1.NewTime(cur.started)}
			running, allDone = true, false
		case "terminated":
			cs.State.Terminated = &corev1.ContainerStateTerminated{ExitCode: cur.exit, ContainerID: cur.id, Reason: terminatedReason(cur),
				StartedAt: metav1.NewTime(cur.started), FinishedAt: metav1.NewTime(cur.finished)}
			failed = failed || cur.exit != 0
		}
		var env []corev1.EnvVar
		for k, v := range c.env {
			env = append(env, corev1.EnvVar{Name: k, Value: v})
		}
		spec := corev1.Container{Name: c.name, Image: "ncbi/elb", Env: env,
			Resources: corev1.ResourceRequirements{Limits: p.limits[c.name]}}
		if c.init {
			st.InitContainerStatuses = append(st.InitContainerStatuses, cs)
			p.obj.Spec.InitContainers = append(p.obj.Spec.InitContainers, spec)
		} else {
			st.ContainerStatuses = append(st.ContainerStatuses, cs)
			p.obj.Spec.Containers = append(p.obj.Spec.Containers, spec)
		}
	}
	if p.unschedulable != "" {
		st.HostIP = ""
		st.Conditions = []corev1.PodCondition{{Type: corev1.PodScheduled, Status: corev1.ConditionFalse,
			Reason: corev1.PodReasonUnschedulable, Message: p.unschedulable}}
	}
	switch {
	case allDone && failed:
		st.Phase = corev1.PodFailed
	case allDone:
		st.Phase = corev1.PodSucceeded
	case running:
		st.Phase = corev1.PodRunning
	}
	return st
}

func writeStatus(w http.ResponseWriter, code int, reason metav1.StatusReason, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	json.NewEncoder(w).Encode(metav1.Status{TypeMeta: metav1.TypeMeta{Kind: "Status", APIVersion: "v1"},
		Status: metav1.StatusFailure, Code: int32(code), Reason: reason, Message: msg})
}

func (s *Sim) serve(w http.ResponseWriter, r *http.Request) {
	s.requests.Add(1)
	s.mu.Lock()
	want := s.bearer
	s.mu.Unlock()
	if want != "" && r.Header.Get("Authorization") != "Bearer "+want {
		writeStatus(w, http.StatusUnauthorized, metav1.StatusReasonUnauthorized, "Unauthorized")
		return
	}
	parts := strings.Split(strings.Trim(r.URL.Path, "/"), "/")
	// apis/metrics.k8s.io/v1beta1/namespaces/{ns}/pods: what metrics-server serves
	if len(parts) == 6 && parts[0] == "apis" && parts[1] == "metrics.k8s.io" && parts[2] == "v1beta1" && parts[3] == "namespaces" &&
		parts[5] == "pods" && r.Method == http.MethodGet {
		s.podMetrics(w, parts[4])
		return
	}
	s.mu.Lock()
	for _, p := range parts {
		if p == "pods" || p == "events" || p == "jobs" {
			if s.byKind == nil {
				s.byKind = map[string]int64{}
			}
			s.byKind[p]++
			break
		}
	}
	s.mu.Unlock()
	watching := r.URL.Query().Get("watch") == "true" || r.URL.Query().Get("watch") == "1"
	// api/v1/namespaces/{ns}/events, apis/batch/v1/namespaces/{ns}/jobs
	if r.Method == http.MethodGet && len(parts) == 5 && parts[0] == "api" && parts[1] == "v1" && parts[2] == "namespaces" && parts[4] == "events" ||
		r.Method == http.MethodGet && len(parts) == 6 && parts[0] == "apis" && parts[1] == "batch" && parts[2] == "v1" && parts[3] == "namespaces" && parts[5] == "jobs" {
		ns, kind := parts[3], parts[4]
		if kind != "events" {
			ns, kind = parts[4], parts[5]
		}
		if watching {
			s.watch(w, r, ns, kind)
		} else {
			s.listKind(w, ns, kind)
		}
		return
	}
	// api/v1/nodes/{name}
	if r.Method == http.MethodGet && len(parts) == 4 && parts[0] == "api" && parts[1] == "v1" && parts[2] == "nodes" {
		s.node(w, parts[3])
		return
	}
	// api/v1/namespaces/{ns}/pods[/{name}[/log]]
	if len(parts) < 5 || parts[0] != "api" || parts[1] != "v1" || parts[2] != "namespaces" || parts[4] != "pods" || r.Method != http.MethodGet {
		writeStatus(w, http.StatusNotFound, metav1.StatusReasonNotFound, "not simulated: "+r.URL.Path)
		return
	}
	ns := parts[3]
	switch len(parts) {
	case 5:
		if watching {
			s.watch(w, r, ns, "pods")
			return
		}
		s.list(w, ns)
	case 6:
		s.mu.Lock()
		p := s.get(ns, parts[5])
		var obj corev1.Pod
		if p != nil {
			p.obj.Status = s.statusLocked(p)
			obj = *p.obj.DeepCopy()
		}
		s.mu.Unlock()
		if p == nil {
			writeStatus(w, http.StatusNotFound, metav1.StatusReasonNotFound, fmt.Sprintf("pods %q not found", parts[5]))
			return
		}
		obj.TypeMeta = metav1.TypeMeta{Kind: "Pod", APIVersion: "v1"}
		w.Header().Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(obj)
	case 7:
		if parts[6] != "log" {
			writeStatus(w, http.StatusNotFound, metav1.StatusReasonNotFound, "not simulated")
			return
		}
		s.logs(w, r, ns, parts[5])
	default:
		writeStatus(w, http.StatusNotFound, metav1.StatusReasonNotFound, "not simulated")
	}
}

func (s *Sim) list(w http.ResponseWriter, ns string) {
	s.mu.Lock()
	list := corev1.PodList{TypeMeta: metav1.TypeMeta{Kind: "PodList", APIVersion: "v1"}}
	list.ResourceVersion = strconv.FormatInt(s.rv, 10)
	for _, p := range s.pods {
		if p.obj.Namespace == ns {
			p.obj.Status = s.statusLocked(p)
			list.Items = append(list.Items, *p.obj.DeepCopy())
		}
	}
	s.mu.Unlock()
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(list)
}

func (s *Sim) watch(w http.ResponseWriter, r *http.Request, ns, kind string) {
	from, _ := strconv.ParseInt(r.URL.Query().Get("resourceVersion"), 10, 64)
	ch := make(chan watchEvent, 1024)
	s.mu.Lock()
	if from != 0 && from+1 < s.oldestRV {
		s.mu.Unlock()
		writeStatus(w, http.StatusGone, metav1.StatusReasonExpired, fmt.Sprintf("too old resource version: %d (%d)", from, s.oldestRV))
		return
	}
	var backlog []watchEvent
	for _, ev := range s.history {
		if ev.rv > from && ev.ns == ns && ev.kind == kind {
			backlog = append(backlog, ev)
		}
	}
	s.watchers[ch] = ns + "/" + kind
	s.mu.Unlock()
	defer func() {
		s.mu.Lock()
		if _, ok := s.watchers[ch]; ok {
			delete(s.watchers, ch)
		}
		s.mu.Unlock()
	}()
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Transfer-Encoding", "chunked")
	w.WriteHeader(http.StatusOK)
	fl := w.(http.Flusher)
	enc := json.NewEncoder(w)
	send := func(ev watchEvent) error {
		raw, _ := json.Marshal(typed(ev.obj))
		err := enc.Encode(metav1.WatchEvent{Type: ev.typ, Object: runtimeRaw(raw)})
		fl.Flush()
		return err
	}
	for _, ev := range backlog {
		if send(ev) != nil {
			return
		}
	}
	timeout := 5 * time.Minute
	if v, err := strconv.Atoi(r.URL.Query().Get("timeoutSeconds")); err == nil && v > 0 {
		timeout = time.Duration(v) * time.Second
	}
	end := time.After(timeout)
	for {
		select {
		case ev, ok := <-ch:
			if !ok || send(ev) != nil {
				return
			}
		case <-end:
			return
		case <-r.Context().Done():
			return
		}
	}
}

// KubeletHandler serves the kubelet's /containerLogs/{ns}/{pod}/{container} endpoint
// from the simulator's logs, for a real API server that proxies log requests to it.
func (s *Sim) KubeletHandler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		parts := strings.Split(strings.Trim(r.URL.Path, "/"), "/")
		if len(parts) != 4 || parts[0] != "containerLogs" {
			http.NotFound(w, r)
			return
		}
		q := r.URL.Query()
		q.Set("container", parts[3])
		r.URL.RawQuery = q.Encode()
		s.logs(w, r, parts[1], parts[2])
	})
}

// MetricsHandler serves metrics.k8s.io/v1beta1 as metrics-server does behind the API
// server's aggregator: its discovery document and the namespaces' PodMetrics.
func (s *Sim) MetricsHandler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		parts := strings.Split(strings.Trim(r.URL.Path, "/"), "/")
		switch {
		case strings.Trim(r.URL.Path, "/") == "apis/metrics.k8s.io/v1beta1":
			w.Header().Set("Content-Type", "application/json")
			json.NewEncoder(w).Encode(map[string]any{"kind": "APIResourceList", "apiVersion": "v1", "groupVersion": "metrics.k8s.io/v1beta1",
				"resources": []map[string]any{
					{"name": "pods", "singularName": "", "namespaced": true, "kind": "PodMetrics", "verbs": []string{"get", "list"}},
					{"name": "nodes", "singularName": "", "namespaced": false, "kind": "NodeMetrics", "verbs": []string{"get", "list"}}}})
		case len(parts) == 6 && parts[1] == "metrics.k8s.io" && parts[3] == "namespaces" && parts[5] == "pods":
			s.podMetrics(w, parts[4])
		default:
			writeStatus(w, http.StatusNotFound, metav1.StatusReasonNotFound, "the server could not find the requested resource")
		}
	})
}

// Status returns the pod as the simulator sees it now (spec and status), for a driver
// that mirrors it into a real API server; ok is false once it is gone.
func (s *Sim) Status(ns, name string) (corev1.Pod, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	p := s.get(ns, name)
	if p == nil {
		return corev1.Pod{}, false
	}
	p.obj.Status = s.statusLocked(p)
	return *p.obj.DeepCopy(), true
}

// terminatedReason is the kubelet's reason for an ended instance: its own, else
// Error or Completed by its exit code.
func terminatedReason(in *instance) string {
	switch {
	case in.reason != "":
		return in.reason
	case in.exit != 0:
		return "Error"
	}
	return "Completed"
}

// typed is a copy of an object with its kind and API version set, as the wire carries
// them (a copy: the stored object is shared by every watcher sending it at once).
func typed(obj any) any {
	switch o := obj.(type) {
	case *corev1.Pod:
		c := *o
		c.TypeMeta = metav1.TypeMeta{Kind: "Pod", APIVersion: "v1"}
		return &c
	case *corev1.Event:
		c := *o
		c.TypeMeta = metav1.TypeMeta{Kind: "Event", APIVersion: "v1"}
		return &c
	case *batchv1.Job:
		c := *o
		c.TypeMeta = metav1.TypeMeta{Kind: "Job", APIVersion: "batch/v1"}
		return &c
	}
	return obj
}

func (s *Sim) listKind(w http.ResponseWriter, ns, kind string) {
	s.mu.Lock()
	rv := strconv.FormatInt(s.rv, 10)
	var body any
	switch kind {
	case "events":
		l := corev1.EventList{TypeMeta: metav1.TypeMeta{Kind: "EventList", APIVersion: "v1"}}
		l.ResourceVersion = rv
		for _, e := range s.events {
			if e.Namespace == ns {
				l.Items = append(l.Items, *e.DeepCopy())
			}
		}
		body = l
	default:
		l := batchv1.JobList{TypeMeta: metav1.TypeMeta{Kind: "JobList", APIVersion: "batch/v1"}}
		l.ResourceVersion = rv
		for _, j := range s.jobs {
			if j.Namespace == ns {
				l.Items = append(l.Items, *j.DeepCopy())
			}
		}
		body = l
	}
	s.mu.Unlock()
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(body)
}

// Event records an event as Kubernetes does: a new one (name unused in the namespace)
// is created with count 1; the same name again counts up and moves lastTimestamp, as
// Kubernetes aggregates a repeated reason on one object. Namespace defaults to
// "default", FirstTimestamp to now.
func (s *Sim) Event(e corev1.Event) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if e.Namespace == "" {
		e.Namespace = "default"
	}
	now := metav1.NewTime(s.now())
	key := e.Namespace + "/" + e.Name
	typ := "MODIFIED"
	cur := s.events[key]
	if cur == nil {
		typ = "ADDED"
		s.uidSeq++
		cur = e.DeepCopy()
		cur.UID = types.UID(fmt.Sprintf("event-uid-%d", s.uidSeq))
		if cur.Count == 0 {
			cur.Count = 1
		}
		if cur.FirstTimestamp.IsZero() {
			cur.FirstTimestamp = now
		}
		cur.LastTimestamp = cur.FirstTimestamp
		s.events[key] = cur
	} else {
		cur.Count++
		cur.LastTimestamp, cur.Message = now, e.Message
	}
	s.rv++
	cur.ResourceVersion = strconv.FormatInt(s.rv, 10)
	s.emitLocked(watchEvent{rv: s.rv, typ: typ, kind: "events", ns: cur.Namespace, obj: cur.DeepCopy()})
}

// Job creates or replaces a Job (namespace default "default").
func (s *Sim) Job(j batchv1.Job) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if j.Namespace == "" {
		j.Namespace = "default"
	}
	key := j.Namespace + "/" + j.Name
	typ := "MODIFIED"
	if s.jobs[key] == nil {
		typ = "ADDED"
		s.uidSeq++
		j.UID = types.UID(fmt.Sprintf("job-uid-%d", s.uidSeq))
	} else {
		j.UID = s.jobs[key].UID
	}
	s.rv++
	j.ResourceVersion = strconv.FormatInt(s.rv, 10)
	s.jobs[key] = j.DeepCopy()
	s.emitLocked(watchEvent{rv: s.rv, typ: typ, kind: "jobs", ns: j.Namespace, obj: j.DeepCopy()})
}

// EndJob sets a Job's final condition: Complete, or Failed with reason
// (BackoffLimitExceeded, DeadlineExceeded).
func (s *Sim) EndJob(ns, name string, failed bool, reason string) {
	s.mu.Lock()
	j := s.jobs[ns+"/"+name]
	s.mu.Unlock()
	if j == nil {
		return
	}
	j = j.DeepCopy()
	cond := batchv1.JobCondition{Type: batchv1.JobComplete, Status: corev1.ConditionTrue}
	if failed {
		cond = batchv1.JobCondition{Type: batchv1.JobFailed, Status: corev1.ConditionTrue, Reason: reason,
			Message: "Job has reached the specified backoff limit"}
		j.Status.Failed++
	} else {
		j.Status.Succeeded = 1
	}
	j.Status.Conditions = append(j.Status.Conditions, cond)
	s.Job(*j)
}

// Schedule ends an unschedulable pod's wait: the scheduler found it a node.
func (s *Sim) Schedule(ns, name string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if p := s.get(ns, name); p != nil && p.unschedulable != "" {
		p.unschedulable = ""
		s.publishLocked("MODIFIED", p)
	}
}

// Wait makes a container's current (not yet started) instance wait with the kubelet's
// reason and message (ImagePullBackOff, CreateContainerConfigError, ...).
func (s *Sim) Wait(ns, name, c, reason, message string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	p, cc := s.containerOf(ns, name, c)
	if cc == nil {
		return
	}
	cur := cc.instances[len(cc.instances)-1]
	cur.waitWhy, cur.waitMsg = reason, message
	s.publishLocked("MODIFIED", p)
}

// Jobs returns the namespace's Jobs now.
func (s *Sim) Jobs(ns string) []batchv1.Job {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []batchv1.Job
	for _, j := range s.jobs {
		if j.Namespace == ns {
			out = append(out, *j.DeepCopy())
		}
	}
	return out
}

// Events returns the namespace's events now.
func (s *Sim) Events(ns string) []corev1.Event {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []corev1.Event
	for _, e := range s.events {
		if e.Namespace == ns {
			out = append(out, *e.DeepCopy())
		}
	}
	return out
}

// Use sets what the metrics API reports of a container's current instance while it
// runs: its working set in bytes and its CPU in cores.
func (s *Sim) Use(ns, name, c string, memory int64, cpu float64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	_, cc := s.containerOf(ns, name, c)
	cur := cc.instances[len(cc.instances)-1]
	cur.memory, cur.cpu = memory, cpu
}

// RefuseMetrics makes metrics.k8s.io answer status (404: not served, as without
// metrics-server; 403: forbidden); 0 serves it again.
func (s *Sim) RefuseMetrics(status int) { s.mu.Lock(); s.metrics = status; s.mu.Unlock() }

// countLocked counts a request for resource (RequestsFor); s.mu is held.
func (s *Sim) countLocked(resource string) {
	if s.byKind == nil {
		s.byKind = map[string]int64{}
	}
	s.byKind[resource]++
}

// podMetrics answers a PodMetricsList as metrics-server does: the running containers
// of the namespace's pods, memory in Ki and CPU in nano- or millicores.
func (s *Sim) podMetrics(w http.ResponseWriter, ns string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.countLocked("metrics")
	switch s.metrics {
	case http.StatusNotFound:
		writeStatus(w, http.StatusNotFound, metav1.StatusReasonNotFound, "the server could not find the requested resource")
		return
	case http.StatusForbidden:
		writeStatus(w, http.StatusForbidden, metav1.StatusReasonForbidden,
			`pods.metrics.k8s.io is forbidden: User "system:serviceaccount:default:blastlog" cannot list resource "pods" in API group "metrics.k8s.io"`)
		return
	}
	type containerMetrics struct {
		Name  string            `json:"name"`
		Usage map[string]string `json:"usage"`
	}
	type podMetrics struct {
		Metadata   map[string]any     `json:"metadata"`
		Timestamp  string             `json:"timestamp"`
		Window     string             `json:"window"`
		Containers []containerMetrics `json:"containers"`
	}
	list := struct {
		Kind       string            `json:"kind"`
		APIVersion string            `json:"apiVersion"`
		Metadata   map[string]string `json:"metadata"`
		Items      []podMetrics      `json:"items"`
	}{Kind: "PodMetricsList", APIVersion: "metrics.k8s.io/v1beta1", Metadata: map[string]string{}, Items: []podMetrics{}}
	now := s.now().UTC()
	for key, p := range s.pods {
		if p.deleted || !strings.HasPrefix(key, ns+"/") {
			continue
		}
		// Each answer is a new sample (metrics-server's change with its scrapes, every
		// 15 s or so): the timestamp is to the nanosecond.
		pm := podMetrics{Metadata: map[string]any{"name": p.obj.Name, "namespace": ns, "creationTimestamp": now.Format(time.RFC3339),
			"labels": p.obj.Labels}, Timestamp: now.Format(time.RFC3339Nano), Window: "15.002s"}
		for _, c := range p.containers {
			cur := c.instances[len(c.instances)-1]
			if c.init || cur.state != "running" || cur.memory == 0 && cur.cpu == 0 {
				continue
			}
			pm.Containers = append(pm.Containers, containerMetrics{Name: c.name,
				Usage: map[string]string{"cpu": cpuQuantity(cur.cpu), "memory": strconv.FormatInt(cur.memory/1024, 10) + "Ki"}})
		}
		if len(pm.Containers) > 0 {
			list.Items = append(list.Items, pm)
		}
	}
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(list)
}

// cpuQuantity is cores as metrics-server writes them: millicores when whole
// ("14500m"), else nanocores ("1234567n").
func cpuQuantity(cores float64) string {
	n := int64(cores*1e9 + 0.5)
	if n%1_000_000 == 0 {
		return strconv.FormatInt(n/1_000_000, 10) + "m"
	}
	return strconv.FormatInt(n, 10) + "n"
}

// AddNode adds (or relabels) a node: its instance type, region and spot priority are
// labels (target.LabelInstanceType, ...). A pod's node that was never added is
// answered 404, as a node deleted since.
func (s *Sim) AddNode(name string, labels map[string]string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.nodes == nil {
		s.nodes = map[string]map[string]string{}
	}
	s.nodes[name] = labels
}

// RemoveNode deletes a node (the cluster scaled down, or was deleted).
func (s *Sim) RemoveNode(name string) { s.mu.Lock(); delete(s.nodes, name); s.mu.Unlock() }

func (s *Sim) node(w http.ResponseWriter, name string) {
	s.mu.Lock()
	labels, ok := s.nodes[name]
	s.countLocked("nodes")
	s.mu.Unlock()
	if !ok {
		writeStatus(w, http.StatusNotFound, metav1.StatusReasonNotFound, fmt.Sprintf("nodes %q not found", name))
		return
	}
	n := corev1.Node{TypeMeta: metav1.TypeMeta{Kind: "Node", APIVersion: "v1"}, ObjectMeta: metav1.ObjectMeta{Name: name, Labels: labels}}
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(n)
}
