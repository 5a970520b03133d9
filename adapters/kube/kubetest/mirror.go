package kubetest

import (
	"context"
	"fmt"
	"sync/atomic"
	"time"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	"github.com/blastlog/blastlog/adapters/kube/kubesim"
)

var namespaces atomic.Int64

// Mirror plays pods into the real API server in a namespace of its own: objects are
// created through the API, their status set through the status subresource as the
// simulator's containers start, log, end and restart; logs are served by the stub
// kubelet from the simulator. The ns arguments of its methods are ignored: every pod
// lives in Namespace. Errors panic: it is a test driver.
type Mirror struct {
	cp        *ControlPlane
	cs        kubernetes.Interface
	Namespace string
}

// NewMirror creates a fresh namespace.
func (cp *ControlPlane) NewMirror() *Mirror {
	cs, err := kubernetes.NewForConfig(cp.Admin)
	if err != nil {
		panic(err)
	}
	ns := fmt.Sprintf("run-%d", namespaces.Add(1))
	if _, err := cs.CoreV1().Namespaces().Create(context.Background(), &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}},
		metav1.CreateOptions{}); err != nil {
		panic(err)
	}
	return &Mirror{cp: cp, cs: cs, Namespace: ns}
}

// AddPod creates the pod (all containers waiting) on the stub node.
func (m *Mirror) AddPod(spec kubesim.PodSpec) {
	spec.Namespace = m.Namespace
	m.cp.Sim.AddPod(spec)
	p, _ := m.cp.Sim.Status(m.Namespace, spec.Name)
	obj := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: p.Name, Namespace: m.Namespace, Labels: p.Labels,
		OwnerReferences: p.OwnerReferences}, Spec: p.Spec}
	obj.Spec.NodeName = NodeName
	for i := range obj.Spec.InitContainers {
		obj.Spec.InitContainers[i].ImagePullPolicy = corev1.PullIfNotPresent
	}
	for i := range obj.Spec.Containers {
		obj.Spec.Containers[i].ImagePullPolicy = corev1.PullIfNotPresent
	}
	if _, err := m.cs.CoreV1().Pods(m.Namespace).Create(context.Background(), obj, metav1.CreateOptions{}); err != nil {
		panic(err)
	}
	m.sync(spec.Name)
}

// sync copies the simulator's view of the pod's status into the API.
func (m *Mirror) sync(name string) {
	sim, ok := m.cp.Sim.Status(m.Namespace, name)
	if !ok {
		return
	}
	ctx := context.Background()
	for try := 0; try < 10; try++ {
		p, err := m.cs.CoreV1().Pods(m.Namespace).Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			panic(err)
		}
		p.Status = sim.Status
		p.Status.PodIP, p.Status.HostIP = "10.0.0.1", "127.0.0.1"
		if p.Status.StartTime == nil {
			now := metav1.NewTime(time.Now())
			p.Status.StartTime = &now
		}
		if _, err = m.cs.CoreV1().Pods(m.Namespace).UpdateStatus(ctx, p, metav1.UpdateOptions{}); err == nil {
			return
		}
	}
	panic("status of " + name + " could not be updated")
}

// Start starts a container.
func (m *Mirror) Start(_, name, c string) { m.cp.Sim.Start(m.Namespace, name, c); m.sync(name) }

// Log appends lines stamped now.
func (m *Mirror) Log(_, name, c string, lines ...string) {
	m.cp.Sim.Log(m.Namespace, name, c, lines...)
}

// LogAt appends lines stamped ts.
func (m *Mirror) LogAt(_, name, c string, ts time.Time, lines ...string) {
	m.cp.Sim.LogAt(m.Namespace, name, c, ts, lines...)
}

// Terminate ends a container.
func (m *Mirror) Terminate(_, name, c string, code int32) {
	m.cp.Sim.Terminate(m.Namespace, name, c, code)
	m.sync(name)
}

// Use sets what the metrics API (the stand-in behind the aggregator) reports of the
// container.
func (m *Mirror) Use(_, name, c string, memory int64, cpu float64) {
	m.cp.Sim.Use(m.Namespace, name, c, memory, cpu)
}

// Restart restarts a container in place.
func (m *Mirror) Restart(_, name, c string) { m.cp.Sim.Restart(m.Namespace, name, c); m.sync(name) }

// CutStreams ends every open log stream at the kubelet.
func (m *Mirror) CutStreams() { m.cp.Sim.CutStreams() }

// Delete removes the pod at once (no kubelet finishes a graceful deletion here).
// Rotate rotates a container's log (kubesim.Sim.Rotate).
func (m *Mirror) Rotate(_, name, c string) { m.cp.Sim.Rotate(m.Namespace, name, c) }

