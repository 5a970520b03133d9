package prices

import (
	"context"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/blastlog/blastlog/adapters/prices/pricestest"
	"github.com/blastlog/blastlog/core/target"
)

func TestFilePrices(t *testing.T) {
	f, err := ParseFile([]byte(`{"Standard_E32s_v3": 2.016, "Standard_E32s_v3/spot": 0.40}`))
	if err != nil {
		t.Fatal(err)
	}
	p, _ := f.Prices(context.Background(), []target.Node{
		{InstanceType: "Standard_E32s_v3"}, {InstanceType: "Standard_E32s_v3", Spot: true}, {InstanceType: "Standard_D8s_v5"}})
	if p.Source != "file" || len(p.USD) != 2 || p.USD["Standard_E32s_v3"] != 2.016 || p.USD["Standard_E32s_v3/spot"] != 0.40 {
		t.Fatalf("prices = %+v", p)
	}
	for _, bad := range []string{`[]`, `{"x": -1}`, `{"": 1}`, `{"x": "1"}`} {
		if _, err := ParseFile([]byte(bad)); err == nil {
			t.Errorf("%s: no error", bad)
		}
	}
}

// clock is a settable time for the cache.
type clock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *clock) Now() time.Time      { c.mu.Lock(); defer c.mu.Unlock(); return c.now }
func (c *clock) Add(d time.Duration) { c.mu.Lock(); c.now = c.now.Add(d); c.mu.Unlock() }
func newClock() *clock               { return &clock{now: time.Date(2026, 12, 7, 10, 0, 0, 0, time.UTC)} }
func node(typ, region string, spot bool) target.Node {
	return target.Node{Name: "n", InstanceType: typ, Region: region, Spot: spot}
}

func TestAzurePricesFromTheRetailAPI(t *testing.T) {
	api := pricestest.New(t,
		pricestest.Price{Region: "eastus", Type: "Standard_E32s_v3", USD: 2.016, Spot: 0.4032},
		pricestest.Price{Region: "westeurope", Type: "Standard_E32s_v3", USD: 2.208, Spot: 0.4416},
		pricestest.Price{Region: "eastus", Type: "Standard_D8s_v5", USD: 0.384, Spot: 0.0768})
	clk := newClock()
	a := &Azure{URL: api.URL, Now: clk.Now}
	ctx := context.Background()
	p, err := a.Prices(ctx, []target.Node{node("Standard_E32s_v3", "eastus", false), node("Standard_E32s_v3", "eastus", true),
		node("Standard_M416ms_v2", "eastus", false), node("Standard_D8s_v5", "", false)})
	if err != nil {
		t.Fatal(err)
	}
	// The Linux pay-as-you-go and spot prices, read across pages (the stand-in pages by 2
	// items and lists Windows, low priority, dev/test and reservation prices too); an
	// unlisted type and a node without a region are left unpriced.
	if p.Source != "azure" || len(p.USD) != 2 || p.USD["Standard_E32s_v3"] != 2.016 || p.USD["Standard_E32s_v3/spot"] != 0.4032 {
		t.Fatalf("prices = %+v", p)
	}
	if n := api.Requests.Load(); n != 3+1 {
		t.Fatalf("%d pages read, want 3 for E32s_v3 (6 items by 2) and 1 for M416ms_v2", n)
	}
	// The region counts.
	if p, _ := a.Prices(ctx, []target.Node{node("Standard_E32s_v3", "westeurope", false)}); p.USD["Standard_E32s_v3"] != 2.208 {
		t.Fatalf("westeurope = %+v", p)
	}
	// Kept for 24 h, then read again.
	before := api.Requests.Load()
	clk.Add(KeepFor - time.Second)
	a.Prices(ctx, []target.Node{node("Standard_E32s_v3", "eastus", false)})
	if api.Requests.Load() != before {
		t.Fatal("a kept price was read again")
	}
	clk.Add(2 * time.Second)
	a.Prices(ctx, []target.Node{node("Standard_E32s_v3", "eastus", false)})
	if api.Requests.Load() == before {
		t.Fatal("a price over 24 h old was not read again")
	}
}

func TestAzurePricesWhenTheAPIFails(t *testing.T) {
	api := pricestest.New(t, pricestest.Price{Region: "eastus", Type: "Standard_E32s_v3", USD: 2.016, Spot: 0.4032})
	api.Fail(http.StatusTooManyRequests)
	clk := newClock()
	a := &Azure{URL: api.URL, Now: clk.Now}
	n := []target.Node{node("Standard_E32s_v3", "eastus", false)}
	p, err := a.Prices(context.Background(), n)
	if err == nil || !strings.Contains(err.Error(), "429") || len(p.USD) != 0 {
		t.Fatalf("prices %+v, error %v", p, err)
	}
	// A failure is not asked again at once (every summary read would), but after a minute.
	api.Fail(0)
	if _, err := a.Prices(context.Background(), n); err == nil {
		t.Fatal("the failure was not kept")
	}
	clk.Add(keepFailure)
	if p, err := a.Prices(context.Background(), n); err != nil || p.USD["Standard_E32s_v3"] != 2.016 {
		t.Fatalf("after a minute: %+v, %v", p, err)
	}
}

func TestAzurePricesOneReadForManyAskers(t *testing.T) {
	var hits atomic.Int64
	release := make(chan struct{})
	api := pricestest.New(t, pricestest.Price{Region: "eastus", Type: "Standard_E32s_v3", USD: 2.016, Spot: 0.4032})
	api.PageSize = 100
	a := &Azure{URL: api.URL, Client: &http.Client{Transport: roundTrip(func(r *http.Request) (*http.Response, error) {
		hits.Add(1)
		<-release
		return http.DefaultTransport.RoundTrip(r)
	})}}
	var wg sync.WaitGroup
	for range 20 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if p, err := a.Prices(context.Background(), []target.Node{node("Standard_E32s_v3", "eastus", false)}); err != nil || p.USD["Standard_E32s_v3"] != 2.016 {
				t.Errorf("%+v, %v", p, err)
			}
		}()
	}
	time.Sleep(50 * time.Millisecond) // let them queue on the one read
	close(release)
	wg.Wait()
	if hits.Load() != 1 {
		t.Fatalf("%d reads for 20 askers of one kind", hits.Load())
	}
}

type roundTrip func(*http.Request) (*http.Response, error)

func (f roundTrip) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }
