package kube_test

import (
	"testing"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/blastlog/blastlog/adapters/kube/kubesim"
	"github.com/blastlog/blastlog/ports"
	"github.com/blastlog/blastlog/ports/portstest"
)

// TestClusterConformance runs the ports.Cluster suite against the client-go adapter
// talking to kubesim over HTTP.
func TestClusterConformance(t *testing.T) {
	portstest.TestCluster(t, func(t *testing.T) (ports.Cluster, portstest.ClusterDriver) {
		sim, c := setup(t)
		return c, simDriver{sim}
	})
}

// simDriver drives kubesim through TestCluster's vocabulary.
type simDriver struct{ s *kubesim.Sim }

func (d simDriver) AddPod(ns, name string, containers ...string) {
	d.s.AddPod(kubesim.PodSpec{Namespace: ns, Name: name, Main: containers})
}
func (d simDriver) StartContainer(ns, pod, c string)         { d.s.Start(ns, pod, c) }
func (d simDriver) Log(ns, pod, c string, lines ...string)   { d.s.Log(ns, pod, c, lines...) }
func (d simDriver) EndContainer(ns, pod, c string, exit int) { d.s.Terminate(ns, pod, c, int32(exit)) }
func (d simDriver) DeletePod(ns, pod string)                 { d.s.Delete(ns, pod) }
func (d simDriver) Warning(ns, pod, reason, message string) {
	d.s.Event(corev1.Event{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: pod + "." + reason},
		InvolvedObject: corev1.ObjectReference{Kind: "Pod", Namespace: ns, Name: pod},
		Type:           corev1.EventTypeWarning, Reason: reason, Message: message})
}
func (d simDriver) AddJob(ns, name string) {
	d.s.Job(batchv1.Job{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name}})
}
func (d simDriver) EndJob(ns, name string, failed bool, reason string) {
	d.s.EndJob(ns, name, failed, reason)
}
