package event

import (
	"encoding/json"
	"strconv"
	"time"
	"unicode/utf8"
)

// TimeLayout is how ts is written: RFC 3339 in UTC with milliseconds, as JavaScript's
// Date.toISOString and the Python producers write it.
const TimeLayout = "2006-01-02T15:04:05.000Z07:00"

// JSONSize estimates the length of e's JSON: its strings and the fixed fields around
// them (escapes make it longer).
func (e *Event) JSONSize() int {
	return len(e.Line) + len(e.JobID) + len(e.Pod) + len(e.Container) + len(e.ContainerID) + len(e.Phase) +
		len(e.Notice) + len(e.PubID) + 200
}

// AppendJSON appends the compact JSON of e to dst, fields in the contract's order.
// The id is written only when set (never inside Redis). Strings are escaped as JSON
// requires and U+2028/U+2029 as well, but '<', '>' and '&' are kept as they are so the
// stored bytes read like the Python producers' output.
func (e *Event) AppendJSON(dst []byte) []byte {
	dst = append(dst, '{')
	if !e.ID.IsZero() {
		dst = append(dst, `"id":`...)
		dst = appendIDString(dst, e.ID)
		dst = append(dst, ',')
	}
	dst = append(dst, `"schema_version":`...)
	dst = strconv.AppendInt(dst, int64(e.SchemaVersion), 10)
	dst = append(dst, `,"job_id":`...)
	dst = AppendJSONString(dst, e.JobID)
	dst = append(dst, `,"source":`...)
	dst = AppendJSONString(dst, string(e.Source))
	dst = append(dst, `,"phase":`...)
	dst = AppendJSONString(dst, e.Phase)
	dst = append(dst, `,"stream":`...)
	dst = AppendJSONString(dst, string(e.Stream))
	dst = append(dst, `,"pod":`...)
	dst = AppendJSONString(dst, e.Pod)
	dst = append(dst, `,"container":`...)
	dst = AppendJSONString(dst, e.Container)
	dst = append(dst, `,"line":`...)
	dst = AppendJSONString(dst, e.Line)
	dst = appendTime(append(dst, `,"ts":`...), e.TS)
	if e.ContainerID != "" {
		dst = append(dst, `,"container_id":`...)
		dst = AppendJSONString(dst, e.ContainerID)
	}
	if e.Restart != 0 {
		dst = append(dst, `,"restart":`...)
		dst = strconv.AppendInt(dst, int64(e.Restart), 10)
	}
	if e.Truncated {
		dst = append(dst, `,"truncated":true`...)
	}
	if e.Notice != "" {
		dst = append(dst, `,"notice":`...)
		dst = AppendJSONString(dst, e.Notice)
	}
	if e.PubID != "" {
		dst = append(dst, `,"pub_id":`...)
		dst = AppendJSONString(dst, e.PubID)
		dst = append(dst, `,"seq":`...)
		dst = strconv.AppendInt(dst, e.Seq, 10)
	}
	if e.Dropped > 0 {
		dst = append(dst, `,"dropped":`...)
		dst = strconv.AppendInt(dst, e.Dropped, 10)
	}
	if d := e.Ended; d != nil {
		dst = append(dst, `,"exit_code":`...)
		dst = strconv.AppendInt(dst, int64(d.ExitCode), 10)
		dst = append(dst, `,"reason":`...)
		dst = AppendJSONString(dst, d.Reason)
		dst = appendTime(append(dst, `,"started_at":`...), d.StartedAt)
		dst = appendTime(append(dst, `,"finished_at":`...), d.FinishedAt)
		dst = append(dst, `,"completeness":`...)
		dst = AppendJSONString(dst, string(d.Completeness))
		if d.Missing != "" {
			dst = append(dst, `,"missing":`...)
			dst = AppendJSONString(dst, d.Missing)
		}
		if d.MissingLines > 0 {
			dst = append(dst, `,"missing_lines":`...)
			dst = strconv.AppendInt(dst, d.MissingLines, 10)
		}
		if d.Init {
			dst = append(dst, `,"init":true`...)
		}
		dst = appendLimit(dst, d.Memory, d.CPU)
		if d.Node != "" {
			dst = AppendJSONString(append(dst, `,"node":`...), d.Node)
		}
		if u := d.Usage; u != nil {
			dst = strconv.AppendInt(append(dst, `,"usage":{"peak_memory":`...), u.PeakMemory, 10)
			dst = strconv.AppendFloat(append(dst, `,"cpu_mean":`...), u.CPUMean, 'f', 3, 64)
			dst = strconv.AppendFloat(append(dst, `,"cpu_peak":`...), u.CPUPeak, 'f', 3, 64)
			dst = strconv.AppendInt(append(dst, `,"samples":`...), int64(u.Samples), 10)
			dst = appendTime(append(dst, `,"first":`...), u.First)
			dst = appendTime(append(dst, `,"last":`...), u.Last)
			dst = append(dst, '}')
		}
	}
	if d := e.Detail; d != nil {
		dst = d.appendJSON(dst)
	}
	return append(dst, '}')
}

