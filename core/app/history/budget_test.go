package history_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/blastlog/blastlog/core/app/history"
	"github.com/blastlog/blastlog/core/chunk"
	"github.com/blastlog/blastlog/core/event"
	"github.com/blastlog/blastlog/ports/portstest"
)

// Scans share the budget: with room for one scan and two chunks fetched ahead, four
// scans at once each read the whole run, never more than three chunks load at once,
// and every byte is given back. A scan whose caller goes away while it waits gives up.
func TestScansShareTheBudget(t *testing.T) {
	ctx := context.Background()
	arch := &countingArchive{Archive: portstest.NewArchive()}
	idx := chunk.NewIndex("run")
	si := &chunk.StepIndex{}
	idx.Steps["running"] = si
	for seq := range 60 {
		var evs []event.Event
		for i := range 50 {
			e := portstest.Event("run", fmt.Sprintf("line %d", seq*50+i))
			e.Phase, e.ID = "running", event.ID{MS: uint64(1 + seq*50 + i)}
			evs = append(evs, e)
		}
		c := chunk.Chunk{SchemaVersion: 1, JobID: "run", Step: "running", Sequence: seq, Events: evs}
		if err := arch.PutChunk(ctx, c); err != nil {
			t.Fatal(err)
		}
		si.Chunks = append(si.Chunks, chunk.RefOf(&c))
	}
	if _, err := arch.PutIndex(ctx, idx, ""); err != nil {
		t.Fatal(err)
	}
	budget := history.NewBudget(history.ScanBytes + 2*history.LoadBytes)
	r := &history.Reader{Log: portstest.NewEventLog(0), Archive: arch, Index: arch, Budget: budget}
	var wg sync.WaitGroup
	counts := make([]int, 4)
	for i := range counts {
		wg.Go(func() {
			err := r.Scan(ctx, "run", event.ID{}, 500, func(p history.Page) error {
				counts[i] += len(p.Events)
				if budget.Used() > history.ScanBytes+2*history.LoadBytes {
					return fmt.Errorf("%d bytes taken", budget.Used())
				}
				return nil
			})
			if err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	for i, n := range counts {
		if n != 3000 {
			t.Errorf("scan %d read %d events, want 3000", i, n)
		}
	}
	// Chunks still fetched ahead when a scan ends hold their bytes until they are loaded.
	for deadline := time.Now().Add(10 * time.Second); budget.Used() != 0 && time.Now().Before(deadline); {
		time.Sleep(time.Millisecond)
	}
	if arch.most > 3 || budget.Used() != 0 {
		t.Fatalf("%d chunk loads at once (want at most 3), %d bytes still taken", arch.most, budget.Used())
	}
	// One scan holds the budget; another waits, and gives up when its caller goes.
	hold, release := make(chan struct{}), make(chan struct{})
	go r.Scan(ctx, "run", event.ID{}, 500, func(history.Page) error { close(hold); <-release; return errors.New("done") })
	<-hold
	gone, cancel := context.WithTimeout(ctx, 20*time.Millisecond)
	defer cancel()
	if err := r.Scan(gone, "run", event.ID{}, 500, func(history.Page) error { return nil }); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("a scan waiting for the budget: %v", err)
	}
	close(release)
}
