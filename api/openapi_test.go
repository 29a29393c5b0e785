package api

import (
	"encoding/json"
	"strings"
	"testing"
)

// TestOpenAPICoversNativeRoutes checks that the served description parses
// and names every native route the server registers.
func TestOpenAPICoversNativeRoutes(t *testing.T) {
	ts := startServer(t, nil)
	r := ts.mustDo(200, "GET", "/api/openapi.json", "", nil)
	var spec struct {
		OpenAPI string                    `json:"openapi"`
		Paths   map[string]map[string]any `json:"paths"`
	}
	r.json(t, &spec)
	if spec.OpenAPI == "" {
		t.Fatal("no openapi version")
	}
	prom := map[string]bool{"/api/v1/query": true, "/api/v1/query_range": true, "/api/v1/status/buildinfo": true,
		"/api/v1/metadata": true, "/api/v1/query_exemplars": true, "/api/v1/format_query": true, "/": true}
	for _, rt := range ts.srv.app.GetRoutes(true) {
		if rt.Method == "HEAD" || rt.Method == "USE" || prom[rt.Path] {
			continue
		}
		path := strings.ReplaceAll(rt.Path, ":name", "{name}")
		ops, ok := spec.Paths[path]
		if !ok {
			t.Errorf("route %s %s is not in openapi.json", rt.Method, rt.Path)
			continue
		}
		if rt.Path == "/api/v1/series" || rt.Path == "/api/v1/labels" {
			continue // POST forms are the Prometheus API
		}
		if _, ok := ops[strings.ToLower(rt.Method)]; !ok {
			t.Errorf("route %s %s has no %s operation in openapi.json", rt.Method, rt.Path, rt.Method)
		}
	}
	var any map[string]any
	if err := json.Unmarshal(openAPISpec, &any); err != nil {
		t.Fatal(err)
	}
}
