// Package sanitize turns one untrusted log line into one safe line (docs/api.md §5):
// terminal escape sequences and control characters removed, invalid UTF-8 replaced,
// secrets masked, length capped. Every line from every source passes through Line —
// or through a Stream, which is Line plus the state that masks a private key printed
// over several lines — before it is stored; nothing else in blastlog needs to
// distrust a stored line.
//
// Line is idempotent (sanitising twice equals sanitising once) so that lines written
// by other producers can be passed through again safely.
package sanitize
