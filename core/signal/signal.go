package signal

// Notify wakes whoever waits on ch, unless a wake-up is already pending.
func Notify(ch chan<- struct{}) {
	select {
	case ch <- struct{}{}:
	default:
	}
}
