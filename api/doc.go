// Package api is quantrac's HTTP server: ingest in the native JSON format and
// in the formats other tools send (Prometheus text, VictoriaMetrics JSON lines,
// InfluxDB line protocol, Prometheus remote write), queries for analysts and
// the IOC dashboard (stations, series, latest values, CSV export), a
// Prometheus-compatible query API for Grafana, token authentication with
// roles and province scope, health and metrics endpoints.
//
// The server runs on any model.Storage: the embedded tsdb, or VictoriaMetrics
// (package vmstore) in scale-out mode. Build one with New, run it with Start
// and stop it with Shutdown, which also flushes and closes the storage the
// server opened.
package api
