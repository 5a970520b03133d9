//go:build tools

// Package tools pins kube-apiserver's packages so that go mod tidy keeps them.
package tools

import _ "k8s.io/kubernetes/cmd/kube-apiserver/app"
