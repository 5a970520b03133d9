package spool

import (
	"bufio"
	"cmp"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/blastlog/blastlog/core/event"
	"github.com/blastlog/blastlog/ports"
)

// Defaults of Dir.
const (
	DefaultMax        = 256 << 20 // bytes per machine (docs/api.md §4)
	DefaultSegmentMax = 4 << 20   // bytes per segment before a new one starts
)

// maxRecord bounds one record's payload on reading: a larger length is a torn header.
const maxRecord = 64 << 20

const (
	headerSize  = 12
	lockSuffix  = ".lock"
	segSuffix   = ".seg"
	storeSuffix = ".store"
)

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// Dir is a spool directory. Zero values are defaults.
type Dir struct {
	Path       string
	Max        int64 // bytes of all segments in Path together: DefaultMax
	SegmentMax int64 // DefaultSegmentMax
	// OnTorn is told of a torn record skipped (its segment and the bytes skipped).
	OnTorn func(segment string, bytes int64)
	// Store names the store the lines are for (no secret in it): Create records it
	// beside the spool (<pub id>.store), and Leftovers leaves alone the spools recorded
	// for another (Elsewhere counts them), so that lines are never stored elsewhere
	// than where they were for. "" records nothing and takes every spool.
	Store string

	mu      sync.Mutex
	used    int64     // bytes of all segments at the last scan, plus this process's since
	scanned time.Time // when used was last read from the directory
}

var _ ports.Spools = (*Dir)(nil)

func (d *Dir) max() int64 { return cmp.Or(d.Max, DefaultMax) }

func (d *Dir) segmentMax() int64 { return cmp.Or(d.SegmentMax, DefaultSegmentMax) }

// Used returns the bytes the segments of every publisher on the machine hold now.
func (d *Dir) Used() (int64, error) {
	used, err := d.scan()
	if errors.Is(err, os.ErrNotExist) {
		return 0, nil
	}
	return used, err
}

// Create opens a new spool for pubID (a publisher id: 16 hex characters).
func (d *Dir) Create(pubID string) (ports.Spool, error) {
	if !event.ValidPubID(pubID) {
		return nil, fmt.Errorf("spool: bad publisher id %q", pubID)
	}
	if err := os.MkdirAll(d.Path, 0o700); err != nil {
		return nil, fmt.Errorf("spool: %w", err)
	}
	lock, ok, err := d.lock(pubID)
	if err != nil {
		return nil, err
	}
	if !ok {
		return nil, fmt.Errorf("spool: publisher id %s is in use", pubID)
	}
	if d.Store != "" {
		if err := writeSynced(filepath.Join(d.Path, pubID+storeSuffix), []byte(d.Store+"\n")); err != nil {
			lock.Close()
			return nil, err
		}
	}
	return &spool{dir: d, pubID: pubID, lock: lock}, nil
}

// Leftovers finds spools whose lock nobody holds and that have segments.
func (d *Dir) Leftovers() ([]ports.Spool, error) {
	names, err := os.ReadDir(d.Path)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("spool: %w", err)
	}
	segs := map[string][]segment{}
	for _, n := range names {
		if seg, ok := parseSegment(n.Name()); ok {
			segs[seg.pubID] = append(segs[seg.pubID], seg)
		}
	}
	var out []ports.Spool
	var oldest []time.Time
	for pubID, list := range segs {
		lock, ok, err := d.lock(pubID)
		if err != nil {
			return out, err
		}
		if !ok {
			continue // its publisher is still running
		}
		if store := d.storeOf(pubID); store != "" && d.Store != "" && store != d.Store {
			lock.Close()
			continue // for another store: Elsewhere
		}
		s := &spool{dir: d, pubID: pubID, lock: lock}
		var first time.Time
		for _, seg := range list {
			fi, err := os.Stat(filepath.Join(d.Path, seg.file))
			if err != nil {
				continue // taken by another flush between the listing and the lock
			}
			seg.size = fi.Size()
			if first.IsZero() || fi.ModTime().Before(first) {
				first = fi.ModTime()
			}
			s.segs = append(s.segs, seg)
		}
		if len(s.segs) == 0 {
			s.Close()
			continue
		}
		s.sortSegs()
		out = append(out, s)
		oldest = append(oldest, first)
	}
	sort.Sort(byTime{out, oldest})
	return out, nil
}

// storeOf is the store pubID's spool was recorded for ("" when none was).
func (d *Dir) storeOf(pubID string) string {
	b, err := os.ReadFile(filepath.Join(d.Path, pubID+storeSuffix))
	if err != nil {
		return ""
	}
	return strings.TrimSuffix(string(b), "\n")
}

// Elsewhere counts the spools with lines that were recorded for another store than
// Store, by that store: Leftovers leaves them alone.
func (d *Dir) Elsewhere() (map[string]int, error) {
	names, err := os.ReadDir(d.Path)
	if errors.Is(err, os.ErrNotExist) || d.Store == "" {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("spool: %w", err)
	}
	seen := map[string]bool{}
	out := map[string]int{}
	for _, n := range names {
		seg, ok := parseSegment(n.Name())
		if !ok || seen[seg.pubID] {
			continue
		}
		seen[seg.pubID] = true
		if store := d.storeOf(seg.pubID); store != "" && store != d.Store {
			out[store]++
		}
	}
	return out, nil
}

