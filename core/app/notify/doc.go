// Package notify tells the lab when a run needs a person: once per run and kind of
// news (failed, stuck, oomkilled, succeeded, idle) across every replica, from the run's
// diagnosis, without ever holding up collection or streaming (docs/api.md §10).
//
// The archiver, which follows every run one replica at a time, hands each run's
// diagnosis to Observe; what is news is queued (bounded) and a worker sends it through
// a ports.NotificationSender, retrying with backoff for up to MaxRetryFor. A lease per run and kind
// (ports.Leases) makes it one message across replicas: taken before sending and held
// while retrying, kept for KeepSent once sent; a replica that dies while retrying
// lets its lease lapse, and the replica that archives the run next sends it.
package notify
