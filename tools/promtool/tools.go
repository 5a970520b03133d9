//go:build tools

// Package tools pins promtool for the alert rules' tests.
package tools

import _ "github.com/prometheus/prometheus/cmd/promtool"
