// Package testio holds what tests of several packages share: an output buffer to
// watch, and the test tools built apart.
package testio
