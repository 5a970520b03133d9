package kube_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore/arm"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/cloud"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/fake"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"

	"github.com/blastlog/blastlog/adapters/kube"
	"github.com/blastlog/blastlog/adapters/kube/kubesim"
	"github.com/blastlog/blastlog/core/job"
)

// A fake ARM returns a kubeconfig for the simulator, with the kubelogin exec section
// AKS puts in it; the cluster must be reached with our own bearer token instead.
func TestAKSClusterFromARM(t *testing.T) {
	sim := kubesim.New()
	defer sim.Close()
	sim.RequireBearer("fake_token") // what azcore's fake credential hands out
	sim.AddPod(kubesim.PodSpec{Name: "p", Main: []string{"m"}})

	kubeconfig := fmt.Sprintf(`apiVersion: v1
kind: Config
clusters:
- name: elb
  cluster:
    server: %s
contexts:
- name: elb
  context: {cluster: elb, user: clusterUser}
current-context: elb
users:
- name: clusterUser
  user:
    exec:
      apiVersion: client.authentication.k8s.io/v1beta1
      command: kubelogin
      args: [get-token, --server-id, 6dae42f8-4368-4678-94ff-3960e28e3630]
`, sim.URL())
	var calls atomic.Int64
	armSrv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		calls.Add(1)
		want := "/subscriptions/sub-1/resourceGroups/rg-1/providers/Microsoft.ContainerService/managedClusters/elb-cluster-01/listClusterUserCredential"
		if r.Method != http.MethodPost || r.URL.Path != want || !strings.HasPrefix(r.Header.Get("Authorization"), "Bearer ") {
			http.Error(w, `{"error":{"code":"NotFound","message":"no"}}`, http.StatusNotFound)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(map[string]any{"kubeconfigs": []map[string]any{{"name": "clusterUser", "value": []byte(kubeconfig)}}})
	}))
	defer armSrv.Close()
	a := &kube.AKS{Cred: &fake.TokenCredential{}, ARM: &arm.ClientOptions{ClientOptions: policy.ClientOptions{
		Transport: armSrv.Client(),
		Cloud: cloud.Configuration{ActiveDirectoryAuthorityHost: armSrv.URL, Services: map[cloud.ServiceName]cloud.ServiceConfiguration{
			cloud.ResourceManager: {Endpoint: armSrv.URL, Audience: "https://management.core.windows.net/"}}},
	}}}
	rec := job.Record{JobID: "run-1", SubscriptionID: "sub-1", ResourceGroup: "rg-1", ClusterName: "elb-cluster-01"}
	c, err := a.For(context.Background(), rec)
	if err != nil {
		t.Fatal(err)
	}
	pods, err := c.ListPods(context.Background(), "default")
	if err != nil || len(pods) != 1 || pods[0].Name != "p" {
		t.Fatalf("%v %v", pods, err)
	}
	if again, _ := a.For(context.Background(), rec); again != c || calls.Load() != 1 {
		t.Fatalf("not cached: %d ARM calls", calls.Load())
	}
	if _, err := a.For(context.Background(), job.Record{JobID: "run-2"}); err == nil || !strings.Contains(err.Error(), "names no AKS cluster") {
		t.Fatalf("record without coordinates: %v", err)
	}
	other := rec
	other.ClusterName = "missing"
	if _, err := a.For(context.Background(), other); err == nil {
		t.Fatal("a cluster ARM does not know was accepted")
	}
}
