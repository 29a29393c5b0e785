package api

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
)

// TestBadInput sends wrong input to every route: each answer is a 4xx
// with a JSON error naming what is wrong.
func TestBadInput(t *testing.T) {
	ts := startServer(t, func(c *Config) { c.Limits.MaxQuerySamples = 10 })
	var many strings.Builder
	for i := 0; i < 20; i++ {
		fmt.Fprintf(&many, "x %d %d\n", i, t0-int64(i)*60000)
	}
	ts.mustDo(204, "POST", "/api/v1/import/prometheus", "", []byte(many.String()))
	form := "application/x-www-form-urlencoded"
	cases := []struct {
		method, path, body, ctype string
		status                    int
		want                      string
	}{
		// Ingest.
		{"POST", "/api/v1/ingest", `{"series":[`, "application/json", 400, "malformed JSON"},
		{"POST", "/api/v1/ingest", `{"series":[{"labels":{"__name__":"x"},"t":["now"],"v":[1]}]}`, "application/json", 400, `field "series.t"`},
		{"POST", "/api/v1/ingest", `{"series":[],"extra":1}`, "application/json", 400, `unknown field "extra"`},
		{"POST", "/api/v1/ingest", ``, "application/json", 400, "empty body"},
		{"POST", "/api/v1/ingest", `{"series":[]} {}`, "application/json", 400, "extra data"},
		{"POST", "/api/v1/ingest?dry=1", `{"series":[]}`, "application/json", 400, `unknown parameter "dry"`},
		{"POST", "/api/v1/ingest", "\x1f\x8b garbage", "application/json", 400, "malformed JSON at byte 1"},
		{"POST", "/api/v1/stations", `{"id":"x"}`, "application/json", 400, "got JSON object, want []model.Station"},
		{"POST", "/api/v1/stations", `[{"id":"S","kind":"air","province":"HN","lat":91,"lon":0}]`, "application/json", 400, "lat 91"},
		{"POST", "/api/v1/stations", `[{"id":"S","kind":"sea","province":"HN"}]`, "application/json", 400, `kind "sea"`},
		{"POST", "/api/v1/import/prometheus", "x{a=b} 1\n", "text/plain", 400, "must be quoted"},
		{"POST", "/api/v1/import/prometheus", "x 1 2 3\n", "text/plain", 400, "after timestamp"},
		{"POST", "/api/v1/import/prometheus?extra_label=bad", "x 1\n", "text/plain", 400, "extra_label"},
		{"POST", "/api/v1/import/prometheus?timestamp=yesterday", "x 1\n", "text/plain", 400, "timestamp"},
		{"POST", "/api/v1/import", `{"metric":{"__name__":"x"},"values":[1],"timestamps":[]}`, "application/json", 400, "1 values but 0 timestamps"},
		{"POST", "/api/v1/import", `not json`, "application/json", 400, "line 1"},
		{"POST", "/write?precision=year", "x v=1", "text/plain", 400, `precision "year"`},
		{"POST", "/write", "x v=abc 1", "text/plain", 400, "not a number"},
		{"POST", "/write", "justonepart", "text/plain", 400, "space-separated"},
		{"POST", "/api/v1/write", "garbage", "application/x-protobuf", 400, "snappy"},
		// Native queries.
		{"GET", "/api/v1/series", "", "", 400, "match: parameter is required"},
		{"GET", "/api/v1/series?match=x{a=", "", "", 400, "match:"},
		{"GET", "/api/v1/series?match=x&from=yesterday", "", "", 400, `from: time "yesterday"`},
		{"GET", "/api/v1/series?match=x&from=2025-01-02&to=2025-01-01", "", "", 400, "before from"},
		{"GET", "/api/v1/series?match=x&from=0&to=99999999999999999", "", "", 400, "outside [1970, 2262)"},
		{"GET", "/api/v1/series?match=x&from=0&to=1700000000000", "", "", 400, "max_raw_range"},
		{"GET", "/api/v1/series?match=x&from=0&to=1700000000000&step=1s", "", "", 400, "max_points"},
		{"GET", "/api/v1/series?match=x&step=fast", "", "", 400, "step:"},
		{"GET", "/api/v1/series?match=x&step=1h&agg=median", "", "", 400, `unknown aggregate "median"`},
		{"GET", "/api/v1/series?match=x&agg=avg", "", "", 400, "agg needs step"},
		{"GET", "/api/v1/series?match=x&tz=Mars/Olympus", "", "", 400, `tz "Mars/Olympus"`},
		{"GET", "/api/v1/series?match=x&quality=best", "", "", 400, `quality "best"`},
		{"GET", "/api/v1/series?match=x&limit=5", "", "", 400, `unknown parameter "limit"`},
		{"GET", "/api/v1/latest", "", "", 400, "match: parameter is required"},
		{"GET", "/api/v1/stations?status=sleeping", "", "", 400, `status "sleeping"`},
		{"GET", "/api/v1/stations?kind=sea", "", "", 400, `kind "sea"`},
		{"GET", "/api/v1/export.csv", "", "", 400, "station: parameter is required"},
		{"GET", "/api/v1/export.csv?station=S&param=pm2.5", "", "", 400, `param "pm2.5"`},
		{"GET", "/api/v1/export.csv?station=S&tz=Nowhere", "", "", 400, `tz "Nowhere"`},
		{"GET", "/api/v1/completeness?date=25/11/2025", "", "", 400, "want YYYY-MM-DD"},
		// Prometheus API.
		{"GET", "/api/v1/query", "", "", 400, "query: parameter is required"},
		{"GET", "/api/v1/query?query=sum(rate(x[5m]", "", "", 400, "parse error"},
		{"GET", "/api/v1/query?query=x&time=noon", "", "", 400, "time:"},
		// a subquery of 3·10¹⁰ steps once ended the process out of memory
		{"GET", "/api/v1/query?query=sum(rate(x%5B5m%5D))%5B1y:1ms%5D", "", "", 400, "subquery"},
		{"GET", "/api/v1/query_range?query=max_over_time(rate(x%5B5m%5D)%5B30d:1s%5D)&start=0&end=86400&step=60", "", "", 400, "subquery"},
		{"GET", "/api/v1/query?query=x&timeout=-1s", "", "", 400, "timeout:"},
		{"POST", "/api/v1/query", "query=x)", form, 400, "parse error"},
		{"GET", "/api/v1/query_range?query=x&start=0&end=100", "", "", 400, "step: parameter is required"},
		{"GET", "/api/v1/query_range?query=x&start=100&end=0&step=1", "", "", 400, "end timestamp must not be before start"},
		{"GET", "/api/v1/query_range?query=x&start=0&end=1000000&step=1", "", "", 400, "maximum resolution"},
		{"GET", "/api/v1/query_range?query=x&start=0&end=100&step=0", "", "", 400, "step:"},
		{"GET", "/api/v1/query_range?query=x&start=0&end=100&step=1&bogus=1", "", "", 400, `unknown parameter "bogus"`},
		{"GET", "/api/v1/series?match[]=x{", "", "", 400, "match[]"},
		{"POST", "/api/v1/series", "", form, 400, "no match[]"},
		{"GET", "/api/v1/labels?start=x", "", "", 400, "start:"},
		{"GET", "/api/v1/labels?limit=-1", "", "", 400, "limit"},
		{"GET", "/api/v1/label/9bad/values", "", "", 400, "invalid label name"},
		{"GET", "/api/v1/metadata?limit=x", "", "", 400, "limit"},
		{"GET", "/api/v1/status/buildinfo?x=1", "", "", 400, "unknown parameter"},
		{"GET", "/api/v1/nothing", "", "", 404, "no route"},
		{"GET", "/api/v1/format_query?query=sum(", "", "", 400, "query:"},
		{"GET", "/api/v1/query?query=count_over_time(x[100y])&time=1764032400", "", "", 400, "max_query_samples"},
	}
	for _, c := range cases {
		r := ts.do(c.method, c.path, "", []byte(c.body), "Content-Type", c.ctype)
		var e struct {
			Status string `json:"status"`
			Error  string `json:"error"`
		}
		if err := json.Unmarshal(r.body, &e); err != nil {
			t.Errorf("%s %s: answer is not JSON (%d): %s", c.method, c.path, r.status, r.body)
			continue
		}
		if r.status != c.status || e.Status != "error" || !strings.Contains(e.Error, c.want) {
			t.Errorf("%s %s: %d %q, want %d with error containing %q", c.method, c.path, r.status, e.Error, c.status, c.want)
		}
	}
	r := ts.do("POST", "/api/v1/ingest", "", []byte("x"), "Content-Encoding", "br")
	if r.status != 415 || !strings.Contains(string(r.body), "Content-Encoding") {
		t.Errorf("brotli body: %d %s", r.status, r.body)
	}
	r = ts.do("POST", "/api/v1/ingest", "", []byte("not gzip"), "Content-Encoding", "gzip")
	if r.status != 400 || !strings.Contains(string(r.body), "gzip body") {
		t.Errorf("bad gzip body: %d %s", r.status, r.body)
	}
}

func TestEmptySelectors(t *testing.T) {
	ts := startServer(t, nil)
	for _, p := range []string{"/api/v1/series?match=%7B%7D", "/api/v1/latest?match=%7B%7D", "/api/v1/series?match=%7Ba%3D%22%22%7D"} {
		r := ts.do("GET", p, "", nil)
		if r.status != 400 || !strings.Contains(string(r.body), "match") {
			t.Errorf("GET %s: %d %s", p, r.status, r.body)
		}
	}
}
