// Package version is the build's version, set by the image build (-ldflags "-X
// github.com/blastlog/blastlog/functions/internal/version.Version=...") and printed by
// every binary's --version.
package version

import (
	"fmt"
	"io"
	"runtime/debug"
)

// Version is the release or commit the binary was built from.
var Version = "dev"

// Requested reports whether args ask for the version (--version, -version, version).
func Requested(args []string) bool {
	return len(args) == 1 && (args[0] == "--version" || args[0] == "-version" || args[0] == "version")
}

// Print writes "<name> <version> (<go version>)".
func Print(w io.Writer, name string) {
	goVersion := "unknown"
	if bi, ok := debug.ReadBuildInfo(); ok {
		goVersion = bi.GoVersion
	}
	fmt.Fprintf(w, "%s %s (%s)\n", name, Version, goVersion)
}
