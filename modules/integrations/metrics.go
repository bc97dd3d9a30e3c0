package integrations

import (
	"errors"

	"github.com/prometheus/client_golang/prometheus"
)

// metrics are the host's Prometheus metrics.
type metrics struct {
	state    *prometheus.GaugeVec
	restarts *prometheus.CounterVec
	latency  *prometheus.HistogramVec
	errors   *prometheus.CounterVec
}

func newMetrics(*Host) *metrics {
	return &metrics{
		state: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "yoyaku_plugin_state", Help: "1 for the state each installed plugin is in, 0 for the others.",
		}, []string{"plugin", "state"}),
		restarts: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "yoyaku_plugin_restarts_total", Help: "Restarts of a plugin after it crashed or failed its health check.",
		}, []string{"plugin"}),
		latency: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "yoyaku_plugin_call_seconds", Help: "Duration of calls to plugins, by plugin and method.",
			Buckets: []float64{.005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10},
		}, []string{"plugin", "method"}),
		errors: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "yoyaku_plugin_call_errors_total", Help: "Calls to plugins that failed, by plugin, method and kind (unavailable, deadline, failed).",
		}, []string{"plugin", "method", "kind"}),
	}
}

// Register adds the host's metrics to reg (each registry once).
func (h *Host) Register(reg prometheus.Registerer) error {
	for _, c := range []prometheus.Collector{h.metrics.state, h.metrics.restarts, h.metrics.latency, h.metrics.errors} {
		if err := reg.Register(c); err != nil {
			var are prometheus.AlreadyRegisteredError
			if errors.As(err, &are) {
				continue
			}
			return err
		}
	}
	return nil
}

func (m *metrics) setState(plugin string, s State) {
	for _, x := range States() {
		v := 0.0
		if x == s {
			v = 1
		}
		m.state.WithLabelValues(plugin, string(x)).Set(v)
	}
}
