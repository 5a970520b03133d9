package spool

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"hash/crc32"
	"time"
	"unsafe"

	"github.com/blastlog/blastlog/core/event"
	"github.com/blastlog/blastlog/ports"
)

// A record's payload is compact (magic "BLS2"): a publisher's lines differ only in
// their text, time, number and stream, so those are all a plain line keeps:
//
//	uvarint head length | head (JSON: job_id, after, and the template event — a line's
//	    fields other than those four, written once)
//	uvarint event count
//	per event, one kind byte, then
//	    plain (kindStdout or kindStderr, | kindTruncated):
//	        varint Seq − previous Seq | varint TS − previous TS (ns) | uvarint length | text
//	    kindJSON (a notice, a dropped-lines line, another shape): uvarint length | the
//	        event's JSON (event.AppendJSON)
//
// where "previous" is the last plain event's (0 before the first).
//
// A burst of short lines costs a few bytes each instead of their ~200 bytes of JSON,
// so 2,000,000 lines of `yes` fit in 10 MB. Records of the first format ("BLS1", the
// batch's JSON) are still read: a spool left by an older publisher is flushed.
const (
	magicJSON    = "BLS1"
	magicCompact = "BLS2"
)

// Kinds of an event in a compact record.
const (
	kindStdout    = 0
	kindStderr    = 1
	kindTruncated = 2 // or'ed into a plain kind
	kindJSON      = 4
)

// head is a compact record's JSON head.
type head struct {
	JobID    string          `json:"job_id"`
	After    event.ID        `json:"after,omitzero"`
	Template json.RawMessage `json:"template,omitempty"`
}

// plainOf is e without what a plain event keeps of its own; ok is false for an event
// that is kept as JSON (a notice, a count of dropped lines, another stream).
func plainOf(e event.Event) (event.Event, bool) {
	if e.Notice != "" || e.Ended != nil || e.Detail != nil || e.Dropped != 0 || (e.Stream != event.Stdout && e.Stream != event.Stderr) {
		return event.Event{}, false
	}
	e.ID, e.Line, e.TS, e.Seq, e.Stream, e.Truncated = event.ID{}, "", time.Time{}, 0, "", false
	return e, true
}

func crcOf(payload []byte) uint32 { return crc32.Checksum(payload, castagnoli) }

// encode frames b as a compact record.
func encode(b ports.SpoolBatch) []byte {
	var tmpl event.Event
	have := false
	for _, e := range b.Events {
		if tmpl, have = plainOf(e); have {
			break
		}
	}
	h := head{JobID: b.JobID, After: b.After}
	if have {
		h.Template = tmpl.AppendJSON(nil)
	}
	hj, _ := json.Marshal(h) // a struct of strings and valid JSON: cannot fail
	size := headerSize + 2*binary.MaxVarintLen64 + len(hj)
	for i := range b.Events {
		size += 1 + 3*binary.MaxVarintLen64 + len(b.Events[i].Line)
	}
	rec := make([]byte, headerSize, size)
	copy(rec, magicCompact)
	rec = binary.AppendUvarint(rec, uint64(len(hj)))
	rec = append(rec, hj...)
	rec = binary.AppendUvarint(rec, uint64(len(b.Events)))
	var seq, ts int64
	for _, e := range b.Events {
		p, ok := plainOf(e)
		if !have || !ok || p != tmpl || e.TS.IsZero() {
			rec = append(rec, kindJSON)
			start := len(rec)
			rec = e.AppendJSON(rec)
			j := append([]byte(nil), rec[start:]...) // its length goes first
			rec = binary.AppendUvarint(rec[:start], uint64(len(j)))
			rec = append(rec, j...)
			continue
		}
		kind := byte(kindStdout)
		if e.Stream == event.Stderr {
			kind = kindStderr
		}
		if e.Truncated {
			kind |= kindTruncated
		}
		rec = append(rec, kind)
		rec = binary.AppendVarint(rec, e.Seq-seq)
		rec = binary.AppendVarint(rec, e.TS.UnixNano()-ts)
		rec = binary.AppendUvarint(rec, uint64(len(e.Line)))
		rec = append(rec, e.Line...)
		seq, ts = e.Seq, e.TS.UnixNano()
	}
	payload := rec[headerSize:]
	binary.BigEndian.PutUint32(rec[4:8], uint32(len(payload)))
	binary.BigEndian.PutUint32(rec[8:12], crcOf(payload))
	return rec
}

