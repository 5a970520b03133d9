package event

import (
	"errors"
	"strconv"
)

// ID is a parsed stream entry id "<ms>-<seq>". Ids order events within one run.
type ID struct{ MS, Seq uint64 }

// ErrBadID is returned for text that is not a stream entry id.
var ErrBadID = errors.New("not a stream id")

// ParseID parses "<ms>-<seq>" or a bare "<ms>" (sequence 0), as Redis accepts them.
// Leading '+' signs, spaces and overlong input are refused: ids arrive from browsers.
func ParseID(s string) (ID, error) { return parseID(s) }

// parseID is ParseID over the text's bytes or its string, so that a decoder parses
// the bytes it holds without a copy.
func parseID[T string | []byte](s T) (ID, error) {
	if len(s) == 0 || len(s) > 41 {
		return ID{}, ErrBadID
	}
	dash := -1
	for i := 0; i < len(s); i++ {
		if s[i] == '-' {
			dash = i
			break
		}
	}
	if dash < 0 {
		ms, err := parseUint(s)
		return ID{MS: ms}, err
	}
	ms, err := parseUint(s[:dash])
	if err != nil {
		return ID{}, err
	}
	seq, err := parseUint(s[dash+1:])
	if err != nil {
		return ID{}, err
	}
	return ID{MS: ms, Seq: seq}, nil
}

// parseIDOrZero is the id of text that should hold one, or the zero id: a decoder
// that does not validate shows an event whose id is not one (a producer's field
// named id) as not yet stored.
func parseIDOrZero[T string | []byte](s T) ID {
	id, err := parseID(s)
	if err != nil {
		return ID{}
	}
	return id
}

func parseUint[T string | []byte](s T) (uint64, error) {
	if len(s) == 0 || len(s) > 20 {
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
	v, err := strconv.ParseUint(string(s), 10, 64)
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

// AppendText appends the id as Redis writes it (encoding.TextAppender), and nothing
// for the zero id: in JSON "no id" has always been the empty string ("last_id": "",
// "next_after": ""). A gap writes its ids whole (Gap.AppendJSON).
func (id ID) AppendText(b []byte) ([]byte, error) {
	if id.IsZero() {
		return b, nil
	}
	return appendID(b, id), nil
}

// appendID appends the id as Redis writes it, "0-0" for the zero id.
func appendID(b []byte, id ID) []byte {
	b = strconv.AppendUint(b, id.MS, 10)
	b = append(b, '-')
	return strconv.AppendUint(b, id.Seq, 10)
}

// MarshalText is AppendText's text, so that JSON keeps ids as strings.
func (id ID) MarshalText() ([]byte, error) { return id.AppendText(nil) }

// UnmarshalText parses an id at an edge (JSON of the archive, a kept summary, an API
// answer). Empty text is the zero id.
func (id *ID) UnmarshalText(b []byte) error {
	if len(b) == 0 {
		*id = ID{}
		return nil
	}
	v, err := parseID(b)
	if err != nil {
		return err
	}
	*id = v
	return nil
}
