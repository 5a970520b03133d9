// Package testio holds what tests of several packages share to watch output.
package testio

import (
	"bytes"
	"sync"
)

// Buffer is an output buffer that several goroutines, or a process's two streams,
// may write at once.
type Buffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

// Write appends p.
func (s *Buffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

// String returns what was written so far.
func (s *Buffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}
