// Package signal owns the one way blastlog wakes a waiting goroutine: a send on a
// channel of capacity one that never blocks, so that many wake-ups coalesce into one.
package signal

// Notify wakes whoever waits on ch, unless a wake-up is already pending.
func Notify(ch chan<- struct{}) {
	select {
	case ch <- struct{}{}:
	default:
	}
}
