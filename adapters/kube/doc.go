// Package kube implements ports.Cluster with client-go: pods are listed then watched
// (a fresh list after a 410), logs are followed through the API server on their own
// rest config with a higher rate limit. Never kubectl.
package kube
