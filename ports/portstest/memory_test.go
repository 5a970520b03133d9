package portstest

import (
	"testing"

	"github.com/blastlog/blastlog/ports"
)

func TestMemoryEventLog(t *testing.T) {
	TestEventLog(t, func(t *testing.T, maxLen int) ports.EventLog { return NewEventLog(maxLen) })
}

func TestMemoryJobDirectory(t *testing.T) {
	TestJobDirectory(t, func(t *testing.T) ports.JobDirectory { return NewJobDirectory() })
}

func TestMemoryTicketStore(t *testing.T) {
	TestTicketStore(t, func(t *testing.T) ports.TicketStore { return NewTicketStore() })
}

func TestMemoryRateLimiter(t *testing.T) {
	TestRateLimiter(t, func(t *testing.T) ports.RateLimiter { return NewRateLimiter() })
}

func TestMemoryLogTail(t *testing.T) {
	TestLogTail(t, func(t *testing.T) (ports.EventLog, ports.LogTail) { l := NewEventLog(0); return l, l })
}

func TestMemoryStatusReader(t *testing.T) {
	TestStatusReader(t, func(t *testing.T) (ports.JobDirectory, ports.StatusReader) { d := NewJobDirectory(); return d, d })
}

func TestMemoryCoordination(t *testing.T) {
	TestCoordination(t, func(t *testing.T) Coordinator { return NewCoordination() })
}

func TestMemoryArchive(t *testing.T) {
	TestArchive(t, func(*testing.T) ArchiveStore { return NewArchive() })
}

func TestMemoryLogKeeping(t *testing.T) {
	TestLogKeeping(t, func(*testing.T) (ports.EventLog, ports.LogKeeper, ports.ArchiveCursors) {
		l := NewEventLog(0)
		return l, l, NewCursors()
	})
}
