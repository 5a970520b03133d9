package app

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/blastlog/blastlog/core/app/history"
	"github.com/blastlog/blastlog/core/chunk"
	"github.com/blastlog/blastlog/core/event"
	"github.com/blastlog/blastlog/core/fold"
	"github.com/blastlog/blastlog/core/summary"
)

// Search limits (docs/api.md §3).
const (
	SearchDefaultLimit = 100
	SearchMaxLimit     = 500
	SearchMaxQuery     = 200
	SearchMaxScanned   = 2_000_000
	SearchMaxTime      = 5 * time.Second
)

// SearchQuery is one search of a run. Q is matched as a case-insensitive substring (an
// empty Q matches every line); with Issues only lines the error/warning rules flag are
// kept.
type SearchQuery struct {
	Q, Phase, Pod, Stream string
	Issues                bool
	After                 string
	Limit                 int

	after event.ID // After, parsed by Validate
}

// Validate reports ErrBadQuery for what the contract refuses (event.ErrBadID for an
// After that is no id), parses After and fills the default limit.
func (q *SearchQuery) Validate() error {
	switch {
	case !utf8.ValidString(q.Q):
		return fmt.Errorf("%w: q is not valid UTF-8 text", ErrBadQuery)
	case utf8.RuneCountInString(q.Q) > SearchMaxQuery:
		return fmt.Errorf("%w: q must be at most %d characters", ErrBadQuery, SearchMaxQuery)
	case q.Stream != "" && !event.Stream(q.Stream).Valid():
		return fmt.Errorf("%w: stream must be stdout or stderr", ErrBadQuery)
	case q.Limit < 0:
		return fmt.Errorf("%w: limit must be from 1 to %d", ErrBadQuery, SearchMaxLimit)
	case len(q.Pod) > 253:
		return fmt.Errorf("%w: pod is longer than 253 characters", ErrBadQuery)
	}
	if q.After != "" {
		id, err := event.ParseID(q.After)
		if err != nil {
			return err
		}
		q.after = id
	}
	if q.Limit == 0 {
		q.Limit = SearchDefaultLimit
	}
	q.Limit = min(q.Limit, SearchMaxLimit)
	return validPhase(q.Phase)
}

// Match is an event that matched, with its line number within its step (1-based).
type Match struct {
	event.Event
	LineNo int64
}

// UnmarshalJSON reads the event and its line_no (the embedded event's decoder would
// otherwise be promoted and drop line_no).
func (m *Match) UnmarshalJSON(b []byte) error {
	if err := m.Event.UnmarshalJSON(b); err != nil {
		return err
	}
	var n struct {
		LineNo int64 `json:"line_no"`
	}
	if err := json.Unmarshal(b, &n); err != nil {
		return err
	}
	m.LineNo = n.LineNo
	return nil
}

// MarshalJSON is the event's JSON with line_no added.
func (m Match) MarshalJSON() ([]byte, error) {
	b := m.Event.AppendJSON(nil)
	b = append(b[:len(b)-1], `,"line_no":`...)
	b = strconv.AppendInt(b, m.LineNo, 10)
	return append(b, '}'), nil
}

// SearchResult is one page of matches.
type SearchResult struct {
	Matches   []Match  `json:"matches"`
	NextAfter event.ID `json:"next_after"`
	Scanned   int64    `json:"scanned"`
	Truncated bool     `json:"truncated"`
}

var errStopScan = errors.New("stop scan")

// maxSearchMarks bounds the continuation marks a Reads keeps.
const maxSearchMarks = 1024

// searchMarks remembers, for the cursors searches returned (next_after), each step's
// line count up to there, so that the next page starts at its cursor instead of
// reading the run again from its first event. A miss (another replica, an evicted
// mark) reads from the first event, with the same result.
type searchMarks struct {
	mu    sync.Mutex
	m     map[markKey]map[string]int64
	order []markKey // oldest first
}

type markKey struct {
	jobID string
	id    event.ID
}

func (s *searchMarks) get(jobID string, id event.ID) (map[string]int64, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	c, ok := s.m[markKey{jobID, id}]
	return maps.Clone(c), ok
}

func (s *searchMarks) put(jobID string, id event.ID, counts map[string]int64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.m == nil {
		s.m = map[markKey]map[string]int64{}
	}
	k := markKey{jobID, id}
	if _, ok := s.m[k]; !ok {
		s.order = append(s.order, k)
	}
	s.m[k] = maps.Clone(counts)
	if len(s.order) > maxSearchMarks {
		delete(s.m, s.order[0])
		s.order = s.order[1:]
	}
}

