// Package app holds the use cases: the rules that drive the ports. It knows no
// technology: Redis, Kubernetes and HTTP stay behind package ports.
package app
