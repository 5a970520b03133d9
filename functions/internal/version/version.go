package version

import (
	"fmt"
	"io"
	"runtime/debug"
)

// Version is the release or commit the binary was built from: set by the image
// build, else the module's version (go install …@v1.2.3), else the commit Go
// stamped into a build from a checkout, else "dev".
var Version = ""

// String is Version as the binary says it.
func String() string {
	if Version != "" {
		return Version
	}
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return "dev"
	}
	if v := bi.Main.Version; v != "" && v != "(devel)" {
		return v
	}
	var rev, modified string
	for _, s := range bi.Settings {
		switch s.Key {
		case "vcs.revision":
			rev = s.Value
		case "vcs.modified":
			if s.Value == "true" {
				modified = "+dirty"
			}
		}
	}
	if len(rev) >= 12 {
		return "dev-" + rev[:12] + modified
	}
	return "dev"
}

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
	fmt.Fprintf(w, "%s %s (%s)\n", name, String(), goVersion)
}
