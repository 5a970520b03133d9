package httpapi

import "github.com/prometheus/client_golang/prometheus"

// Metrics are the counters and gauges of docs/api.md §3's /metrics.
type Metrics struct {
	Tickets     *prometheus.CounterVec // issue and redeem outcomes by reason
	OpenStreams prometheus.Gauge
	Delivered   prometheus.Counter // log events written to SSE clients
	HubReaders  prometheus.Gauge   // runs the hub follows
	CatchUps    prometheus.Counter // viewers that fell behind and read the log
	Gaps        prometheus.Counter // gap events sent

	ArchiveLag    prometheus.Gauge       // events read by the archiver and not yet in an index
	ArchiveErrors *prometheus.CounterVec // failed archive writes (retried), by op
	ArchiveChunks prometheus.Counter
	ArchiveRuns   prometheus.Gauge

	NotifySent     *prometheus.CounterVec // notifications delivered, by kind
	NotifyFailures *prometheus.CounterVec // failed attempts (retried or not), by kind
	NotifyDropped  prometheus.Counter     // news a full queue refused (offered again 2 s later)
}

// NewMetrics registers the metrics on reg.
func NewMetrics(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		Tickets: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: "blastlog", Name: "tickets_total",
			Help: "Ticket requests and redemptions by outcome."}, []string{"op", "outcome"}),
		OpenStreams: prometheus.NewGauge(prometheus.GaugeOpts{Namespace: "blastlog", Name: "sse_open_streams",
			Help: "Open SSE connections."}),
		Delivered: prometheus.NewCounter(prometheus.CounterOpts{Namespace: "blastlog", Name: "sse_events_delivered_total",
			Help: "Log events written to SSE clients."}),
		HubReaders: prometheus.NewGauge(prometheus.GaugeOpts{Namespace: "blastlog", Name: "hub_runs_watched",
			Help: "Runs the shared reader follows (one Redis read each, whatever the number of viewers)."}),
		CatchUps: prometheus.NewCounter(prometheus.CounterOpts{Namespace: "blastlog", Name: "sse_catchups_total",
			Help: "Viewers that fell behind the live feed and caught up from the log."}),
		Gaps: prometheus.NewCounter(prometheus.CounterOpts{Namespace: "blastlog", Name: "sse_gaps_total",
			Help: "Gap events: a resume point older than the log's first entry."}),
		ArchiveLag: prometheus.NewGauge(prometheus.GaugeOpts{Namespace: "blastlog", Name: "archive_lag_events",
			Help: "Events the archiver has read but not yet written into an index (all runs it holds)."}),
		ArchiveErrors: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: "blastlog", Name: "archive_errors_total",
			Help: "Archive writes that failed and are retried, by operation."}, []string{"op"}),
		ArchiveChunks: prometheus.NewCounter(prometheus.CounterOpts{Namespace: "blastlog", Name: "archive_chunks_written_total",
			Help: "Chunks written to the archive."}),
		ArchiveRuns: prometheus.NewGauge(prometheus.GaugeOpts{Namespace: "blastlog", Name: "archive_runs_held",
			Help: "Runs this replica archives (one lease each)."}),
		NotifySent: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: "blastlog", Name: "notify_sent_total",
			Help: "Run notifications delivered to a webhook, by kind."}, []string{"kind"}),
		NotifyFailures: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: "blastlog", Name: "notify_failures_total",
			Help: "Failed attempts to deliver a run notification (retried with backoff for up to an hour), by kind."}, []string{"kind"}),
		NotifyDropped: prometheus.NewCounter(prometheus.CounterOpts{Namespace: "blastlog", Name: "notify_dropped_total",
			Help: "Run notifications a full queue refused (offered again at the run's next check)."}),
	}
	for _, op := range []string{"chunk", "index"} {
		m.ArchiveErrors.WithLabelValues(op) // 0 from the start: a rule can read it
	}
	for _, kind := range []string{"failed", "stuck", "oomkilled", "succeeded"} {
		m.NotifySent.WithLabelValues(kind)
		m.NotifyFailures.WithLabelValues(kind)
	}
	reg.MustRegister(m.Tickets, m.OpenStreams, m.Delivered, m.HubReaders, m.CatchUps, m.Gaps,
		m.ArchiveLag, m.ArchiveErrors, m.ArchiveChunks, m.ArchiveRuns, m.NotifySent, m.NotifyFailures, m.NotifyDropped)
	return m
}
