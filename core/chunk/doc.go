// Package chunk owns the durable archive's layout: blob names, the chunk envelope and
// the per-run index, exactly as the seed system's finalizer writes them (docs/api.md §7).
// It is pure: adapters store the bytes, package archive decides when to write them.
package chunk
