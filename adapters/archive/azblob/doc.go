// Package azblob is ports.Archive and ports.ArchiveIndex over Azure Blob Storage, in
// the seed system's container (job-artifacts) and layout. Chunks are created with
// If-None-Match: * (a second writer gets BlobAlreadyExists and the first content
// stays); the index is replaced with If-Match on the ETag read. Production uses an
// azidentity credential (workload identity); Azurite and shared-key accounts a
// connection string, which is never logged or put in an error.
package azblob
