package kube

import (
	"context"
	"errors"
	"fmt"
	"os"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	"github.com/blastlog/blastlog/adapters/kube/kubetest"
	"github.com/blastlog/blastlog/ports"
)

// Against the real API server: a watch from a compacted resourceVersion is answered
// 410 and read as "list again"; WatchPods then lists and watches on.
func TestWatchExpiryUnderTheRealAPIServer(t *testing.T) {
	cp, err := kubetest.Start()
	if errors.Is(err, kubetest.ErrNoBinaries) && os.Getenv("CI") == "" {
		t.Skip(err)
	}
	if err != nil {
		t.Fatal(err)
	}
	defer cp.Stop()
	c, err := New(cp.Admin)
	if err != nil {
		t.Fatal(err)
	}
	cs, _ := kubernetes.NewForConfig(cp.Admin)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	list, err := cs.CoreV1().Pods("default").List(ctx, metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	old := list.ResourceVersion
	for i := 0; i < 5; i++ {
		cm := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("c%d", i), Namespace: "default"}}
		cs.CoreV1().ConfigMaps("default").Create(ctx, cm, metav1.CreateOptions{})
	}
	if err := cp.Compact(); err != nil {
		t.Fatal(err)
	}
	if _, expired := c.watch(ctx, "default", old, func(ports.PodChange) {}); !expired {
		t.Fatalf("a watch from compacted resourceVersion %s was not reported expired", old)
	}
	seen := make(chan string, 10)
	go c.WatchPods(ctx, "default", func(ch ports.PodChange) { seen <- ch.Pod.Name })
	time.Sleep(300 * time.Millisecond)
	p := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "late", Namespace: "default"},
		Spec: corev1.PodSpec{NodeName: kubetest.NodeName, Containers: []corev1.Container{{Name: "m", Image: "x"}}}}
	if _, err := cs.CoreV1().Pods("default").Create(ctx, p, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	select {
	case name := <-seen:
		if name != "late" {
			t.Fatalf("saw %s", name)
		}
	case <-ctx.Done():
		t.Fatal("the watch did not deliver the new pod")
	}
}
