package alerting

import (
	"fmt"
	"io"
	"sort"

	"github.com/VictoriaMetrics/metrics"
	bolt "go.etcd.io/bbolt"
)

// WriteMetrics writes the engine's gauges and counters in the Prometheus
// text format (for the api's /metrics): alerts by state, rules, samples
// queued, set aside as late (backlog) and dropped, alerts waiting for
// their series to catch up, evaluations, and per receiver the messages waiting,
// sent, given up and retried.
func (e *Engine) WriteMetrics(w io.Writer) {
	e.mu.Lock()
	byState := map[State]int{}
	for _, a := range e.active {
		byState[a.State]++
	}
	rules := len(e.rules)
	late := len(e.late)
	silences := 0
	now := e.clock.Now()
	for _, s := range e.silences {
		if s.Active(now) {
			silences++
		}
	}
	e.mu.Unlock()
	for _, st := range []State{StatePending, StateFiring, StateAcknowledged} {
		metrics.WriteGaugeUint64(w, fmt.Sprintf(`quantrac_alerting_alerts{state=%q}`, st), uint64(byState[st]))
	}
	metrics.WriteGaugeUint64(w, "quantrac_alerting_rules", uint64(rules))
	metrics.WriteGaugeUint64(w, "quantrac_alerting_silences_active", uint64(silences))
	e.qmu.Lock()
	queued := e.queued
	e.qmu.Unlock()
	metrics.WriteGaugeUint64(w, "quantrac_alerting_queued_samples", uint64(queued))
	metrics.WriteGaugeUint64(w, "quantrac_alerting_backlog_samples", uint64(e.backlog.Load()))
	metrics.WriteGaugeUint64(w, "quantrac_alerting_late_alerts", uint64(late))
	metrics.WriteCounterUint64(w, "quantrac_alerting_dropped_samples_total", uint64(e.Dropped()))
	metrics.WriteCounterUint64(w, "quantrac_alerting_evaluations_total", uint64(e.Evaluations()))
	names := make([]string, 0, len(e.outboxes))
	for n := range e.outboxes {
		names = append(names, n)
	}
	sort.Strings(names)
	pending := map[string]int{}
	e.st.db.View(func(tx *bolt.Tx) error {
		root := tx.Bucket([]byte(bucketOutbox))
		for _, n := range names {
			if b := root.Bucket([]byte(n)); b != nil {
				pending[n] = b.Stats().KeyN
			}
		}
		return nil
	})
	for _, n := range names {
		ob := e.outboxes[n]
		metrics.WriteGaugeUint64(w, fmt.Sprintf(`quantrac_alerting_outbox_pending{receiver=%q}`, n), uint64(pending[n]))
		metrics.WriteCounterUint64(w, fmt.Sprintf(`quantrac_alerting_notifications_sent_total{receiver=%q}`, n), uint64(ob.sent.Load()))
		metrics.WriteCounterUint64(w, fmt.Sprintf(`quantrac_alerting_notifications_failed_total{receiver=%q}`, n), uint64(ob.failed.Load()))
		metrics.WriteCounterUint64(w, fmt.Sprintf(`quantrac_alerting_notification_retries_total{receiver=%q}`, n), uint64(ob.retries.Load()))
	}
}