// writeSynced writes a small file and syncs it and its directory.
func writeSynced(path string, b []byte) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return fmt.Errorf("spool: %w", err)
	}
	_, err = f.Write(b)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("spool: %w", err)
	}
	return syncDir(filepath.Dir(path))
}

type byTime struct {
	s []ports.Spool
	t []time.Time
}

func (b byTime) Len() int           { return len(b.s) }
func (b byTime) Less(i, j int) bool { return b.t[i].Before(b.t[j]) }
func (b byTime) Swap(i, j int) {
	b.s[i], b.s[j] = b.s[j], b.s[i]
	b.t[i], b.t[j] = b.t[j], b.t[i]
}

// lock takes pubID's lock file without waiting; ok is false when another holds it.
func (d *Dir) lock(pubID string) (*os.File, bool, error) {
	f, err := os.OpenFile(filepath.Join(d.Path, pubID+lockSuffix), os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, false, fmt.Errorf("spool: %w", err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		f.Close()
		if errors.Is(err, syscall.EWOULDBLOCK) {
			return nil, false, nil
		}
		return nil, false, fmt.Errorf("spool: locking: %w", err)
	}
	return f, true, nil
}

// reserve accounts n more bytes against the machine's cap, reading what every
// publisher's segments hold at most once a second.
func (d *Dir) reserve(n int64) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.scanned.IsZero() || time.Since(d.scanned) > time.Second {
		used, err := d.scan()
		if err != nil {
			return err
		}
		d.used, d.scanned = used, time.Now()
	}
	if d.used+n > d.max() {
		return ports.ErrSpoolFull
	}
	d.used += n
	return nil
}

func (d *Dir) release(n int64) {
	d.mu.Lock()
	d.used -= n
	d.mu.Unlock()
}

func (d *Dir) scan() (int64, error) {
	names, err := os.ReadDir(d.Path)
	if err != nil {
		return 0, fmt.Errorf("spool: %w", err)
	}
	var used int64
	for _, n := range names {
		if !strings.HasSuffix(n.Name(), segSuffix) {
			continue
		}
		if fi, err := n.Info(); err == nil {
			used += fi.Size()
		}
	}
	return used, nil
}

// segment is one segment file and how far it has been read.
type segment struct {
	pubID    string
	firstSeq int64
	file     string
	size     int64 // bytes of whole records
	read     int64 // offset of the first record not acknowledged
	lastSeq  int64 // highest Seq put into it by this process
	torn     bool  // reading found a torn record at read
}

func segmentName(pubID string, firstSeq int64) string {
	return fmt.Sprintf("%s-%020d%s", pubID, firstSeq, segSuffix)
}

func parseSegment(name string) (segment, bool) {
	base, ok := strings.CutSuffix(name, segSuffix)
	if !ok {
		return segment{}, false
	}
	pubID, seq, ok := strings.Cut(base, "-")
	if !ok || !event.ValidPubID(pubID) {
		return segment{}, false
	}
	n, err := strconv.ParseInt(seq, 10, 64)
	if err != nil || n < 0 {
		return segment{}, false
	}
	return segment{pubID: pubID, firstSeq: n, file: name}, true
}

// spool is one publisher's spool.
type spool struct {
	dir   *Dir
	pubID string

	mu     sync.Mutex
	lock   *os.File
	segs   []segment // by firstSeq
	w      *os.File  // the open segment of segs[wi]
	wi     int
	last   string // segment of the batch Oldest returned last, "" none
	lastN  int64  // its record's length
	closed bool
}

func (s *spool) sortSegs() {
	sort.Slice(s.segs, func(i, j int) bool { return s.segs[i].firstSeq < s.segs[j].firstSeq })
}

func (s *spool) path(seg segment) string { return filepath.Join(s.dir.Path, seg.file) }

func (s *spool) Put(b ports.SpoolBatch) error {
	if len(b.Events) == 0 {
		return nil
	}
	first, last := b.Events[0].Seq, b.Events[len(b.Events)-1].Seq
	rec := encode(b)
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return errors.New("spool: closed")
	}
	if err := s.dir.reserve(int64(len(rec))); err != nil {
		return err
	}
	if err := s.write(first, last, rec); err != nil {
		s.dir.release(int64(len(rec)))
		return err
	}
	return nil
}

// write appends rec to the open segment, or starts a new one when the open one is
// full or rec belongs ahead of it.
func (s *spool) write(first, last int64, rec []byte) error {
	if s.w == nil || s.segs[s.wi].size+int64(len(rec)) > s.dir.segmentMax() || first <= s.segs[s.wi].lastSeq {
		if err := s.startSegment(first); err != nil {
			return err
		}
	}
	seg := &s.segs[s.wi]
	if _, err := s.w.WriteAt(rec, seg.size); err != nil {
		s.w.Truncate(seg.size) // no torn record left behind while we live
		return fmt.Errorf("spool: writing: %w", err)
	}
	if err := s.w.Sync(); err != nil {
		s.w.Truncate(seg.size)
		return fmt.Errorf("spool: syncing: %w", err)
	}
	seg.size += int64(len(rec))
	seg.lastSeq = last
	return nil
}

