package chunk

import (
	"bytes"
	"encoding/json"
	"time"
	"unicode/utf8"

	"github.com/blastlog/blastlog/core/event"
)

// Skimmed is what a reader needs of an event it will not look at: where it is in the
// run and which step it counts in.
type Skimmed struct {
	ID    event.ID
	Phase []byte // its phase, inside the chunk's bytes (or a copy when it was escaped)
}

var (
	eventStart = []byte(`{"id":"`)
	phaseField = []byte(`,"phase":"`)
)

// Skim lists the ids and phases of a chunk's events without decoding it: every event
// Encode writes starts with {"id":"...", and its phase follows its job id and source.
// Neither sequence can stand inside a JSON string (its quotes would be escaped), so
// finding them is exact. ok is false when the bytes are not in Encode's shape (a phase
// with escapes that will not unquote, an id that is not one, a cut chunk); another writer's field order finds
// fewer events than the index counts — the caller compares and decodes instead. out is
// reused.
func Skim(data []byte, out []Skimmed) ([]Skimmed, bool) {
	out = out[:0]
	events := bytes.Index(data, []byte(`"events":[`))
	if events < 0 {
		return out, false
	}
	rest := data[events:]
	for {
		i := bytes.Index(rest, eventStart)
		if i < 0 {
			return out, true
		}
		rest = rest[i+len(eventStart):]
		end := bytes.IndexByte(rest, '"')
		if end < 0 {
			return out, false
		}
		var id event.ID
		if id.UnmarshalText(rest[:end]) != nil || id.IsZero() {
			return out, false
		}
		rest = rest[end:]
		p := bytes.Index(rest, phaseField)
		if p < 0 {
			return out, false
		}
		rest = rest[p+len(phaseField):]
		phase, n, ok := jsonString(rest)
		if !ok {
			return out, false
		}
		rest = rest[n:]
		out = append(out, Skimmed{ID: id, Phase: phase})
	}
}

// jsonString reads a JSON string's content up to its closing quote (the opening one
// already read): the bytes themselves when it has no escape, else its unquoted copy;
// n is how many bytes it took.
func jsonString(b []byte) (s []byte, n int, ok bool) {
	escaped := false
	for i := 0; i < len(b); i++ {
		switch b[i] {
		case '\\':
			escaped = true
			i++
		case '"':
			if !escaped {
				return b[:i], i + 1, true
			}
			var v string
			if json.Unmarshal(append([]byte{'"'}, b[:i+1]...), &v) != nil {
				return nil, 0, false
			}
			return []byte(v), i + 1, utf8.ValidString(v)
		}
	}
	return nil, 0, false
}

var createdAt = []byte(`],"created_at":"`)

// ownSkeleton is the length of an event's JSON without its strings' contents and
// its ts: {"id":"","schema_version":1,…,"ts":"2006-01-02T15:04:05.000Z"} (an id is
// written only when set: "0-1", less its three bytes).
var ownSkeleton = len((&event.Event{ID: event.ID{Seq: 1}, TS: time.Unix(0, 0)}).AppendJSON(nil)) - 3

// decodeOwn reads a chunk in the exact shape Encode writes, each event with
// event.DecodeOwn (its fallback, event.Decode, for the few it does not read); ok is
// false for any other shape, which encoding/json then reads.
func decodeOwn(data []byte) (Chunk, bool) {
	// An event's JSON is its strings, its ts (parsed, not kept) and at least
	// ownSkeleton bytes of keys and quotes.
	return decodeOwnWith(data, event.DecodeOwnIn, full, func(body, n int) int { return body - n*ownSkeleton })
}

// full is an event read by event.Decode, as it is.
func full(e event.Event) event.Event { return e }

// decodeOwnWith is decodeOwn reading each event with own, and those own does not
// read with event.Decode, then reduce. size is about the bytes of strings n events
// whose JSON is body bytes long make: too little only costs a copy as the buffer
// grows.
func decodeOwnWith(data []byte, own func([]byte, *event.Strings) (event.Event, bool), reduce func(event.Event) event.Event,
	size func(body, n int) int) (Chunk, bool) {
	var head struct {
		SchemaVersion int    `json:"schema_version"`
		JobID         string `json:"job_id"`
		Step          string `json:"step"`
		Sequence      int    `json:"sequence"`
	}
	events := bytes.Index(data, []byte(`,"events":[`))
	tail := bytes.LastIndex(data, createdAt)
	if !bytes.HasPrefix(data, []byte(`{"schema_version":`)) || events < 0 || tail < events+len(`,"events":[`) || tail+len(createdAt) > len(data)-2 || !bytes.HasSuffix(data, []byte(`"}`)) {
		return Chunk{}, false
	}
	if json.Unmarshal(append(data[:events:events], '}'), &head) != nil {
		return Chunk{}, false
	}
	c := Chunk{SchemaVersion: head.SchemaVersion, JobID: head.JobID, Step: head.Step, Sequence: head.Sequence}
	if t, err := time.Parse(time.RFC3339Nano, string(data[tail+len(createdAt):len(data)-2])); err == nil {
		c.CreatedAt = t
	} else {
		return Chunk{}, false
	}
	body := data[events+len(`,"events":[`) : tail]
	n := bytes.Count(body, eventStart)
	c.Events = make([]event.Event, 0, n)
	var strs event.Strings // every event's strings in one buffer
	strs.Grow(max(size(len(body), n), 0))
	for len(body) > 0 {
		if !bytes.HasPrefix(body, eventStart) {
			return Chunk{}, false
		}
		// The next event starts at the next {"id":" (it cannot stand inside a string).
		end := len(body)
		if k := bytes.Index(body[1:], eventStart); k >= 0 {
			end = k + 1
		}
		one := body[:end]
		if end < len(body) {
			if one[len(one)-1] != ',' {
				return Chunk{}, false
			}
			one = one[:len(one)-1]
		}
		e, ok := own(one, &strs)
		if !ok {
			d, err := event.Decode(one)
			if err != nil {
				return Chunk{}, false
			}
			e = reduce(d)
		}
		c.Events = append(c.Events, e)
		body = body[end:]
	}
	return c, true
}