// LoseLogs makes the pod's logs unreadable while the pod stays (kubesim.Sim.LoseLogs).
func (m *Mirror) LoseLogs(_, name string) { m.cp.Sim.LoseLogs(m.Namespace, name) }

func (m *Mirror) Delete(_, name string) {
	m.cp.Sim.Delete(m.Namespace, name)
	zero := int64(0)
	if err := m.cs.CoreV1().Pods(m.Namespace).Delete(context.Background(), name, metav1.DeleteOptions{GracePeriodSeconds: &zero}); err != nil {
		panic(err)
	}
}

// TerminateWith ends a container with the kubelet's reason (OOMKilled, ...).
func (m *Mirror) TerminateWith(_, name, c string, code int32, reason string) {
	m.cp.Sim.TerminateWith(m.Namespace, name, c, code, reason)
	m.sync(name)
}

// Schedule ends an unschedulable pod's wait (kubesim.Sim.Schedule).
func (m *Mirror) Schedule(_, name string) { m.cp.Sim.Schedule(m.Namespace, name); m.sync(name) }

// Wait makes a container wait with the kubelet's reason (kubesim.Sim.Wait).
func (m *Mirror) Wait(_, name, c, reason, message string) {
	m.cp.Sim.Wait(m.Namespace, name, c, reason, message)
	m.sync(name)
}

// Event creates the event through the API, or counts it up (count, lastTimestamp)
// when one of that name exists, as Kubernetes aggregates a repeated reason.
func (m *Mirror) Event(e corev1.Event) {
	ctx := context.Background()
	events := m.cs.CoreV1().Events(m.Namespace)
	e.Namespace, e.InvolvedObject.Namespace = m.Namespace, m.Namespace
	now := metav1.NewTime(time.Now())
	cur, err := events.Get(ctx, e.Name, metav1.GetOptions{})
	if err != nil {
		if e.Count == 0 {
			e.Count = 1
		}
		e.FirstTimestamp, e.LastTimestamp = now, now
		if _, err := events.Create(ctx, &e, metav1.CreateOptions{}); err != nil {
			panic(err)
		}
		return
	}
	cur.Count++
	cur.LastTimestamp, cur.Message = now, e.Message
	if _, err := events.Update(ctx, cur, metav1.UpdateOptions{}); err != nil {
		panic(err)
	}
}

// Job creates the Job through the API (its pods are played with AddPod).
func (m *Mirror) Job(j batchv1.Job) {
	j.Namespace = m.Namespace
	if len(j.Spec.Template.Spec.Containers) == 0 {
		j.Spec.Template.Spec.Containers = []corev1.Container{{Name: "blast", Image: "ncbi/elb"}}
	}
	if j.Spec.Template.Spec.RestartPolicy == "" {
		j.Spec.Template.Spec.RestartPolicy = corev1.RestartPolicyNever
	}
	if _, err := m.cs.BatchV1().Jobs(m.Namespace).Create(context.Background(), &j, metav1.CreateOptions{}); err != nil {
		panic(err)
	}
}

// EndJob sets the Job's final conditions through the status subresource, as the job
// controller does: SuccessCriteriaMet then Complete, or FailureTarget then Failed
// with reason.
func (m *Mirror) EndJob(_, name string, failed bool, reason string) {
	ctx := context.Background()
	jobs := m.cs.BatchV1().Jobs(m.Namespace)
	j, err := jobs.Get(ctx, name, metav1.GetOptions{})
	if err != nil {
		panic(err)
	}
	now := metav1.NewTime(time.Now())
	if j.Status.StartTime == nil {
		start := metav1.NewTime(now.Add(-time.Minute))
		j.Status.StartTime = &start
	}
	zero := int32(0)
	j.Status.Terminating, j.Status.Ready = &zero, &zero
	cond := func(t batchv1.JobConditionType, reason string) batchv1.JobCondition {
		return batchv1.JobCondition{Type: t, Status: corev1.ConditionTrue, Reason: reason, Message: reason,
			LastProbeTime: now, LastTransitionTime: now}
	}
	if failed {
		j.Status.Failed++
		j.Status.Conditions = append(j.Status.Conditions, cond(batchv1.JobFailureTarget, reason), cond(batchv1.JobFailed, reason))
	} else {
		j.Status.Succeeded, j.Status.CompletionTime = 1, &now
		j.Status.Conditions = append(j.Status.Conditions, cond(batchv1.JobSuccessCriteriaMet, "CompletionsReached"),
			cond(batchv1.JobComplete, "CompletionsReached"))
	}
	if _, err := jobs.UpdateStatus(ctx, j, metav1.UpdateOptions{}); err != nil {
		panic(err)
	}
}
