// Package fold finds ASCII text in any ASCII case, at memchr speed: the keyword rules
// of the error/warning classification and the search's look at a chunk's bytes both
// run it on every line, so it must not cost what strings.EqualFold at every position
// does.
package fold
