package spool

import (
	"bufio"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/blastlog/blastlog/ports"
	"github.com/blastlog/blastlog/ports/portstest"
)

func TestConformance(t *testing.T) {
	portstest.TestSpools(t, func(t *testing.T, max int64) func() ports.Spools {
		path := filepath.Join(t.TempDir(), "spool")
		return func() ports.Spools { return &Dir{Path: path, Max: max, SegmentMax: 8 << 10} }
	})
}

const pub = "0123456789abcdef"

func TestTornTailIsSkippedAndReported(t *testing.T) {
	path := t.TempDir()
	s, err := (&Dir{Path: path}).Create(pub)
	if err != nil {
		t.Fatal(err)
	}
	for first := int64(1); first <= 20; first += 10 {
		if err := s.Put(portstest.SpoolBatch("run-1", pub, first, 10, 5)); err != nil {
			t.Fatal(err)
		}
	}
	s.Close()
	seg := filepath.Join(path, segmentName(pub, 1))
	whole, err := os.ReadFile(seg)
	if err != nil {
		t.Fatal(err)
	}
	rec := encode(portstest.SpoolBatch("run-1", pub, 21, 10, 5))
	for name, torn := range map[string][]byte{
		"short header":  rec[:7],
		"short payload": rec[:len(rec)-3],
		"bad checksum":  append(append([]byte{}, rec[:len(rec)-1]...), rec[len(rec)-1]^0xff),
	} {
		t.Run(name, func(t *testing.T) {
			if err := os.WriteFile(seg, append(append([]byte{}, whole...), torn...), 0o600); err != nil {
				t.Fatal(err)
			}
			var skipped int64
			d := &Dir{Path: path, OnTorn: func(_ string, n int64) { skipped += n }}
			left, err := d.Leftovers()
			if err != nil || len(left) != 1 {
				t.Fatalf("%d %v", len(left), err)
			}
			b, ok, err := left[0].Oldest()
			if err != nil || !ok || len(b.Events) != 10 || b.Events[0].Seq != 1 {
				t.Fatalf("first batch: %v %v %+v", ok, err, b)
			}
			left[0].Ack()
			b, ok, _ = left[0].Oldest()
			if !ok || b.Events[0].Seq != 11 {
				t.Fatalf("second batch: %v %+v", ok, b)
			}
			left[0].Ack()
			if _, ok, _ := left[0].Oldest(); ok || skipped != int64(len(torn)) {
				t.Fatalf("torn record returned (%v) or not reported (%d of %d bytes)", ok, skipped, len(torn))
			}
			left[0].Close()
			if _, err := os.Stat(seg); !os.IsNotExist(err) {
				t.Fatalf("a read segment with a torn tail stays behind: %v", err)
			}
		})
	}
}

// TestCrashKeepsEveryPutThatReturned kills a writing process at random moments: every
// batch whose Put had returned is in the spool, in order, and nothing else is.
func TestCrashKeepsEveryPutThatReturned(t *testing.T) {
	if os.Getenv("SPOOL_CRASH_CHILD") != "" {
		crashChild()
		return
	}
	for round := 0; round < 5; round++ {
		path := t.TempDir()
		cmd := exec.Command(os.Args[0], "-test.run=^TestCrashKeepsEveryPutThatReturned$")
		cmd.Env = append(os.Environ(), "SPOOL_CRASH_CHILD="+path)
		out, _ := cmd.StdoutPipe()
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		sc := bufio.NewScanner(out)
		var acked int64
		deadline := time.After(time.Duration(20+round*30) * time.Millisecond)
	read:
		for sc.Scan() {
			if n, err := strconv.ParseInt(strings.TrimSpace(sc.Text()), 10, 64); err == nil {
				acked = n
			}
			select {
			case <-deadline:
				break read
			default:
			}
		}
		cmd.Process.Signal(syscall.SIGKILL)
		for sc.Scan() { // what it said before it died
			if n, err := strconv.ParseInt(strings.TrimSpace(sc.Text()), 10, 64); err == nil {
				acked = n
			}
		}
		cmd.Wait()
		left, err := (&Dir{Path: path}).Leftovers()
		if err != nil || len(left) != 1 {
			t.Fatalf("round %d: %d leftovers, %v", round, len(left), err)
		}
		var next int64 = 1
		for {
			b, ok, err := left[0].Oldest()
			if err != nil {
				t.Fatal(err)
			}
			if !ok {
				break
			}
			for _, e := range b.Events {
				if e.Seq != next {
					t.Fatalf("round %d: seq %d, want %d", round, e.Seq, next)
				}
				next++
			}
			left[0].Ack()
		}
		if next-1 < acked {
			t.Fatalf("round %d: %d lines survived, %d were put", round, next-1, acked)
		}
		left[0].Close()
	}
}

