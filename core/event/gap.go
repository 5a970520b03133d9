package event

import "strconv"

// GapReasonTrimmed: the events were dropped from the log before anyone kept them.
const GapReasonTrimmed = "trimmed"

// Gap says that the events strictly between After and FirstAvailable are lost: no
// tier holds them. It is the data of an SSE gap frame, a snapshot's gap and an entry
// of an archive index's gaps.
type Gap struct {
	After          ID     `json:"after"`
	FirstAvailable ID     `json:"first_available"`
	Reason         string `json:"reason"`
	// Lost is how many events the gap stands for, when the log counted them (0: not
	// known).
	Lost int64 `json:"lost,omitempty"`
}

// MarshalJSON is AppendJSON: a gap's ids are written whole, "0-0" included.
func (g Gap) MarshalJSON() ([]byte, error) { return g.AppendJSON(nil), nil }

// AppendJSON appends the gap's compact JSON (the SSE frame's data).
func (g Gap) AppendJSON(b []byte) []byte {
	b = append(b, `{"after":`...)
	b = appendIDString(b, g.After)
	b = append(b, `,"first_available":`...)
	b = appendIDString(b, g.FirstAvailable)
	b = append(b, `,"reason":`...)
	b = AppendJSONString(b, g.Reason)
	if g.Lost > 0 {
		b = append(b, `,"lost":`...)
		b = strconv.AppendInt(b, g.Lost, 10)
	}
	return append(b, '}')
}
