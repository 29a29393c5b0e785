package api

import (
	"github.com/gofiber/fiber/v2"
)

// routes registers every route with the role it needs.
func (s *Server) routes() {
	app := s.app
	viewer, ingest := s.guard(RoleViewer), s.guard(RoleIngest)

	app.Get("/healthz", s.handleHealthz)
	app.Get("/readyz", viewer, s.handleReadyz)
	app.Get("/metrics", viewer, s.handleMetrics)
	app.Get("/api/openapi.json", viewer, s.handleOpenAPI)

	// Ingest.
	app.Post("/api/v1/ingest", ingest, s.handleIngest)
	app.Post("/api/v1/stations", ingest, s.handleStationsUpsert)
	app.Post("/api/v1/import/prometheus", ingest, s.handleImportPrometheus)
	app.Post("/api/v1/import", ingest, s.handleImportJSON)
	app.Post("/write", ingest, s.handleInfluxWrite)
	app.Post("/api/v2/write", ingest, s.handleInfluxWrite)
	app.Post("/api/v1/write", ingest, s.handleRemoteWrite)

	// Native queries.
	app.Get("/api/v1/stations", viewer, s.handleStations)
	app.Get("/api/v1/series", viewer, s.handleSeries)
	app.Post("/api/v1/series", viewer, s.prom.handleSeries)
	app.Get("/api/v1/latest", viewer, s.handleLatest)
	app.Get("/api/v1/export.csv", viewer, s.handleExportCSV)
	app.Get("/api/v1/completeness", viewer, s.handleCompleteness)

	// Prometheus HTTP API (Grafana). labels and label values serve both.
	for _, m := range []string{fiber.MethodGet, fiber.MethodPost} {
		app.Add(m, "/api/v1/query", viewer, s.prom.handleQuery)
		app.Add(m, "/api/v1/query_range", viewer, s.prom.handleQueryRange)
		app.Add(m, "/api/v1/labels", viewer, s.prom.handleLabels)
		app.Add(m, "/api/v1/query_exemplars", viewer, s.prom.handleEmptyList)
		app.Add(m, "/api/v1/format_query", viewer, s.prom.handleFormatQuery)
	}
	app.Get("/api/v1/label/:name/values", viewer, s.prom.handleLabelValues)
	app.Get("/api/v1/status/buildinfo", viewer, s.prom.handleBuildInfo)
	app.Get("/api/v1/metadata", viewer, s.prom.handleMetadata)
}

// mountLate registers what must come after every api route: the
// dashboard's catch-all at / and the JSON 404 for unknown api paths.
func (s *Server) mountLate() {
	s.app.Use("/api", func(c *fiber.Ctx) error {
		return newHTTPError(fiber.StatusNotFound, errNotFound, "no route %s %s", c.Method(), c.Path())
	})
}
