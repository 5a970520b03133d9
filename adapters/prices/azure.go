package prices

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"golang.org/x/sync/singleflight"

	"github.com/blastlog/blastlog/core/diagnose"
	"github.com/blastlog/blastlog/core/target"
	"github.com/blastlog/blastlog/ports"
)

// DefaultAzureURL is the public Azure Retail Prices API (BLASTLOG_PRICES_URL
// overrides it).
const DefaultAzureURL = "https://prices.azure.com/api/retail/prices"

// Bounds of the Retail Prices API's use.
const (
	KeepFor       = 24 * time.Hour   // a region's price of an instance type is read again after this
	keepFailure   = time.Minute      // a failed read is not tried again before this
	maxPages      = 10               // pages followed per instance type and region
	maxPage       = 4 << 20          // bytes per page
	maxKinds      = 4096             // instance types × regions kept
	requestBudget = 20 * time.Second // one lookup, every page
)

// Azure reads pay-as-you-go Linux prices from the Azure Retail Prices API: one query
// per instance type and region (Virtual Machines, Consumption, "1 Hour"), the spot
// price from the same answer's "<sku> Spot" item, each kept for KeepFor.
type Azure struct {
	URL    string       // DefaultAzureURL when empty
	Client *http.Client // http.DefaultClient when nil
	Now    func() time.Time

	group singleflight.Group
	mu    sync.Mutex
	kept  map[string]azureKind // by region + "/" + instance type
}

var _ ports.PriceBook = (*Azure)(nil)

// azureKind is what was read of one instance type in one region.
type azureKind struct {
	at              time.Time
	err             error   // the read failed (kept keepFailure)
	usd, spot       float64 // per hour
	hasUSD, hasSpot bool    // a price was listed
}

func (a *Azure) now() time.Time {
	if a.Now != nil {
		return a.Now()
	}
	return time.Now()
}

// Prices implements ports.PriceBook. A node without a region or an instance type is
// left unpriced; the first error is returned beside what could be read.
func (a *Azure) Prices(ctx context.Context, nodes []target.Node) (diagnose.Prices, error) {
	out := diagnose.Prices{USD: map[string]float64{}, Source: "azure"}
	var first error
	for _, n := range nodes {
		if n.InstanceType == "" || n.Region == "" {
			continue
		}
		k, err := a.kind(ctx, n.Region, n.InstanceType)
		if err != nil {
			if first == nil {
				first = err
			}
			continue
		}
		switch {
		case n.Spot && k.hasSpot:
			out.USD[diagnose.PriceKey(n.InstanceType, true)] = k.spot
		case !n.Spot && k.hasUSD:
			out.USD[diagnose.PriceKey(n.InstanceType, false)] = k.usd
		}
	}
	return out, first
}

// kind is the kept read of an instance type in a region, read now when it is not kept
// (one read at a time per kind, however many ask).
func (a *Azure) kind(ctx context.Context, region, typ string) (azureKind, error) {
	key := region + "/" + typ
	a.mu.Lock()
	k, ok := a.kept[key]
	a.mu.Unlock()
	if ok && (k.err == nil && a.now().Sub(k.at) < KeepFor || k.err != nil && a.now().Sub(k.at) < keepFailure) {
		return k, k.err
	}
	v, _, _ := a.group.Do(key, func() (any, error) {
		// The read is the kind's, not the asker's: one reader that gives up does not
		// fail the others waiting on it.
		rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), requestBudget)
		defer cancel()
		k := a.read(rctx, region, typ)
		k.at = a.now()
		a.mu.Lock()
		if a.kept == nil || len(a.kept) >= maxKinds {
			a.kept = map[string]azureKind{}
		}
		a.kept[key] = k
		a.mu.Unlock()
		return k, nil
	})
	k = v.(azureKind)
	return k, k.err
}

// azurePage is the part of a Retail Prices API page read here.
type azurePage struct {
	Items []struct {
		ArmSkuName    string  `json:"armSkuName"`
		ArmRegionName string  `json:"armRegionName"`
		SkuName       string  `json:"skuName"`
		ProductName   string  `json:"productName"`
		RetailPrice   float64 `json:"retailPrice"`
		UnitOfMeasure string  `json:"unitOfMeasure"`
		Type          string  `json:"type"`
		CurrencyCode  string  `json:"currencyCode"`
	} `json:"Items"`
	NextPageLink string `json:"NextPageLink"`
}

// read queries one instance type in one region and follows its pages.
func (a *Azure) read(ctx context.Context, region, typ string) azureKind {
	base := a.URL
	if base == "" {
		base = DefaultAzureURL
	}
	u, err := url.Parse(base)
	if err != nil {
		return azureKind{err: fmt.Errorf("prices: %w", err)}
	}
	q := u.Query()
	// Filter values are case-sensitive; ARM names are as the node labels give them.
	q.Set("$filter", fmt.Sprintf("serviceName eq 'Virtual Machines' and priceType eq 'Consumption' and armRegionName eq '%s' and armSkuName eq '%s'",
		odataString(region), odataString(typ)))
	u.RawQuery = q.Encode()
	var k azureKind
	next := u.String()
	for page := 0; next != "" && page < maxPages; page++ {
		p, err := a.page(ctx, next)
		if err != nil {
			return azureKind{err: err}
		}
		for _, it := range p.Items {
			if it.ArmSkuName != typ || it.ArmRegionName != region || it.Type != "Consumption" || it.UnitOfMeasure != "1 Hour" ||
				it.CurrencyCode != "" && it.CurrencyCode != "USD" ||
				strings.Contains(it.ProductName, "Windows") || strings.HasSuffix(it.SkuName, " Low Priority") || it.RetailPrice < 0 {
				continue
			}
			if strings.HasSuffix(it.SkuName, " Spot") {
				k.spot, k.hasSpot = it.RetailPrice, true
			} else {
				k.usd, k.hasUSD = it.RetailPrice, true
			}
		}
		next = ""
		if p.NextPageLink != "" {
			if n, err := url.Parse(p.NextPageLink); err == nil && n.Scheme == u.Scheme && n.Host == u.Host {
				next = n.String() // never a link elsewhere
			}
		}
	}
	return k
}

// page reads one page.
func (a *Azure) page(ctx context.Context, link string) (azurePage, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, link, nil)
	if err != nil {
		return azurePage{}, fmt.Errorf("prices: %w", err)
	}
	req.Header.Set("Accept", "application/json")
	c := a.Client
	if c == nil {
		c = http.DefaultClient
	}
	resp, err := c.Do(req)
	if err != nil {
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err // the URL is ours and long; the cause is what matters
		}
		return azurePage{}, fmt.Errorf("prices: the Azure Retail Prices API did not answer: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		io.Copy(io.Discard, io.LimitReader(resp.Body, maxPage))
		return azurePage{}, fmt.Errorf("prices: the Azure Retail Prices API answered %s", resp.Status)
	}
	var p azurePage
	if err := json.NewDecoder(io.LimitReader(resp.Body, maxPage)).Decode(&p); err != nil {
		return azurePage{}, fmt.Errorf("prices: the Azure Retail Prices API's answer is not a page of prices: %w", err)
	}
	return p, nil
}

// odataString escapes a value for a quoted OData string.
func odataString(s string) string { return strings.ReplaceAll(s, "'", "''") }
