// Package kubetest runs a real Kubernetes control plane for tests: etcd and
// kube-apiserver built from the Go module proxy (go tool task k8s:binaries), a stub
// kubelet that serves container logs from kubesim, and a Mirror that plays kubesim's
// pods into the real API (created as objects, status set through the status
// subresource, deleted with grace period 0), so that list, watch, RBAC and log proxying
// are the API server's own.
package kubetest
