// Package version is the build's version, set by the image build (-ldflags "-X
// github.com/blastlog/blastlog/functions/internal/version.Version=...") and printed by
// every binary's --version.
package version