func (d *Detail) appendJSON(dst []byte) []byte {
	str := func(name, v string) {
		if v != "" {
			dst = append(dst, ',', '"')
			dst = append(dst, name...)
			dst = append(dst, '"', ':')
			dst = AppendJSONString(dst, v)
		}
	}
	str("object", d.Object)
	str("type", d.Type)
	str("reason", d.Reason)
	if d.Count > 0 {
		dst = strconv.AppendInt(append(dst, `,"count":`...), int64(d.Count), 10)
	}
	if !d.FirstTS.IsZero() {
		dst = appendTime(append(dst, `,"first_ts":`...), d.FirstTS)
	}
	if !d.LastTS.IsZero() {
		dst = appendTime(append(dst, `,"last_ts":`...), d.LastTS)
	}
	if d.ExitCode != nil {
		dst = strconv.AppendInt(append(dst, `,"exit_code":`...), int64(*d.ExitCode), 10)
	}
	str("batch", d.Batch)
	str("state", d.State)
	str("instance_type", d.InstanceType)
	str("region", d.Region)
	if d.Spot {
		dst = append(dst, `,"spot":true`...)
	}
	if d.Nodes > 0 {
		dst = strconv.AppendInt(append(dst, `,"nodes":`...), int64(d.Nodes), 10)
	}
	if d.USDPerHour != nil {
		dst = strconv.AppendFloat(append(dst, `,"usd_per_hour":`...), *d.USDPerHour, 'f', -1, 64)
	}
	return appendLimit(dst, d.Memory, d.CPU)
}

// appendLimit writes `,"limit":{"memory":..,"cpu":..}`, nothing when both are empty.
func appendLimit(dst []byte, memory, cpu string) []byte {
	if memory == "" && cpu == "" {
		return dst
	}
	dst = append(dst, `,"limit":{`...)
	if memory != "" {
		dst = AppendJSONString(append(dst, `"memory":`...), memory)
	}
	if cpu != "" {
		if memory != "" {
			dst = append(dst, ',')
		}
		dst = AppendJSONString(append(dst, `"cpu":`...), cpu)
	}
	return append(dst, '}')
}

// appendTime writes t as a JSON string in TimeLayout, "" when zero.
func appendTime(dst []byte, t time.Time) []byte {
	if t.IsZero() {
		return append(dst, `""`...)
	}
	dst = append(dst, '"')
	dst = AppendTime(dst, t)
	return append(dst, '"')
}

