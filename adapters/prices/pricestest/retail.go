// Package pricestest is a stand-in of the Azure Retail Prices API for tests. It answers
// in the API's own shape: pages of Items with a NextPageLink, and for each item its
// armSkuName, armRegionName, skuName (spot and low priority as suffixes), productName
// (Windows is a product of its own), retailPrice, unitOfMeasure and type. It filters
// by the armRegionName and armSkuName of the $filter it is given.
package pricestest

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
)

// Price is one pay-as-you-go VM price the stand-in lists.
type Price struct {
	Region, Type string // armRegionName, armSkuName
	USD, Spot    float64
}

// RetailAPI is the running stand-in.
type RetailAPI struct {
	URL      string
	Requests atomic.Int64 // pages served
	PageSize int          // items per page (default 2, so that answers are paged)

	mu     sync.Mutex
	prices []Price
	fail   int // answer this status instead (0: none)
}

// New starts a stand-in listing prices, closed when t ends.
func New(t testing.TB, prices ...Price) *RetailAPI {
	a := &RetailAPI{prices: prices, PageSize: 2}
	srv := httptest.NewServer(http.HandlerFunc(a.serve))
	t.Cleanup(srv.Close)
	a.URL = srv.URL + "/api/retail/prices"
	return a
}

// Fail makes every answer status (0: answer again).
func (a *RetailAPI) Fail(status int) {
	a.mu.Lock()
	a.fail = status
	a.mu.Unlock()
}

var (
	regionRE = regexp.MustCompile(`armRegionName eq '([^']*)'`)
	skuRE    = regexp.MustCompile(`armSkuName eq '([^']*)'`)
)

type item struct {
	CurrencyCode         string  `json:"currencyCode"`
	TierMinimumUnits     float64 `json:"tierMinimumUnits"`
	RetailPrice          float64 `json:"retailPrice"`
	UnitPrice            float64 `json:"unitPrice"`
	ArmRegionName        string  `json:"armRegionName"`
	Location             string  `json:"location"`
	EffectiveStartDate   string  `json:"effectiveStartDate"`
	MeterID              string  `json:"meterId"`
	MeterName            string  `json:"meterName"`
	ProductID            string  `json:"productId"`
	SkuID                string  `json:"skuId"`
	ProductName          string  `json:"productName"`
	SkuName              string  `json:"skuName"`
	ServiceName          string  `json:"serviceName"`
	ServiceID            string  `json:"serviceId"`
	ServiceFamily        string  `json:"serviceFamily"`
	UnitOfMeasure        string  `json:"unitOfMeasure"`
	Type                 string  `json:"type"`
	IsPrimaryMeterRegion bool    `json:"isPrimaryMeterRegion"`
	ArmSkuName           string  `json:"armSkuName"`
	ReservationTerm      string  `json:"reservationTerm,omitempty"`
}

// items is what the API lists for one price: the Linux price, its spot and low
// priority meters, the Windows product, a dev/test price and a reservation.
func items(p Price) []item {
	sku := p.Type[len("Standard_"):]
	base := item{CurrencyCode: "USD", ArmRegionName: p.Region, Location: p.Region, EffectiveStartDate: "2024-01-01T00:00:00Z",
		ProductName: "Virtual Machines Series", ServiceName: "Virtual Machines", ServiceID: "DZH313Z7MMC8", ServiceFamily: "Compute",
		UnitOfMeasure: "1 Hour", Type: "Consumption", IsPrimaryMeterRegion: true, ArmSkuName: p.Type}
	with := func(skuName string, usd float64, f func(*item)) item {
		it := base
		it.SkuName, it.MeterName, it.RetailPrice, it.UnitPrice = skuName, skuName, usd, usd
		if f != nil {
			f(&it)
		}
		return it
	}
	return []item{
		with(sku+" Low Priority", p.USD/5, nil),
		with(sku, p.USD*1.8, func(it *item) { it.ProductName += " Windows" }),
		with(sku, p.USD, nil),
		with(sku, p.USD*0.6, func(it *item) { it.Type = "DevTestConsumption" }),
		with(sku, p.USD*8760*0.6, func(it *item) { it.Type, it.ReservationTerm, it.UnitOfMeasure = "Reservation", "1 Year", "1 Hour" }),
		with(sku+" Spot", p.Spot, nil),
	}
}

func (a *RetailAPI) serve(w http.ResponseWriter, r *http.Request) {
	a.Requests.Add(1)
	a.mu.Lock()
	fail, prices := a.fail, a.prices
	a.mu.Unlock()
	if fail != 0 {
		http.Error(w, http.StatusText(fail), fail)
		return
	}
	filter := r.URL.Query().Get("$filter")
	var region, sku string
	if m := regionRE.FindStringSubmatch(filter); m != nil {
		region = m[1]
	}
	if m := skuRE.FindStringSubmatch(filter); m != nil {
		sku = m[1]
	}
	var all []item
	for _, p := range prices {
		if (region == "" || p.Region == region) && (sku == "" || p.Type == sku) {
			all = append(all, items(p)...)
		}
	}
	skip, _ := strconv.Atoi(r.URL.Query().Get("$skip"))
	end := min(len(all), skip+a.PageSize)
	page := struct {
		BillingCurrency    string  `json:"BillingCurrency"`
		CustomerEntityID   string  `json:"CustomerEntityId"`
		CustomerEntityType string  `json:"CustomerEntityType"`
		Items              []item  `json:"Items"`
		NextPageLink       *string `json:"NextPageLink"`
		Count              int     `json:"Count"`
	}{BillingCurrency: "USD", CustomerEntityID: "Default", CustomerEntityType: "Retail", Items: []item{}}
	if skip < len(all) {
		page.Items = all[skip:end]
	}
	page.Count = len(page.Items)
	if end < len(all) {
		q := r.URL.Query()
		q.Set("$skip", strconv.Itoa(end))
		next := "http://" + r.Host + r.URL.Path + "?" + q.Encode()
		page.NextPageLink = &next
	}
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	json.NewEncoder(w).Encode(page)
}
