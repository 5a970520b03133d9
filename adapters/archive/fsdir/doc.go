// Package fsdir is ports.Archive and ports.ArchiveIndex over a local directory, in the
// same layout as the Blob container: chunks are created with link(2) from a synced
// temporary file (never renamed over an existing name), the index is replaced with
// rename(2) under a per-run lock after comparing its version.
package fsdir
