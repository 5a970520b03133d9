package event

import (
	"errors"
	"strconv"
	"strings"
)

// ID is a parsed stream entry id "<ms>-<seq>". Ids order events within one run.
type ID struct{ MS, Seq uint64 }

// ErrBadID is returned for text that is not a stream entry id.
var ErrBadID = errors.New("not a stream id")

// ParseID parses "<ms>-<seq>" or a bare "<ms>" (sequence 0), as Redis accepts them.
// Leading '+' signs, spaces and overlong input are refused: ids arrive from browsers.
func ParseID(s string) (ID, error) {
	if s == "" || len(s) > 41 {
		return ID{}, ErrBadID
	}
	msPart, seqPart, hasSeq := strings.Cut(s, "-")
	ms, err := parseUint(msPart)
	if err != nil {
		return ID{}, err
	}
	if !hasSeq {
		return ID{MS: ms}, nil
	}
	seq, err := parseUint(seqPart)
	if err != nil {
		return ID{}, err
	}
	return ID{MS: ms, Seq: seq}, nil
}

func parseUint(s string) (uint64, error) {
	if s == "" || len(s) > 20 {
		return 0, ErrBadID
	}
	var v uint64
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return 0, ErrBadID
		}
		v = v*10 + uint64(s[i]-'0')
	}
	if len(s) < 20 {
		return v, nil // at most 19 digits cannot overflow
	}
	v, err := strconv.ParseUint(s, 10, 64)
	if err != nil {
		return 0, ErrBadID
	}
	return v, nil
}

// String formats the id as Redis does.
func (id ID) String() string {
	return strconv.FormatUint(id.MS, 10) + "-" + strconv.FormatUint(id.Seq, 10)
}

// Compare returns -1, 0 or +1 as id is before, equal to or after other.
func (id ID) Compare(other ID) int {
	switch {
	case id.MS < other.MS:
		return -1
	case id.MS > other.MS:
		return 1
	case id.Seq < other.Seq:
		return -1
	case id.Seq > other.Seq:
		return 1
	}
	return 0
}

// Next is the smallest id strictly after id, so that "after X" can be asked of a
// Redis 6.0 XRANGE, which has no exclusive ranges. ok is false for the largest id.
func (id ID) Next() (next ID, ok bool) {
	if id.Seq < ^uint64(0) {
		return ID{MS: id.MS, Seq: id.Seq + 1}, true
	}
	if id.MS < ^uint64(0) {
		return ID{MS: id.MS + 1}, true
	}
	return ID{}, false
}

// Adjacent reports that nothing can lie strictly between id and next: a reader that
// delivered id and finds next as the first one held missed nothing.
func (id ID) Adjacent(next ID) bool {
	n, ok := id.Next()
	return ok && n == next
}

// IsZero reports the zero id "0-0", which no stream entry has: "from the start".
func (id ID) IsZero() bool { return id == ID{} }

// Prev is the largest id strictly before id; ok is false for the zero id.
func (id ID) Prev() (prev ID, ok bool) {
	switch {
	case id.Seq > 0:
		return ID{MS: id.MS, Seq: id.Seq - 1}, true
	case id.MS > 0:
		return ID{MS: id.MS - 1, Seq: ^uint64(0)}, true
	}
	return ID{}, false
}
