package api

import (
	"context"
	"time"

	"github.com/VictoriaMetrics/metrics"
	"github.com/gofiber/fiber/v2"

	"github.com/quantrac/quantrac/model"
	"github.com/quantrac/quantrac/tsdb"
)

// handleHealthz is GET /healthz: the process is up. No token needed.
func (s *Server) handleHealthz(c *fiber.Ctx) error {
	return c.JSON(fiber.Map{"status": "ok"})
}

// handleReadyz is GET /readyz: the storage answers a query.
func (s *Server) handleReadyz(c *fiber.Ctx) error {
	ctx, cancel := context.WithTimeout(c.UserContext(), 5*time.Second)
	defer cancel()
	ms := []*model.Matcher{model.MustMatcher(model.MatchEqual, model.MetricName, "quantrac_readyz_probe")}
	if _, err := s.store.LabelNames(ctx, ms); err != nil {
		return &httpError{status: fiber.StatusServiceUnavailable, typ: errUnavailable, retryAfter: 5, msg: "storage not ready: " + err.Error()}
	}
	return c.JSON(fiber.Map{"status": "ready", "storage": s.cfg.Storage})
}

// handleMetrics is GET /metrics in the Prometheus text format.
func (s *Server) handleMetrics(c *fiber.Ctx) error {
	c.Set(fiber.HeaderContentType, "text/plain; version=0.0.4; charset=utf-8")
	w := c.Response().BodyWriter()
	s.metrics.WritePrometheus(w)
	metrics.WriteProcessMetrics(w)
	metrics.WriteGaugeUint64(w, "quantrac_api_insert_waiting", uint64(s.insert.waiting.Load()))
	metrics.WriteGaugeUint64(w, "quantrac_api_insert_in_flight", uint64(len(s.insert.slots)))
	metrics.WriteGaugeUint64(w, "quantrac_api_stations", uint64(len(s.stations.List())))
	if db, ok := s.store.(*tsdb.DB); ok {
		u := db.Usage()
		st := db.Stats()
		metrics.WriteGaugeUint64(w, "quantrac_tsdb_partitions", uint64(u.Partitions))
		metrics.WriteGaugeUint64(w, "quantrac_tsdb_parts", uint64(u.Parts))
		metrics.WriteGaugeUint64(w, "quantrac_tsdb_sealed_samples", uint64(u.Samples))
		metrics.WriteGaugeUint64(w, "quantrac_tsdb_head_samples", uint64(u.HeadSamples))
		metrics.WriteGaugeUint64(w, "quantrac_tsdb_data_bytes", uint64(u.DataBytes))
		metrics.WriteGaugeUint64(w, "quantrac_tsdb_part_bytes", uint64(u.PartBytes))
		metrics.WriteCounterUint64(w, "quantrac_tsdb_rejected_samples_total", uint64(st.Rejected.Load()))
		metrics.WriteCounterUint64(w, "quantrac_tsdb_wal_repairs_total", uint64(st.WALRepairs.Load()))
		metrics.WriteCounterUint64(w, "quantrac_tsdb_seals_total", uint64(st.Seals.Load()))
		metrics.WriteCounterUint64(w, "quantrac_tsdb_compactions_total", uint64(st.Compactions.Load()))
	}
	if s.alerts != nil {
		s.alerts.WriteMetrics(w)
	}
	return nil
}