// AppendTime writes t in TimeLayout, as t.UTC().AppendFormat(dst, TimeLayout) does,
// without reading the layout each time: every line of a download and every event's
// JSON writes one.
func AppendTime(dst []byte, t time.Time) []byte {
	t = t.UTC()
	y, mo, d := t.Date()
	if y < 0 || y > 9999 {
		return t.AppendFormat(dst, TimeLayout)
	}
	h, mi, s := t.Clock()
	ms := t.Nanosecond() / 1e6
	return append(dst, byte('0'+y/1000), byte('0'+y/100%10), byte('0'+y/10%10), byte('0'+y%10), '-',
		byte('0'+mo/10), byte('0'+mo%10), '-', byte('0'+d/10), byte('0'+d%10), 'T',
		byte('0'+h/10), byte('0'+h%10), ':', byte('0'+mi/10), byte('0'+mi%10), ':', byte('0'+s/10), byte('0'+s%10), '.',
		byte('0'+ms/100), byte('0'+ms/10%10), byte('0'+ms%10), 'Z')
}

// appendIDString appends id as a JSON string (its digits and '-' need no escaping),
// "0-0" for the zero id.
func appendIDString(b []byte, id ID) []byte {
	b = append(b, '"')
	b = appendID(b, id)
	return append(b, '"')
}

// MarshalJSON implements json.Marshaler with AppendJSON.
func (e Event) MarshalJSON() ([]byte, error) { return e.AppendJSON(nil), nil }

// wire is the decoding shape: pointers tell a missing field from an empty one.
type wire struct {
	ID            string  `json:"id"`
	SchemaVersion *int    `json:"schema_version"`
	JobID         string  `json:"job_id"`
	Source        *string `json:"source"`
	Phase         string  `json:"phase"`
	Stream        *string `json:"stream"`
	Pod           string  `json:"pod"`
	Container     string  `json:"container"`
	Line          string  `json:"line"`
	TS            string  `json:"ts"`
	ContainerID   string  `json:"container_id"`
	Restart       int     `json:"restart"`
	Truncated     bool    `json:"truncated"`
	Notice        string  `json:"notice"`
	PubID         string  `json:"pub_id"`
	Seq           int64   `json:"seq"`
	Dropped       int64   `json:"dropped"`

	ExitCode     *int   `json:"exit_code"`
	Reason       string `json:"reason"`
	StartedAt    string `json:"started_at"`
	FinishedAt   string `json:"finished_at"`
	Completeness string `json:"completeness"`
	Missing      string `json:"missing"`
	MissingLines int64  `json:"missing_lines"`
	Init         bool   `json:"init"`
	Node         string `json:"node"`
	Usage        *struct {
		PeakMemory int64   `json:"peak_memory"`
		CPUMean    float64 `json:"cpu_mean"`
		CPUPeak    float64 `json:"cpu_peak"`
		Samples    int     `json:"samples"`
		First      string  `json:"first"`
		Last       string  `json:"last"`
	} `json:"usage"`

	Object       string   `json:"object"`
	Type         string   `json:"type"`
	Count        int      `json:"count"`
	FirstTS      string   `json:"first_ts"`
	LastTS       string   `json:"last_ts"`
	Batch        string   `json:"batch"`
	State        string   `json:"state"`
	InstanceType string   `json:"instance_type"`
	Region       string   `json:"region"`
	Spot         bool     `json:"spot"`
	Nodes        int      `json:"nodes"`
	USDPerHour   *float64 `json:"usd_per_hour"`
	Limit        struct {
		Memory string `json:"memory"`
		CPU    string `json:"cpu"`
	} `json:"limit"`
}

