// Package chaos holds blastlog's chaos suite (go tool task chaos; build tag chaos): the
// real binaries against a real redis-server and the Kubernetes simulator, killed,
// paused and restarted under load, each case checking that a viewer gets every line
// once and saying what it measured.
package chaos
