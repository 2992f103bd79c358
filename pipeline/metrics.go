package pipeline

import (
	"strconv"

	"github.com/prometheus/client_golang/prometheus"
)

// Metrics are the streaming job's Prometheus metrics. Labels are stages, partners,
// reasons and partitions: never user data, coordinates or cells (G6).
type Metrics struct {
	EventsIn     *prometheus.CounterVec // by stage
	DeadLetters  *prometheus.CounterVec // by reason
	Late         prometheus.Counter
	Released     *prometheus.CounterVec // by partner
	Suppressed   *prometheus.CounterVec // by partner, reason
	Records      *prometheus.CounterVec // records written, by partner
	Windows      prometheus.Gauge       // open windows
	Buffered     prometheus.Gauge       // events held in open windows
	WatermarkLag *prometheus.GaugeVec   // seconds behind the wall clock, by internal partition
	CommitLag    *prometheus.GaugeVec   // messages not yet committed, by stage and partition
	Paused       prometheus.Gauge       // 1 while the buffering cap holds reading back
	Retries      *prometheus.CounterVec // failed writes retried, by stage
}

// NewMetrics registers the metrics with reg (nil: none).
func NewMetrics(reg prometheus.Registerer) *Metrics {
	f := func(c prometheus.Collector) {
		if reg != nil {
			reg.MustRegister(c)
		}
	}
	m := &Metrics{
		EventsIn: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "geocloak_events_in_total",
			Help: "Records read, by stage (ingest: raw check-ins; cloak: minimized events)."}, []string{"stage"}),
		DeadLetters: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "geocloak_dead_letters_total",
			Help: "Raw records sent to the dead-letter topic, by reason (field and rule, never a value)."}, []string{"reason"}),
		Late: prometheus.NewCounter(prometheus.CounterOpts{Name: "geocloak_late_total",
			Help: "Check-ins suppressed as late (their window had closed); for every partner."}),
		Released: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "geocloak_released_total",
			Help: "Check-ins released, by partner."}, []string{"partner"}),
		Suppressed: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "geocloak_suppressed_total",
			Help: "Check-ins suppressed at release, by partner and reason (late and invalid are counted by geocloak_late_total and geocloak_dead_letters_total)."},
			[]string{"partner", "reason"}),
		Records: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "geocloak_records_written_total",
			Help: "Records written to partner topics, by partner (re-releases after a restart included)."}, []string{"partner"}),
		Windows: prometheus.NewGauge(prometheus.GaugeOpts{Name: "geocloak_windows_open",
			Help: "Open windows held by this instance."}),
		Buffered: prometheus.NewGauge(prometheus.GaugeOpts{Name: "geocloak_buffered_events",
			Help: "Events held in open windows by this instance."}),
		WatermarkLag: prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "geocloak_watermark_lag_seconds",
			Help: "Wall clock minus the cloak watermark, by internal partition."}, []string{"partition"}),
		CommitLag: prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "geocloak_commit_lag_messages",
			Help: "Messages between the committed offset and the end of the partition, by stage and partition."},
			[]string{"stage", "partition"}),
		Paused: prometheus.NewGauge(prometheus.GaugeOpts{Name: "geocloak_paused",
			Help: "1 while the buffered-events cap holds reading back."}),
		Retries: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "geocloak_write_retries_total",
			Help: "Failed writes that were retried (nothing is skipped), by stage."}, []string{"stage"}),
	}
	for _, c := range []prometheus.Collector{m.EventsIn, m.DeadLetters, m.Late, m.Released, m.Suppressed, m.Records,
		m.Windows, m.Buffered, m.WatermarkLag, m.CommitLag, m.Paused, m.Retries} {
		f(c)
	}
	return m
}

func partitionLabel(p int) string { return strconv.Itoa(p) }
