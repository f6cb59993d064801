package ingest

import (
	"strconv"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/wirewatch/wirewatch/storage"
)

// Metrics counts what polls do, for Prometheus. Label sets are bounded:
// outcome, status code and error kind; the per-feed last-success gauge,
// one series per feed, only when PerFeed is set.
type Metrics struct {
	polls         *prometheus.CounterVec
	fetchSeconds  prometheus.Histogram
	bytes         prometheus.Counter
	itemsParsed   prometheus.Counter
	matchesStored prometheus.Counter
	itemsUpdated  prometheus.Counter
	lag           prometheus.Histogram
	inFlight      prometheus.Gauge
	lastSuccess   *prometheus.GaugeVec // nil unless per-feed labels are on

	mu      sync.Mutex
	failing map[int64]bool
	nFail   prometheus.Gauge
}

// NewMetrics registers the poll metrics with reg.
func NewMetrics(reg prometheus.Registerer, perFeed bool) *Metrics {
	m := &Metrics{
		polls: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "wirewatch_polls_total",
			Help: "Polls by outcome (ok, not_modified, failed), HTTP status (none when there was no response) and error kind."},
			[]string{"outcome", "status", "kind"}),
		fetchSeconds: prometheus.NewHistogram(prometheus.HistogramOpts{Name: "wirewatch_poll_duration_seconds",
			Help:    "Time a poll took to fetch, parse and match, not counting its wait for a turn at the host.",
			Buckets: []float64{0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60}}),
		bytes: prometheus.NewCounter(prometheus.CounterOpts{Name: "wirewatch_fetched_bytes_total",
			Help: "Feed body bytes read, after decompression."}),
		itemsParsed: prometheus.NewCounter(prometheus.CounterOpts{Name: "wirewatch_items_parsed_total",
			Help: "Items read from feeds that were parsed (unchanged feeds are not)."}),
		matchesStored: prometheus.NewCounter(prometheus.CounterOpts{Name: "wirewatch_matches_stored_total",
			Help: "Matching items stored for the first time."}),
		itemsUpdated: prometheus.NewCounter(prometheus.CounterOpts{Name: "wirewatch_items_updated_total",
			Help: "Stored items whose feed changed their title or text."}),
		lag: prometheus.NewHistogram(prometheus.HistogramOpts{Name: "wirewatch_scheduler_lag_seconds",
			Help:    "How late a poll started after it was due.",
			Buckets: []float64{0.1, 0.5, 1, 2, 5, 10, 30, 60, 120, 300, 900}}),
		inFlight: prometheus.NewGauge(prometheus.GaugeOpts{Name: "wirewatch_polls_in_flight",
			Help: "Polls running now in this instance."}),
		nFail: prometheus.NewGauge(prometheus.GaugeOpts{Name: "wirewatch_feeds_failing",
			Help: "Feeds whose last poll by this instance failed."}),
		failing: map[int64]bool{},
	}
	reg.MustRegister(m.polls, m.fetchSeconds, m.bytes, m.itemsParsed, m.matchesStored, m.itemsUpdated, m.lag, m.inFlight, m.nFail)
	if perFeed {
		m.lastSuccess = prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "wirewatch_feed_last_success_timestamp_seconds",
			Help: "When each feed was last polled successfully (Unix time)."}, []string{"feed"})
		reg.MustRegister(m.lastSuccess)
	}
	return m
}

// observe records one poll. A nil *Metrics records nothing.
func (m *Metrics) observe(feed storage.Feed, rep Report, err error) {
	if m == nil || err != nil {
		return // an unrecorded poll (shutdown, database gone) is not a poll
	}
	status := "none"
	if rep.HTTPStatus != 0 {
		status = strconv.Itoa(rep.HTTPStatus)
	}
	m.polls.WithLabelValues(rep.Outcome, status, ErrorKind(rep.Err)).Inc()
	m.fetchSeconds.Observe(rep.Duration.Seconds())
	m.bytes.Add(float64(rep.Bytes))
	m.itemsParsed.Add(float64(rep.ItemsSeen))
	m.matchesStored.Add(float64(rep.NewMatches))
	m.itemsUpdated.Add(float64(rep.Updated))
	m.mu.Lock()
	if rep.Err != nil {
		m.failing[feed.ID] = true
	} else {
		delete(m.failing, feed.ID)
	}
	m.nFail.Set(float64(len(m.failing)))
	m.mu.Unlock()
	if m.lastSuccess != nil && rep.Err == nil {
		m.lastSuccess.WithLabelValues(feed.URL).Set(float64(time.Now().Unix()))
	}
}

func (m *Metrics) started(due *time.Time) {
	if m == nil {
		return
	}
	m.inFlight.Inc()
	if due != nil {
		m.lag.Observe(max(0, time.Since(*due).Seconds()))
	}
}

func (m *Metrics) ended() {
	if m != nil {
		m.inFlight.Dec()
	}
}
