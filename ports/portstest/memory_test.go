package portstest

import (
	"testing"
	"time"

	"github.com/blastlog/blastlog/core/target"
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
	TestLogKeeping(t, func(_ *testing.T, maxLen int) (ports.EventLog, ports.LogKeeper, ports.ArchiveCursors) {
		l := NewEventLog(maxLen)
		l.Archiving = true
		return l, l, NewCursors()
	})
}

func TestMemoryAuthenticator(t *testing.T) {
	TestAuthenticator(t, func(t *testing.T) AuthCase {
		alice, bob := ports.Caller{OID: "oid-alice", TenantID: "t", Name: "Alice"}, ports.Caller{OID: "oid-bob", TenantID: "t"}
		return AuthCase{
			Auth:    Authenticator{"token-a": alice, "token-b": bob},
			Valid:   []ports.Credentials{{Bearer: "token-a"}, {Bearer: "token-b"}},
			Callers: []ports.Caller{alice, bob},
			Invalid: []ports.Credentials{{}, {Bearer: "token-c"}, {DevUser: "oid-alice"}},
		}
	})
}

func TestMemoryCluster(t *testing.T) {
	TestCluster(t, func(t *testing.T) (ports.Cluster, ClusterDriver) {
		c := NewCluster()
		return c, fakeDriver{c}
	})
}

// fakeDriver drives the in-memory Cluster through TestCluster's vocabulary.
type fakeDriver struct{ c *Cluster }

func (d fakeDriver) AddPod(ns, name string, containers ...string) {
	p := target.Pod{Namespace: ns, Name: name}
	for _, n := range containers {
		p.Main = append(p.Main, target.Container{Name: n, State: target.Waiting})
	}
	d.c.AddPod(p)
}
func (d fakeDriver) StartContainer(ns, pod, c string)       { d.c.StartContainer(ns, pod, c) }
func (d fakeDriver) Log(ns, pod, c string, lines ...string) { d.c.Log(ns, pod, c, lines...) }
func (d fakeDriver) EndContainer(ns, pod, c string, exit int) {
	d.c.EndContainer(ns, pod, c, exit, "Completed")
}
func (d fakeDriver) DeletePod(ns, pod string) { d.c.DeletePod(ns, pod) }
func (d fakeDriver) AddJob(ns, name string)   { d.c.Job(target.Job{Namespace: ns, Name: name}) }
func (d fakeDriver) Warning(ns, pod, reason, message string) {
	d.c.Event(target.Event{UID: ns + "/" + pod + "/" + reason, Kind: "Pod", Name: pod, Type: "Warning",
		Reason: reason, Text: message, Count: 1, First: time.Now(), Last: time.Now()})
}
func (d fakeDriver) EndJob(ns, name string, failed bool, reason string) {
	done := "succeeded"
	if failed {
		done = "failed"
	}
	d.c.Job(target.Job{Namespace: ns, Name: name, Done: done, Reason: reason})
}