// Search scans the run from its first event (line numbers count every event of a
// step) — or from q.After when an earlier page left its counts there — and returns
// the matches after q.After, at most q.Limit. A scan stops at the limit, after
// SearchMaxScanned events or SearchMaxTime, and then says Truncated; NextAfter is the
// last id scanned, where the next page starts.
func (r *Reads) Search(ctx context.Context, jobID string, q SearchQuery) (SearchResult, error) {
	if err := q.Validate(); err != nil {
		return SearchResult{}, err
	}
	after := q.after
	needle := strings.ToLower(q.Q)
	// The deadline bounds all of the search's work: reading, the look at each chunk's
	// bytes, decoding and matching (each chunk's work is bounded by its 1 MiB).
	scanCtx, cancel := context.WithTimeout(ctx, cmp.Or(r.SearchTime, SearchMaxTime))
	defer cancel()
	res := SearchResult{Matches: []Match{}, NextAfter: after}
	lineNo := map[string]int64{}
	from := event.ID{}
	if counts, ok := r.marks.get(jobID, after); ok && !after.IsZero() {
		lineNo, from = counts, after
	}
	err := r.History.ScanFiltered(scanCtx, jobID, from, downloadPage, q.filter(needle), func(p history.Page) error {
		for i := range p.Events {
			e := &p.Events[i]
			step := summary.StepOf(e)
			lineNo[step] += history.Weight(e)
			if e.ID.Compare(after) <= 0 && !after.IsZero() {
				continue
			}
			res.Scanned += history.Weight(e)
			res.NextAfter = e.ID
			if !history.Skipped(e) && q.matches(e, needle) {
				res.Matches = append(res.Matches, Match{Event: *e, LineNo: lineNo[step]})
				if len(res.Matches) == q.Limit {
					return errStopScan
				}
			}
			if res.Scanned >= SearchMaxScanned || (i%1024 == 1023 && scanCtx.Err() != nil) {
				return errStopScan
			}
		}
		return nil
	})
	if errors.Is(err, errStopScan) || (err != nil && ctx.Err() == nil && scanCtx.Err() != nil) {
		res.Truncated = true // at the limit, or out of events or time
		err = nil
	}
	if err == nil && !res.NextAfter.IsZero() {
		r.marks.put(jobID, res.NextAfter, lineNo)
	}
	return res, err
}

// Match reports whether Search would keep e, for a client that filters events it
// already holds the way the search does.
func (q *SearchQuery) Match(e *event.Event) bool { return q.matches(e, strings.ToLower(q.Q)) }

func (q *SearchQuery) matches(e *event.Event, needle string) bool {
	switch {
	case q.Phase != "" && e.Phase != q.Phase,
		q.Pod != "" && e.Pod != q.Pod,
		q.Stream != "" && string(e.Stream) != q.Stream,
		q.Issues && summary.Classify(e) == summary.None:
		return false
	}
	return needle == "" || strings.Contains(strings.ToLower(e.Line), needle) || noticeMatches(e, needle)
}

// noticeMatches: a notice is also found by its reason and exit code (docs/api.md §8), so
// q=oomkilled finds the container_ended notice whatever its sentence says.
func noticeMatches(e *event.Event, needle string) bool {
	var reason string
	var code *int
	switch {
	case e.Ended != nil:
		reason, code = e.Ended.Reason, &e.Ended.ExitCode
	case e.Detail != nil:
		reason, code = e.Detail.Reason, e.Detail.ExitCode
	default:
		return false
	}
	if reason != "" && strings.Contains(strings.ToLower(reason), needle) {
		return true
	}
	return code != nil && needle == strconv.Itoa(*code)
}

// The two runes that lower-case to ASCII letters ("k", "i"), as UTF-8 and as a
// JSON escape (lowered, for containsFoldASCII).
var (
	kelvin, dottedI               = []byte("\u212a"), []byte("\u0130")
	kelvinEscaped, dottedIEscaped = []byte(`\u212a`), []byte(`\u0130`)
)

// issueWords are what the error/warning rules look for (summary.Classify), lowered:
// a chunk with none of them holds no issue.
var issueWords = [][]byte{[]byte("error"), []byte("fatal"), []byte("traceback"), []byte("warn"), []byte("exit code"),
	[]byte("exit status "), []byte("exited with "), []byte("exit_code="), []byte(`"notice":"k8s_event"`),
	[]byte(`"notice":"waiting"`)}

// filter tells which chunks may hold a match, so that a search decodes only those (the
// search at the speed of the bytes). With issues=1, a chunk the index counts no issue
// in holds no match, and is not even read; one it did not count (an older index) is
// looked at for the words of the rules. A query is looked for in the chunk's bytes as
// the chunk writes it — JSON-escaped, ASCII case folded. A query with other than ASCII
// letters is not looked for (Unicode case folding changes lengths), nor is one that
// the Kelvin sign or a dotted capital I could lower into (they lower to ASCII "k" and
// "i"): such a chunk is decoded.
func (q *SearchQuery) filter(needle string) *history.Filter {
	f := &history.Filter{}
	if q.Issues {
		f.Ref = func(ref chunk.Ref) bool { return !ref.IssuesKnown() || *ref.Issues > 0 }
	}
	var want []byte
	if needle != "" {
		for i := 0; i < len(needle); i++ {
			if needle[i] >= utf8.RuneSelf {
				needle = "" // not looked for in the bytes
				break
			}
		}
		if needle != "" {
			quoted := event.AppendJSONString(nil, needle)
			want = quoted[1 : len(quoted)-1]
		}
	}
	foldsToASCII := bytes.ContainsAny(want, "ki")
	f.Bytes = func(ref chunk.Ref, raw []byte) bool {
		if foldsToASCII && (containsFoldASCII(raw, kelvinEscaped) || containsFoldASCII(raw, dottedIEscaped) ||
			bytes.Contains(raw, kelvin) || bytes.Contains(raw, dottedI)) {
			return true
		}
		if want != nil && !containsFoldASCII(raw, want) {
			return false
		}
		if q.Issues && !ref.IssuesKnown() {
			for _, w := range issueWords {
				if containsFoldASCII(raw, w) {
					return true
				}
			}
			return false
		}
		return true
	}
	return f
}

// containsFoldASCII reports whether s holds sub (lower case ASCII) in any ASCII case.
func containsFoldASCII(s, sub []byte) bool { return fold.IndexBytes(s, sub) >= 0 }