// Decode parses an event tolerantly: unknown fields are ignored; a missing
// schema_version is 1, a missing source terminal_exec, a missing or empty stream
// stdout; a ts that is not RFC 3339 is left zero. Only malformed JSON is an error.
// Decode does not validate: a reader shows what a producer wrote.
func Decode(data []byte) (Event, error) {
	var w wire
	if err := json.Unmarshal(data, &w); err != nil {
		return Event{}, err
	}
	e := Event{
		ID:            parseIDOrZero(w.ID),
		SchemaVersion: SchemaVersion,
		JobID:         w.JobID,
		Source:        SourceTerminal,
		Phase:         w.Phase,
		Stream:        Stdout,
		Pod:           w.Pod,
		Container:     w.Container,
		Line:          w.Line,
		ContainerID:   w.ContainerID,
		Restart:       w.Restart,
		Truncated:     w.Truncated,
		Notice:        w.Notice,
		PubID:         w.PubID,
		Seq:           w.Seq,
		Dropped:       w.Dropped,
	}
	if w.Notice == NoticeContainerEnded {
		d := &Ended{Reason: w.Reason, StartedAt: parseTime(w.StartedAt), FinishedAt: parseTime(w.FinishedAt),
			Completeness: Completeness(w.Completeness), Missing: w.Missing, MissingLines: w.MissingLines,
			Init: w.Init, Memory: w.Limit.Memory, CPU: w.Limit.CPU, Node: w.Node}
		if w.ExitCode != nil {
			d.ExitCode = *w.ExitCode
		}
		if u := w.Usage; u != nil && u.Samples > 0 {
			d.Usage = &Usage{PeakMemory: u.PeakMemory, CPUMean: u.CPUMean, CPUPeak: u.CPUPeak, Samples: u.Samples,
				First: parseTime(u.First), Last: parseTime(u.Last)}
		}
		e.Ended = d
	}
	if w.Notice == NoticeK8sEvent || w.Notice == NoticeWaiting || w.Notice == NoticeBatch || w.Notice == NoticeCommandEnded ||
		w.Notice == NoticeStalled || w.Notice == NoticeNode || w.Notice == NoticeClusterIdle {
		e.Detail = &Detail{Object: w.Object, Type: w.Type, Reason: w.Reason, Count: w.Count,
			FirstTS: parseTime(w.FirstTS), LastTS: parseTime(w.LastTS), ExitCode: w.ExitCode,
			Batch: w.Batch, State: w.State, Memory: w.Limit.Memory, CPU: w.Limit.CPU,
			InstanceType: w.InstanceType, Region: w.Region, Spot: w.Spot, Nodes: w.Nodes, USDPerHour: w.USDPerHour}
	}
	if w.SchemaVersion != nil {
		e.SchemaVersion = *w.SchemaVersion
	}
	if w.Source != nil && *w.Source != "" {
		e.Source = Source(*w.Source)
	}
	if w.Stream != nil && *w.Stream != "" {
		e.Stream = Stream(*w.Stream)
	}
	e.TS = parseTime(w.TS)
	return e, nil
}

// parseTime reads an RFC 3339 time; anything else is the zero time.
func parseTime(s string) time.Time {
	if s == "" {
		return time.Time{}
	}
	if t, ok := fastTime(s); ok {
		return t
	}
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return time.Time{}
	}
	return t
}

// UnmarshalJSON implements json.Unmarshaler with Decode.
func (e *Event) UnmarshalJSON(data []byte) error {
	d, err := Decode(data)
	if err != nil {
		return err
	}
	*e = d
	return nil
}

const hexDigits = "0123456789abcdef"

// AppendJSONString appends s as a JSON string, escaped as event fields are: '<', '>'
// and '&' kept, U+2028/U+2029 escaped.
func AppendJSONString(dst []byte, s string) []byte {
	dst = append(dst, '"')
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if c >= 0x20 && c != '"' && c != '\\' {
				i++
				continue
			}
			dst = append(dst, s[start:i]...)
			switch c {
			case '"', '\\':
				dst = append(dst, '\\', c)
			case '\n':
				dst = append(dst, '\\', 'n')
			case '\r':
				dst = append(dst, '\\', 'r')
			case '\t':
				dst = append(dst, '\\', 't')
			default:
				dst = append(dst, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xf])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			dst = append(dst, s[start:i]...)
			dst = append(dst, `\ufffd`...)
			i += size
			start = i
			continue
		}
		if r == '\u2028' || r == '\u2029' {
			dst = append(dst, s[start:i]...)
			dst = append(dst, '\\', 'u', '2', '0', '2', hexDigits[r&0xf])
			i += size
			start = i
			continue
		}
		i += size
	}
	dst = append(dst, s[start:]...)
	return append(dst, '"')
}
