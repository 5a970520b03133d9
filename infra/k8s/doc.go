// Package k8s holds the Kubernetes manifests of blastlog and the test that decodes them
// strictly and checks what they grant.
package k8s
