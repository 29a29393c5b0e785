package api

import (
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/quantrac/quantrac/model"
)

// extraLabels parses extra_label=name=value parameters (VictoriaMetrics).
func extraLabels(c *fiber.Ctx) (model.Labels, error) {
	var out model.Labels
	for _, kv := range queryValues(c, "extra_label") {
		name, value, ok := strings.Cut(kv, "=")
		if !ok || !model.ValidLabelName(name) || value == "" {
			return nil, badRequest("extra_label %q: want name=value with a valid label name", kv)
		}
		out = append(out, model.Label{Name: name, Value: value})
	}
	return out, nil
}

// answerCompat answers an ingest route of another system's format: 204 when
// everything was stored (what their clients expect), else 400 with the
// counts and reasons, so that nothing is dropped silently.
func answerCompat(c *fiber.Ctx, res *model.AppendResult) error {
	if res.Rejected == 0 {
		return c.SendStatus(fiber.StatusNoContent)
	}
	a := newAnswer(res)
	return c.Status(fiber.StatusBadRequest).JSON(fiber.Map{
		"status": "error", "errorType": errBadData,
		"error":  a.Errors[0].Reason,
		"stored": a.Stored, "rejected": a.Rejected, "errors": a.Errors, "errors_truncated": a.ErrorsTruncated,
	})
}

// handleImportPrometheus is POST /api/v1/import/prometheus (VictoriaMetrics).
func (s *Server) handleImportPrometheus(c *fiber.Ctx) error {
	if err := checkParams(c, "extra_label", "timestamp"); err != nil {
		return err
	}
	extra, err := extraLabels(c)
	if err != nil {
		return err
	}
	now := time.Now().UnixMilli()
	if ts := c.Query("timestamp"); ts != "" {
		t, err := parsePromTime(ts)
		if err != nil {
			return badRequest("timestamp: %v", err)
		}
		now = t
	}
	body, err := s.readBody(c)
	if err != nil {
		return err
	}
	var res model.AppendResult
	p := newPromTextParser(now, extra)
	batch, src := p.parse(body, make([]model.Sample, 0, len(body)/48), make([]int, 0, len(body)/48), &res)
	if err := s.storeBatch(c, "prometheus", batch, src, &res); err != nil {
		return err
	}
	return answerCompat(c, &res)
}

// handleImportJSON is POST /api/v1/import (VictoriaMetrics JSON lines).
func (s *Server) handleImportJSON(c *fiber.Ctx) error {
	if err := checkParams(c, "extra_label"); err != nil {
		return err
	}
	extra, err := extraLabels(c)
	if err != nil {
		return err
	}
	body, err := s.readBody(c)
	if err != nil {
		return err
	}
	var res model.AppendResult
	batch, src := parseJSONLines(body, extra, nil, nil, &res)
	if err := s.storeBatch(c, "jsonline", batch, src, &res); err != nil {
		return err
	}
	return answerCompat(c, &res)
}

// handleInfluxWrite is POST /write and /api/v2/write (InfluxDB line protocol).
func (s *Server) handleInfluxWrite(c *fiber.Ctx) error {
	if err := checkParams(c, "db", "precision", "rp", "u", "p", "consistency", "bucket", "org", "orgID", "extra_label"); err != nil {
		return err
	}
	conv, err := influxPrecision(c.Query("precision"))
	if err != nil {
		return badRequest("%v", err)
	}
	extra, err := extraLabels(c)
	if err != nil {
		return err
	}
	if db := c.Query("db"); db != "" {
		extra = append(extra, model.Label{Name: "db", Value: db})
	}
	body, err := s.readBody(c)
	if err != nil {
		return err
	}
	var res model.AppendResult
	batch, src := parseInflux(body, conv, time.Now().UnixMilli(), extra, nil, nil, &res)
	if err := s.storeBatch(c, "influx", batch, src, &res); err != nil {
		return err
	}
	return answerCompat(c, &res)
}

// handleRemoteWrite is POST /api/v1/write (Prometheus remote write 1.0).
func (s *Server) handleRemoteWrite(c *fiber.Ctx) error {
	if err := checkParams(c, "extra_label"); err != nil {
		return err
	}
	if ct := c.Get(fiber.HeaderContentType); strings.Contains(ct, "io.prometheus.write.v2") {
		return newHTTPError(fiber.StatusUnsupportedMediaType, errBadData, "Content-Type %q: only remote write 1.0 (prometheus.WriteRequest) is accepted", ct)
	}
	extra, err := extraLabels(c)
	if err != nil {
		return err
	}
	var res model.AppendResult
	batch, src, err := parseRemoteWrite(c.Request().Body(), s.cfg.Limits.MaxBodyBytes, extra, nil, nil, &res)
	if err != nil {
		return err
	}
	if err := s.storeBatch(c, "remotewrite", batch, src, &res); err != nil {
		return err
	}
	return answerCompat(c, &res)
}
