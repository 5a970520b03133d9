// Package spool is ports.Spools on a local directory: each publisher's batches in
// append-only segment files, one framed, checksummed record per batch, synced before
// Put returns.
//
// Layout: <pub id>.lock (held with flock(2) by the publisher, so a crashed one's
// spool is found by the next that can take the lock) and <pub id>-<first seq>.seg
// (segments; names sort by their first event's Seq). A record is
//
//	magic | payload length (uint32, big endian) | CRC-32C of the payload | payload
//
// where the payload is the batch in the compact format of record.go ("BLS2"), or its
// JSON in records an older publisher left ("BLS1"). A record cut short or failing its checksum (a
// crash in the middle of a write) ends its segment: it and anything after it are
// skipped and reported to OnTorn.
package spool
