package kube

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"sync"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/arm"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/containerservice/armcontainerservice/v6"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/blastlog/blastlog/core/job"
	"github.com/blastlog/blastlog/ports"
)

// AKSScope is the token scope of the AKS AAD server application.
const AKSScope = "6dae42f8-4368-4678-94ff-3960e28e3630/.default"

// AKS finds each run's cluster from its job record: the server and CA come from ARM
// ListClusterUserCredentials, and every request carries an Entra ID token for AKSScope
// from one shared credential (azidentity caches tokens). client-go's own Azure auth
// provider is only a stub, and the kubeconfig's kubelogin exec section is dropped.
type AKS struct {
	Cred azcore.TokenCredential
	ARM  *arm.ClientOptions // nil: public Azure

	mu       sync.Mutex
	clusters map[string]*Cluster
}

// For implements the collector's per-run cluster lookup.
func (a *AKS) For(ctx context.Context, r job.Record) (ports.Cluster, error) {
	if r.SubscriptionID == "" || r.ResourceGroup == "" || r.ClusterName == "" {
		return nil, fmt.Errorf("run %q: its record names no AKS cluster (subscription, resource group and cluster are needed)", r.JobID)
	}
	key := aksKey(r)
	a.mu.Lock()
	c, ok := a.clusters[key]
	a.mu.Unlock()
	if ok {
		return c, nil
	}
	// Not under the lock: one slow or failing ARM call must not hold up other runs.
	client, err := armcontainerservice.NewManagedClustersClient(r.SubscriptionID, a.Cred, a.ARM)
	if err != nil {
		return nil, err
	}
	res, err := client.ListClusterUserCredentials(ctx, r.ResourceGroup, r.ClusterName, nil)
	if err != nil {
		return nil, fmt.Errorf("AKS cluster %s: user credentials: %w", key, err)
	}
	if len(res.Kubeconfigs) == 0 || res.Kubeconfigs[0] == nil || len(res.Kubeconfigs[0].Value) == 0 {
		return nil, fmt.Errorf("AKS cluster %s: ARM returned no kubeconfig", key)
	}
	cfg, err := clientcmd.RESTConfigFromKubeConfig(res.Kubeconfigs[0].Value)
	if err != nil {
		return nil, fmt.Errorf("AKS cluster %s: kubeconfig: %w", key, err)
	}
	// Keep the server and its CA; authenticate with our own tokens.
	cfg = &rest.Config{Host: cfg.Host, TLSClientConfig: rest.TLSClientConfig{CAData: cfg.CAData, ServerName: cfg.ServerName}}
	cred := a.Cred
	cfg.WrapTransport = func(next http.RoundTripper) http.RoundTripper { return &bearer{next: next, cred: cred} }
	c, err = New(cfg)
	if err != nil {
		return nil, err
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	if old, ok := a.clusters[key]; ok {
		return old, nil // another run's lookup won the race
	}
	if a.clusters == nil {
		a.clusters = map[string]*Cluster{}
	}
	a.clusters[key] = c
	return c, nil
}

func aksKey(r job.Record) string {
	return r.SubscriptionID + "/" + r.ResourceGroup + "/" + r.ClusterName
}

// Forget drops the cached cluster of r's record: the next For looks it up in ARM
// again (a cluster recreated, credentials rotated, a server that no longer answers).
func (a *AKS) Forget(r job.Record) {
	a.mu.Lock()
	delete(a.clusters, aksKey(r))
	a.mu.Unlock()
}

// bearer adds an Entra ID token for AKSScope to each request.
type bearer struct {
	next http.RoundTripper
	cred azcore.TokenCredential
}

func (b *bearer) RoundTrip(req *http.Request) (*http.Response, error) {
	tok, err := b.cred.GetToken(req.Context(), policy.TokenRequestOptions{Scopes: []string{AKSScope}})
	if err != nil {
		return nil, errors.Join(errors.New("AKS token"), err)
	}
	r := req.Clone(req.Context())
	r.Header.Set("Authorization", "Bearer "+tok.Token)
	return b.next.RoundTrip(r)
}