var errShort = errors.New("record cut short")

// decodeCompact reads a compact payload. Every event's text is a substring of one copy
// of the payload.
func decodeCompact(payload []byte) (ports.SpoolBatch, error) {
	all := string(payload) // one copy: the lines are its substrings
	at := 0
	uvarint := func() (uint64, error) {
		v, n := binary.Uvarint(payload[at:])
		if n <= 0 {
			return 0, errShort
		}
		at += n
		return v, nil
	}
	varint := func() (int64, error) {
		v, n := binary.Varint(payload[at:])
		if n <= 0 {
			return 0, errShort
		}
		at += n
		return v, nil
	}
	take := func(n uint64) (string, error) {
		if n > uint64(len(payload)-at) {
			return "", errShort
		}
		s := all[at : at+int(n)]
		at += int(n)
		return s, nil
	}
	n, err := uvarint()
	if err != nil {
		return ports.SpoolBatch{}, err
	}
	hj, err := take(n)
	if err != nil {
		return ports.SpoolBatch{}, err
	}
	var h head
	if err := json.Unmarshal(unsafe.Slice(unsafe.StringData(hj), len(hj)), &h); err != nil {
		return ports.SpoolBatch{}, err
	}
	var tmpl event.Event
	if len(h.Template) > 0 {
		if tmpl, err = event.Decode(h.Template); err != nil {
			return ports.SpoolBatch{}, err
		}
	}
	count, err := uvarint()
	if err != nil || count > uint64(len(payload)) { // at least a byte each
		return ports.SpoolBatch{}, cmpOr(err, errShort)
	}
	b := ports.SpoolBatch{JobID: h.JobID, After: h.After, Events: make([]event.Event, 0, count)}
	var seq, ts int64
	for range count {
		if at >= len(payload) {
			return ports.SpoolBatch{}, errShort
		}
		kind := payload[at]
		at++
		if kind == kindJSON {
			n, err := uvarint()
			if err != nil {
				return ports.SpoolBatch{}, err
			}
			j, err := take(n)
			if err != nil {
				return ports.SpoolBatch{}, err
			}
			e, err := event.Decode(unsafe.Slice(unsafe.StringData(j), len(j)))
			if err != nil {
				return ports.SpoolBatch{}, err
			}
			b.Events = append(b.Events, e)
			continue
		}
		if kind > kindStderr|kindTruncated || len(h.Template) == 0 {
			return ports.SpoolBatch{}, fmt.Errorf("spool: unknown kind %d", kind)
		}
		ds, err := varint()
		if err != nil {
			return ports.SpoolBatch{}, err
		}
		dt, err := varint()
		if err != nil {
			return ports.SpoolBatch{}, err
		}
		n, err := uvarint()
		if err != nil {
			return ports.SpoolBatch{}, err
		}
		line, err := take(n)
		if err != nil {
			return ports.SpoolBatch{}, err
		}
		e := tmpl
		seq, ts = seq+ds, ts+dt
		e.Seq, e.TS, e.Line, e.Stream, e.Truncated = seq, time.Unix(0, ts).UTC(), line, event.Stdout, kind&kindTruncated != 0
		if kind&kindStderr != 0 {
			e.Stream = event.Stderr
		}
		b.Events = append(b.Events, e)
	}
	if at != len(payload) {
		return ports.SpoolBatch{}, errors.New("spool: bytes after the record's events")
	}
	return b, nil
}

func cmpOr(err, def error) error {
	if err != nil {
		return err
	}
	return def
}

// decodeJSON reads a payload of the first format: the batch's JSON.
func decodeJSON(payload []byte) (ports.SpoolBatch, error) {
	var r struct {
		JobID  string        `json:"job_id"`
		After  event.ID      `json:"after,omitzero"`
		Events []event.Event `json:"events"`
	}
	if err := json.Unmarshal(payload, &r); err != nil {
		return ports.SpoolBatch{}, err
	}
	return ports.SpoolBatch{JobID: r.JobID, After: r.After, Events: r.Events}, nil
}
