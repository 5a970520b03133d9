package httpapi

import "github.com/prometheus/client_golang/prometheus"

// Metrics are the counters and gauges of CONTRACT §3's /metrics.
type Metrics struct {
	Tickets *prometheus.CounterVec // issue and redeem outcomes by reason
}

// NewMetrics registers the metrics on reg.
func NewMetrics(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		Tickets: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "blastlog", Name: "tickets_total",
			Help: "Ticket requests and redemptions by outcome.",
		}, []string{"op", "outcome"}),
	}
	reg.MustRegister(m.Tickets)
	return m
}