func (s *spool) startSegment(first int64) error {
	seg := segment{pubID: s.pubID, firstSeq: first, file: segmentName(s.pubID, first)}
	f, err := os.OpenFile(s.path(seg), os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return fmt.Errorf("spool: %w", err)
	}
	if err := syncDir(s.dir.Path); err != nil {
		f.Close()
		os.Remove(s.path(seg))
		return err
	}
	if s.w != nil {
		s.w.Close()
	}
	s.segs = append(s.segs, seg)
	s.sortSegs()
	s.w = f
	for i := range s.segs {
		if s.segs[i].file == seg.file {
			s.wi = i
		}
	}
	return nil
}

func syncDir(path string) error {
	d, err := os.Open(path)
	if err != nil {
		return fmt.Errorf("spool: %w", err)
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return fmt.Errorf("spool: syncing the directory: %w", err)
	}
	return nil
}

func (s *spool) Oldest() (ports.SpoolBatch, bool, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.last = ""
	for i := range s.segs {
		seg := &s.segs[i]
		if seg.torn || seg.read >= seg.size {
			continue
		}
		b, n, err := s.readAt(seg)
		if errors.Is(err, errTorn) {
			seg.torn = true
			if s.dir.OnTorn != nil {
				s.dir.OnTorn(seg.file, seg.size-seg.read)
			}
			continue
		}
		if err != nil {
			return ports.SpoolBatch{}, false, err
		}
		s.last, s.lastN = seg.file, n
		return b, true, nil
	}
	return ports.SpoolBatch{}, false, nil
}

var errTorn = errors.New("torn record")

func (s *spool) readAt(seg *segment) (ports.SpoolBatch, int64, error) {
	f, err := os.Open(s.path(*seg))
	if err != nil {
		return ports.SpoolBatch{}, 0, fmt.Errorf("spool: %w", err)
	}
	defer f.Close()
	r := bufio.NewReader(io.NewSectionReader(f, seg.read, seg.size-seg.read))
	var h [headerSize]byte
	if _, err := io.ReadFull(r, h[:]); err != nil {
		return ports.SpoolBatch{}, 0, errTorn
	}
	n := binary.BigEndian.Uint32(h[4:8])
	decode := map[string]func([]byte) (ports.SpoolBatch, error){magicCompact: decodeCompact, magicJSON: decodeJSON}[string(h[:4])]
	if decode == nil || n > maxRecord {
		return ports.SpoolBatch{}, 0, errTorn
	}
	payload := make([]byte, n)
	if _, err := io.ReadFull(r, payload); err != nil || crcOf(payload) != binary.BigEndian.Uint32(h[8:12]) {
		return ports.SpoolBatch{}, 0, errTorn
	}
	b, err := decode(payload)
	if err != nil {
		return ports.SpoolBatch{}, 0, errTorn
	}
	return b, int64(headerSize) + int64(n), nil
}

func (s *spool) Ack() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	var seg *segment
	for i := range s.segs {
		if s.segs[i].file == s.last {
			seg = &s.segs[i]
		}
	}
	if seg == nil {
		return errors.New("spool: Ack without Oldest")
	}
	seg.read += s.lastN
	s.last = ""
	if seg.read < seg.size || (s.w != nil && seg.file == s.segs[s.wi].file) {
		return nil // more to read, or still being written
	}
	return s.removeSegment(seg)
}

// removeSegment deletes a segment read to its end.
func (s *spool) removeSegment(seg *segment) error {
	if err := os.Remove(s.path(*seg)); err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("spool: %w", err)
	}
	s.dir.release(seg.size)
	open := ""
	if s.w != nil {
		open = s.segs[s.wi].file
	}
	name := seg.file
	kept := s.segs[:0]
	for _, g := range s.segs {
		if g.file != name {
			kept = append(kept, g)
		}
	}
	s.segs = kept
	for i := range s.segs {
		if s.segs[i].file == open {
			s.wi = i
		}
	}
	return nil
}

func (s *spool) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return nil
	}
	s.closed = true
	if s.w != nil {
		s.w.Close()
		s.w = nil
	}
	var firstErr error
	empty := true
	for i := len(s.segs) - 1; i >= 0; i-- {
		seg := &s.segs[i]
		if seg.read < seg.size && !seg.torn {
			empty = false
			continue
		}
		if err := s.removeSegment(seg); err != nil && firstErr == nil {
			firstErr = err
		}
	}
	if empty {
		// Nothing left: no lock file either. Removed while held, so a flush that opens
		// it now locks a file nobody will look for again.
		os.Remove(filepath.Join(s.dir.Path, s.pubID+storeSuffix))
		os.Remove(s.lock.Name())
	}
	s.lock.Close()
	return firstErr
}
