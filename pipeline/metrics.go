package pipeline

import (
	"strconv"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"

	"github.com/geocloak/geocloak/cloak"
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
	Pauses       prometheus.Counter     // times the buffering cap was reached
	Retries      *prometheus.CounterVec // failed writes retried, by stage
	Lost         *prometheus.CounterVec // messages deleted by retention before they were read, by stage
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
		Pauses: prometheus.NewCounter(prometheus.CounterOpts{Name: "geocloak_pauses_total",
			Help: "Times a cloak partition reached the buffered-events cap and paused taking events."}),
		Lost: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "geocloak_retention_lost_total",
			Help: "Messages deleted by the topic's retention before the stage read them, by stage: give topics a retention longer than window + lateness + the longest downtime."},
			[]string{"stage"}),
		Retries: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "geocloak_write_retries_total",
			Help: "Failed writes that were retried (nothing is skipped), by stage."}, []string{"stage"}),
	}
	for _, c := range []prometheus.Collector{m.EventsIn, m.DeadLetters, m.Late, m.Released, m.Suppressed, m.Records,
		m.Windows, m.Buffered, m.WatermarkLag, m.CommitLag, m.Paused, m.Pauses, m.Retries, m.Lost} {
		f(c)
	}
	return m
}

func partitionLabel(p int) string { return strconv.Itoa(p) }

// Totals are a snapshot of the outcome counters.
type Totals struct {
	IngestIn    int64
	DeadLetters int64
	Late        int64
	Buffered    int64 // events held in open windows now
	Pauses      int64 // times the buffered-events cap was reached
	Partners    map[string]PartnerTotals
}

// PartnerTotals are one partner's counts since the start.
type PartnerTotals struct {
	Released   int64
	Suppressed map[string]int64 // by reason, at release (sensitive_category, contribution_cap, below_k)
	Records    int64
}

// Accounted is the number of input events whose outcome for this partner is known.
func (t Totals) Accounted(partner string) int64 {
	p := t.Partners[partner]
	n := p.Released + t.Late + t.DeadLetters
	for _, v := range p.Suppressed {
		n += v
	}
	return n
}

// Totals reads the counters for partners.
func (m *Metrics) Totals(partners []string) Totals {
	t := Totals{
		IngestIn:    int64(counterValue(m.EventsIn.WithLabelValues("ingest"))),
		DeadLetters: int64(sumCounters(m.DeadLetters)),
		Late:        int64(counterValue(m.Late)),
		Buffered:    int64(gaugeValue(m.Buffered)),
		Pauses:      int64(counterValue(m.Pauses)),
		Partners:    make(map[string]PartnerTotals),
	}
	for _, p := range partners {
		pt := PartnerTotals{
			Released:   int64(counterValue(m.Released.WithLabelValues(p))),
			Records:    int64(counterValue(m.Records.WithLabelValues(p))),
			Suppressed: make(map[string]int64),
		}
		for r := cloak.SensitiveCategory; r < cloak.NumReasons; r++ {
			pt.Suppressed[r.String()] = int64(counterValue(m.Suppressed.WithLabelValues(p, r.String())))
		}
		t.Partners[p] = pt
	}
	return t
}

func counterValue(c prometheus.Metric) float64 {
	var m dto.Metric
	if err := c.Write(&m); err != nil {
		return 0
	}
	return m.GetCounter().GetValue()
}

func gaugeValue(g prometheus.Gauge) float64 {
	var m dto.Metric
	if err := g.Write(&m); err != nil {
		return 0
	}
	return m.GetGauge().GetValue()
}

func sumCounters(v *prometheus.CounterVec) float64 {
	ch := make(chan prometheus.Metric, 64)
	go func() { v.Collect(ch); close(ch) }()
	sum := 0.0
	for m := range ch {
		sum += counterValue(m)
	}
	return sum
}
