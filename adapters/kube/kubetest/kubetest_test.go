package kubetest

import (
	"context"
	"errors"
	"os"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
)

func TestControlPlaneStartsAndStops(t *testing.T) {
	cp, err := Start()
	if errors.Is(err, ErrNoBinaries) && os.Getenv("CI") == "" {
		t.Skip(err)
	}
	if err != nil {
		t.Fatal(err)
	}
	defer cp.Stop()
	t.Logf("control plane ready in %v", cp.Started)
	cs, _ := kubernetes.NewForConfig(cp.Admin)
	if _, err := cs.CoreV1().Pods("default").List(context.Background(), metav1.ListOptions{}); err != nil {
		t.Fatal(err)
	}
}
