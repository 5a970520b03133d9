// Command blastlog-publish is run by task workers: it wraps a command, passes its
// output through unchanged and publishes every sanitised line to the run's log. It also
// registers runs and moves their status. See docs/api.md §4 and `blastlog-publish -h`.
package main
