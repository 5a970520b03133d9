// Package app holds the use cases: the rules that drive the ports. It knows no
// technology: Redis, Kubernetes and HTTP stay behind package ports.
//
// This package holds the request-facing use cases, a file each:
//
//   - access.go: Access, who the caller is and which runs are theirs (the one place
//     ownership is decided);
//   - tickets.go: Tickets, issuing and redeeming stream tickets;
//   - limits.go: OwnerLimit, what one owner may hold at once, and LimitedError, the
//     one error of every limit (tickets a minute, streams, requests);
//   - reads.go: Reads, the entry of every read (Authorize, Admit) and the run list;
//     snapshot.go, download.go, search.go and summary.go are the reads themselves,
//     all over history.Reader;
//   - viewing.go: Viewing, what opening a run starts (collection, archiving).
//
// The long-running services have packages of their own: fanout (one shared reader
// per replica, the SSE streams), history (Redis then the archive, in id order),
// collect (the Kubernetes collector), archive (the archiver), notify (webhooks) and
// publish (the task workers' publisher).
//
// An SSE request goes httpapi → Tickets.RedeemWithin (limits, then the ticket) →
// fanout.Hub; a read goes httpapi → Reads.Admit (Access, then the limit) → the read
// → history.Reader.
package app
