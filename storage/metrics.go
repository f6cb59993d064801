package storage

import (
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/prometheus/client_golang/prometheus"
)

// poolCollector reports the connection pool's statistics at each scrape.
type poolCollector struct {
	pool                                          *pgxpool.Pool
	total, idle, acquired, max                    *prometheus.Desc
	acquires, emptyAcquires, acquireSeconds, fail *prometheus.Desc
}

// PoolCollector returns a Prometheus collector of pool's statistics.
func PoolCollector(pool *pgxpool.Pool) prometheus.Collector {
	d := func(name, help string) *prometheus.Desc {
		return prometheus.NewDesc("wirewatch_db_pool_"+name, help, nil, nil)
	}
	return &poolCollector{
		pool:           pool,
		total:          d("connections", "Connections open."),
		idle:           d("idle_connections", "Connections open and idle."),
		acquired:       d("acquired_connections", "Connections in use."),
		max:            d("max_connections", "The pool's size."),
		acquires:       d("acquires_total", "Connections handed out."),
		emptyAcquires:  d("empty_acquires_total", "Acquires that had to wait for a connection."),
		acquireSeconds: d("acquire_seconds_total", "Time spent waiting for connections."),
		fail:           d("canceled_acquires_total", "Acquires given up (context done)."),
	}
}

func (c *poolCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{c.total, c.idle, c.acquired, c.max, c.acquires, c.emptyAcquires, c.acquireSeconds, c.fail} {
		ch <- d
	}
}

func (c *poolCollector) Collect(ch chan<- prometheus.Metric) {
	s := c.pool.Stat()
	g := func(d *prometheus.Desc, v float64) { ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v) }
	n := func(d *prometheus.Desc, v float64) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.CounterValue, v)
	}
	g(c.total, float64(s.TotalConns()))
	g(c.idle, float64(s.IdleConns()))
	g(c.acquired, float64(s.AcquiredConns()))
	g(c.max, float64(s.MaxConns()))
	n(c.acquires, float64(s.AcquireCount()))
	n(c.emptyAcquires, float64(s.EmptyAcquireCount()))
	n(c.acquireSeconds, s.AcquireDuration().Seconds())
	n(c.fail, float64(s.CanceledAcquireCount()))
}
