// Package azuritetest starts Azurite (Microsoft's Azure Storage emulator, from npm)
// for a test: its Blob service on a free loopback port with a private data directory.
// The binary comes from BLASTLOG_AZURITE (the path of azurite-blob) or the cache that
// .ci/run fills: $XDG_CACHE_HOME/blastlog/azurite-<Version>. Without it a test skips,
// saying why — except under CI, where a missing Azurite fails the test.
package azuritetest
