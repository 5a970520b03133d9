// Package archive holds the durable archive's adapters, one per backend: fsdir (a
// local directory) and azblob (Azure Blob Storage). Both store the seed system's
// layout (package chunk) and pass portstest.TestArchive.
package archive

// OwnersDir is where both backends keep a small record per owner and run, so that
// the run list works for runs Redis forgot: "~owners/<oid>/<safe id>.json". "~" is
// outside the characters of a safe run id, so no run's directory can be named so.
const OwnersDir = "~owners/"
