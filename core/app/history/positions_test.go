package history_test

import (
	"context"
	"errors"
	"fmt"
	"testing"

	"github.com/blastlog/blastlog/core/app/history"
	"github.com/blastlog/blastlog/ports"
)

// Every resume point and every page size, with and without a recorded gap: each event
// after the point once, in id order, and the gap said once, where it is (first, when
// the point is inside it). Before, at every point, is the n events before it.
func TestEveryResumePointAndPageSize(t *testing.T) {
	for _, gap := range [][2]int{{}, {20, 30}, {50, 58}} {
		f := newFixture(t, 100, 80, 61, gap)
		r := f.reader(true)
		lost := func(i int) bool { return gap[1] > 0 && i > gap[0] && i < gap[1] }
		for from := 0; from <= 100; from++ {
			for _, size := range []int{1, 2, 7, 13, 100} {
				got, gaps := scan(t, r, f.id(from), size)
				var want []int
				for i := from + 1; i <= 100; i++ {
					if !lost(i) {
						want = append(want, i)
					}
				}
				if fmt.Sprint(got) != fmt.Sprint(want) {
					t.Fatalf("gap %v, from %d, size %d: got %v", gap, from, size, got)
				}
				wantGaps := "[]"
				switch {
				case gap[1] == 0 || from >= gap[1]:
				case from >= gap[0]:
					// At its start or inside it: first (the reader cannot tell which of
					// the lost events the viewer had, so it says the range after its point).
					wantGaps = "[0]"
				default:
					wantGaps = fmt.Sprintf("[%d]", gap[0])
				}
				if fmt.Sprint(gaps) != wantGaps {
					t.Fatalf("gap %v, from %d, size %d: gaps after %v, want %s", gap, from, size, gaps, wantGaps)
				}
			}
			if from == 0 {
				continue
			}
			for _, n := range []int{1, 5, 40} {
				evs, err := r.Before(context.Background(), "run", f.id(from), n)
				if err != nil {
					t.Fatal(err)
				}
				var want []int
				for i := from - 1; i >= 1 && len(want) < n; i-- {
					if !lost(i) {
						want = append([]int{i}, want...)
					}
				}
				var got []int
				for _, e := range evs {
					var k int
					fmt.Sscanf(e.Line, "line %d", &k)
					got = append(got, k)
				}
				if fmt.Sprint(got) != fmt.Sprint(want) {
					t.Fatalf("gap %v: Before(%d, %d) = %v, want %v", gap, from, n, got, want)
				}
			}
		}
	}
}

// An archive that does not answer is an error that says so, never a gap or a run
// that seems shorter: what only the archive holds cannot be read now, and the caller
// is told.
func TestArchiveDownIsAnErrorNotAGap(t *testing.T) {
	f := newFixture(t, 100, 80, 61, [2]int{})
	f.arch.SetDown(true)
	var events, gaps int
	err := f.reader(true).Scan(context.Background(), "run", f.id(10), 20, func(p history.Page) error {
		events += len(p.Events)
		if p.Gap != nil {
			gaps++
		}
		return nil
	})
	if !errors.Is(err, ports.ErrUnavailable) || events != 0 || gaps != 0 {
		t.Fatalf("scan with the archive down: %d events, %d gaps, %v", events, gaps, err)
	}
	// Up again: the same scan is whole.
	f.arch.SetDown(false)
	got, g := scan(t, f.reader(true), f.id(10), 20)
	wantRange(t, got, 11, 100)
	if len(g) != 0 {
		t.Fatalf("gaps %v", g)
	}
}

// Read page by page, each resumed at the last id it gave (as a viewer's catch-up
// does), is the scan: the same events once, the recorded gap once, End only on the
// last page.
func TestReadPagesResumeExactly(t *testing.T) {
	f := newFixture(t, 100, 80, 61, [2]int{20, 30})
	r := f.reader(true)
	for _, size := range []int{1, 9, 64} {
		var got []int
		gaps := 0
		after := f.id(0)
		for page := 0; ; page++ {
			if page > 200 {
				t.Fatalf("size %d: no end after %d pages", size, page)
			}
			p, err := r.Read(context.Background(), "run", after, size)
			if err != nil {
				t.Fatal(err)
			}
			if p.Gap != nil {
				gaps++
			}
			for _, e := range p.Events {
				var n int
				fmt.Sscanf(e.Line, "line %d", &n)
				got = append(got, n)
			}
			if len(p.Events) > 0 {
				after = p.Events[len(p.Events)-1].ID
			} else if p.Gap != nil {
				after, _ = p.Gap.FirstAvailable.Prev()
			}
			if p.End {
				break
			}
		}
		wantRange(t, got, 1, 100, [2]int{20, 30})
		if gaps != 1 {
			t.Fatalf("size %d: %d gaps", size, gaps)
		}
	}
}
