package outbox

import (
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// metrics are the dispatcher's Prometheus metrics.
//
// The counters count what this process did. The gauges (pending, scheduled,
// dead, oldest pending age) describe the outboxes of all tenants; they are
// not read from 10,000 databases at scrape time but kept per tenant from
// the figures every pass over a tenant and every sweep read anyway, and
// summed when scraped. So they are as fresh as the last pass or sweep (at
// most SweepEvery old), and with several processes each reports its own
// view: aggregate them with max(), not sum(). Tenants are not a label: the
// series stay few at any number of tenants.
type metrics struct {
	delivered *prometheus.CounterVec
	failures  *prometheus.CounterVec
	dead      *prometheus.CounterVec

	pendingDesc, scheduledDesc, deadDesc, ageDesc *prometheus.Desc
	now                                           func() time.Time

	mu      sync.Mutex
	tenants map[string]stats
}

func newMetrics(reg prometheus.Registerer, now func() time.Time) (*metrics, error) {
	labels := []string{"consumer", "type"}
	m := &metrics{
		delivered: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "yoyaku_outbox_delivered_total",
			Help: "Outbox events delivered, by consumer and event type.",
		}, labels),
		failures: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "yoyaku_outbox_failures_total",
			Help: "Failed outbox delivery attempts, by consumer and event type.",
		}, labels),
		dead: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "yoyaku_outbox_dead_letters_total",
			Help: "Outbox events dead-lettered, by consumer and event type.",
		}, labels),
		pendingDesc: prometheus.NewDesc("yoyaku_outbox_pending",
			"Outbox deliveries due and not yet delivered (waiting, retrying or under way), all tenants.", nil, nil),
		scheduledDesc: prometheus.NewDesc("yoyaku_outbox_scheduled",
			"Outbox deliveries scheduled for later (reminders), all tenants.", nil, nil),
		deadDesc: prometheus.NewDesc("yoyaku_outbox_dead",
			"Dead-lettered outbox deliveries awaiting retry or discard, all tenants.", nil, nil),
		ageDesc: prometheus.NewDesc("yoyaku_outbox_oldest_pending_age_seconds",
			"Age of the oldest due, undelivered outbox delivery since its due time, all tenants (0: none).", nil, nil),
		now:     now,
		tenants: map[string]stats{},
	}
	if reg == nil {
		return m, nil
	}
	for _, c := range []prometheus.Collector{m.delivered, m.failures, m.dead, m} {
		if err := reg.Register(c); err != nil {
			return nil, err
		}
	}
	return m, nil
}

func (m *metrics) deadLetter(r *row) { m.dead.WithLabelValues(r.Consumer, r.EventType).Inc() }

// set records a tenant's latest figures.
func (m *metrics) set(tenantID string, s stats) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if s.Due == 0 && s.Scheduled == 0 && s.Dead == 0 {
		delete(m.tenants, tenantID)
		return
	}
	m.tenants[tenantID] = s
}

func (m *metrics) forget(tenantID string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	delete(m.tenants, tenantID)
}

// keep drops the figures of tenants not in ids (gone since).
func (m *metrics) keep(ids map[string]bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	for id := range m.tenants {
		if !ids[id] {
			delete(m.tenants, id)
		}
	}
}

// Describe implements prometheus.Collector for the gauges.
func (m *metrics) Describe(ch chan<- *prometheus.Desc) {
	ch <- m.pendingDesc
	ch <- m.scheduledDesc
	ch <- m.deadDesc
	ch <- m.ageDesc
}

// totals sums the figures of every tenant: deliveries due, scheduled and
// dead, and the earliest due time among those due (zero when none).
func (m *metrics) totals() (due, scheduled, dead int, oldest time.Time) {
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, s := range m.tenants {
		due += s.Due
		scheduled += s.Scheduled
		dead += s.Dead
		if s.Due > 0 && (oldest.IsZero() || s.OldestDue.Before(oldest)) {
			oldest = s.OldestDue
		}
	}
	return due, scheduled, dead, oldest
}

// Collect implements prometheus.Collector for the gauges.
func (m *metrics) Collect(ch chan<- prometheus.Metric) {
	due, scheduled, dead, oldest := m.totals()
	age := 0.0
	if !oldest.IsZero() {
		age = max(0, m.now().Sub(oldest).Seconds())
	}
	ch <- prometheus.MustNewConstMetric(m.pendingDesc, prometheus.GaugeValue, float64(due))
	ch <- prometheus.MustNewConstMetric(m.scheduledDesc, prometheus.GaugeValue, float64(scheduled))
	ch <- prometheus.MustNewConstMetric(m.deadDesc, prometheus.GaugeValue, float64(dead))
	ch <- prometheus.MustNewConstMetric(m.ageDesc, prometheus.GaugeValue, age)
}
