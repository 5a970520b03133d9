// Package kubesim is an in-process, wire-level Kubernetes API simulator for the parts
// blastlog uses: pods, events and jobs list and watch (resourceVersions, 410 Gone for
// expired ones), pods that wait (unschedulable, image pulls), and
// pod logs (follow, timestamps, tailLines, sinceTime, container, previous; 400 while a
// container waits, 404 once the pod is gone; streams cut on demand). client-go talks to
// it over HTTP exactly as to a cluster. Tests, the dev stack and benchmarks use it.
package kubesim
