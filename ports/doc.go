// Package ports holds the small outgoing interfaces the core drives. They speak only
// core types. The stores' ports are each implemented by one adapter package and by an
// in-memory fake in package portstest, and both pass the same conformance suite there.
//
// One file per port, named as the adapters and the fakes name theirs: eventlog.go,
// tail.go (LogTail), jobs.go (JobDirectory, StatusReader), tickets.go, ratelimit.go, auth.go,
// coordination.go (Leases, Checkpoints, ActiveRuns, EndedRuns), cluster.go, spool.go and
// archive.go (Archive, ArchiveIndex, LogKeeper, ArchiveCursors); prices.go (PriceBook:
// adapters/prices, a file or the Azure Retail Prices API, tested against its stand-in)
// and notify.go (NotificationSender and what it sends: adapters/webhook); errors.go
// holds the errors every port may answer.
package ports