func crashChild() {
	s, err := (&Dir{Path: os.Getenv("SPOOL_CRASH_CHILD"), SegmentMax: 64 << 10}).Create(pub)
	if err != nil {
		panic(err)
	}
	for first := int64(1); ; first += 10 {
		if err := s.Put(portstest.SpoolBatch("run-1", pub, first, 10, 200)); err != nil {
			panic(err)
		}
		fmt.Println(first + 9)
	}
}

// FuzzSegment reads arbitrary bytes as a leftover segment: never a panic, never a
// batch that was not a whole checksummed record, and always an end.
func FuzzSegment(f *testing.F) {
	rec := encode(portstest.SpoolBatch("run-1", pub, 1, 2, 5))
	f.Add(rec)
	f.Add(append(append([]byte{}, rec...), rec[:20]...))
	f.Add([]byte("BLS1\xff\xff\xff\xff"))
	f.Fuzz(func(t *testing.T, data []byte) {
		path := t.TempDir()
		if err := os.WriteFile(filepath.Join(path, segmentName(pub, 1)), data, 0o600); err != nil {
			t.Fatal(err)
		}
		left, err := (&Dir{Path: path}).Leftovers()
		if err != nil || len(left) != 1 {
			t.Fatalf("%d %v", len(left), err)
		}
		for i := 0; ; i++ {
			if i > len(data)/headerSize {
				t.Fatal("more batches than the bytes can hold")
			}
			_, ok, err := left[0].Oldest()
			if err != nil {
				t.Fatal(err)
			}
			if !ok {
				break
			}
			if err := left[0].Ack(); err != nil {
				t.Fatal(err)
			}
		}
		left[0].Close()
	})
}

// A spool records the store it is for: a flush for another store leaves it alone and
// counts it in Elsewhere; one for the same store (or one that names none) takes it.
func TestSpoolKeepsToItsStore(t *testing.T) {
	path := t.TempDir()
	s, err := (&Dir{Path: path, Store: "redis a:6379/0 joblogs:"}).Create(pub)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Put(portstest.SpoolBatch("run-1", pub, 1, 3, 5)); err != nil {
		t.Fatal(err)
	}
	s.Close()
	other := &Dir{Path: path, Store: "redis b:6379/0 joblogs:"}
	if left, err := other.Leftovers(); err != nil || len(left) != 0 {
		t.Fatalf("another store took %d spools: %v", len(left), err)
	}
	if n, err := other.Elsewhere(); err != nil || len(n) != 1 || n["redis a:6379/0 joblogs:"] != 1 {
		t.Fatalf("elsewhere %v: %v", n, err)
	}
	same := &Dir{Path: path, Store: "redis a:6379/0 joblogs:"}
	if n, _ := same.Elsewhere(); len(n) != 0 {
		t.Fatalf("its own store counts it elsewhere: %v", n)
	}
	left, err := same.Leftovers()
	if err != nil || len(left) != 1 {
		t.Fatalf("its store found %d spools: %v", len(left), err)
	}
	for {
		_, ok, err := left[0].Oldest()
		if err != nil || !ok {
			break
		}
		left[0].Ack()
	}
	left[0].Close()
	if names, _ := os.ReadDir(path); len(names) != 0 {
		t.Fatalf("an emptied spool left %d files (%s…)", len(names), names[0].Name())
	}
}
