// Package lines splits a byte stream into lines the way a terminal shows them: at LF,
// at CRLF and at a bare CR (so that progress bars redrawn with CR become lines).
package lines
