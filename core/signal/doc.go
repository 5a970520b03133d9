// Package signal owns the one way blastlog wakes a waiting goroutine: a send on a
// channel of capacity one that never blocks, so that many wake-ups coalesce into one.
package signal
