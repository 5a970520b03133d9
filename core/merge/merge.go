package merge

import (
	"bytes"
	"encoding/binary"
	"errors"
	"hash/fnv"
	"time"

	"github.com/blastlog/blastlog/core/event"
	"github.com/blastlog/blastlog/core/target"
)

// ErrNoTimestamp: the line does not start with an RFC 3339 timestamp.
var ErrNoTimestamp = errors.New("log line without a timestamp")

// ParseLine splits a line of a timestamps=true log ("2026-06-01T02:03:04.123456789Z
// message") into its time and its content. The fraction may have 0 to 9 digits.
func ParseLine(line []byte) (time.Time, []byte, error) {
	sp := bytes.IndexByte(line, ' ')
	stamp, content := line, []byte(nil)
	if sp >= 0 {
		stamp, content = line[:sp], line[sp+1:]
	}
	if len(stamp) < len("2006-01-02T15:04:05Z") || len(stamp) > len("2006-01-02T15:04:05.999999999-07:00") {
		return time.Time{}, nil, ErrNoTimestamp
	}
	if dot := bytes.IndexByte(stamp, '.'); dot >= 0 {
		digits := 0
		for _, b := range stamp[dot+1:] {
			if b < '0' || b > '9' {
				break
			}
			digits++
		}
		if digits == 0 || digits > 9 {
			return time.Time{}, nil, ErrNoTimestamp
		}
	}
	ts, err := time.Parse(time.RFC3339Nano, string(stamp))
	if err != nil {
		return time.Time{}, nil, ErrNoTimestamp
	}
	return ts.UTC(), content, nil
}

// MaxHashes bounds the hashes a cursor keeps for one second; later lines of that
// second are counted instead (a resumed log repeats them in the same order).
const MaxHashes = 1024

// Cursor is the dedupe state of one target: the last whole second with lines, and
// which lines of that second were already emitted. It makes "resume from the last
// whole second" exact: lines of that second that come again are skipped, new ones
// pass, and a line is never dropped only because it is older than the last one.
type Cursor struct {
	Second   time.Time      `json:"second"`
	Seen     map[uint64]int `json:"seen"`
	Overflow int            `json:"overflow,omitempty"`
	Lines    int64          `json:"lines"` // emitted in total

	replay         map[uint64]int // hashes of Second seen again since Resume
	replaySeen     map[uint64]int // Seen when Resume was called: what may come again
	overflowReplay int            // unhashed lines of Second seen again since Resume
	overflowAt     int            // Overflow when Resume was called: how many to skip
	replaying      bool
}

// SinceTime is where a resumed follow starts: the last whole second (zero: from the
// beginning).
func (c *Cursor) SinceTime() time.Time { return c.Second }

// Resume starts skipping the lines of the checkpoint second that come again.
func (c *Cursor) Resume() {
	c.replaying = !c.Second.IsZero()
	c.replay, c.overflowReplay, c.overflowAt = map[uint64]int{}, 0, c.Overflow
	c.replaySeen = make(map[uint64]int, len(c.Seen))
	for h, n := range c.Seen {
		c.replaySeen[h] = n
	}
}

// Replayed is how many lines of the resumed second came again since Resume.
func (c *Cursor) Replayed() int {
	n := c.overflowReplay
	for _, k := range c.replay {
		n += k
	}
	return n
}

// LineHash identifies a log line by its kubelet timestamp (nanoseconds) and content.
func LineHash(ts time.Time, content []byte) uint64 {
	h := fnv.New64a()
	var b [8]byte
	binary.LittleEndian.PutUint64(b[:], uint64(ts.UnixNano()))
	h.Write(b[:])
	h.Write(content)
	return h.Sum64()
}

// Accept reports whether the line is new (emit it) or a repeat after a resume.
func (c *Cursor) Accept(ts time.Time, content []byte) bool {
	sec := ts.UTC().Truncate(time.Second)
	h := LineHash(ts, content)
	switch {
	case c.Second.IsZero() || sec.After(c.Second):
		c.Second, c.Seen, c.Overflow, c.replaying = sec, map[uint64]int{h: 1}, 0, false
	case sec.Equal(c.Second):
		if c.replaying {
			if c.replay[h] < c.replaySeen[h] {
				c.replay[h]++
				return false
			}
			if _, known := c.replaySeen[h]; !known && c.overflowReplay < c.overflowAt {
				c.overflowReplay++
				return false
			}
		}
		if c.Seen == nil {
			c.Seen = map[uint64]int{}
		}
		if _, known := c.Seen[h]; known || len(c.Seen) < MaxHashes {
			c.Seen[h]++
		} else {
			c.Overflow++
		}
	default:
		// Older than the checkpoint second: new (a resume never returns such lines).
	}
	c.Lines++
	return true
}

// Event builds the event of one accepted line of a target, its content sanitised
// by the target's sanitiser (line, from content); a line cut at the cap is flagged.
func Event(jobID string, t target.Target, ts time.Time, content []byte, line string) event.Event {
	return event.Event{SchemaVersion: event.SchemaVersion, JobID: jobID, Source: event.SourceK8s, Phase: t.Phase,
		Stream: event.Stdout, Pod: t.Pod, Container: t.Container, Line: line, TS: ts,
		ContainerID: t.ContainerID, Restart: t.Restart,
		Truncated: len(content) > event.MaxLineChars && len([]rune(line)) == event.MaxLineChars}
}
