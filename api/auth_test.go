package api

import (
	"fmt"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/golang/snappy"
	"github.com/prometheus/prometheus/prompb"
)

// routeCase is a valid request to one route and the role it needs
// ("" = public).
type routeCase struct {
	method, path, body, contentType, need string
	// ok is the status an allowed caller gets when not 2xx (a missing id).
	ok int
}

func matrixRoutes(t *testing.T) []routeCase {
	wr := prompb.WriteRequest{Timeseries: []prompb.TimeSeries{{
		Labels:  []prompb.Label{{Name: "__name__", Value: "x"}, {Name: "station", Value: "S1"}, {Name: "province", Value: "HN"}},
		Samples: []prompb.Sample{{Value: 1, Timestamp: t0}},
	}}}
	raw, err := wr.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	line := fmt.Sprintf(`x{station="S1",province="HN"} 1 %d`, t0)
	q := fmt.Sprintf("from=%d&to=%d", t0, t0+1000)
	return []routeCase{
		{"GET", "/healthz", "", "", "", 0},
		{"GET", "/readyz", "", "", RoleViewer, 0},
		{"GET", "/metrics", "", "", RoleViewer, 0},
		{"GET", "/api/openapi.json", "", "", RoleViewer, 0},
		{"GET", "/", "", "", RoleViewer, 0},
		{"POST", "/api/v1/ingest", fmt.Sprintf(`{"series":[{"labels":{"__name__":"x","station":"S1","province":"HN"},"t":[%d],"v":[1]}]}`, t0), "application/json", RoleIngest, 0},
		{"POST", "/api/v1/stations", `[{"id":"S1","name":"Trạm 1","kind":"air","province":"HN","lat":21,"lon":105}]`, "application/json", RoleIngest, 0},
		{"POST", "/api/v1/import/prometheus", line, "text/plain", RoleIngest, 0},
		{"POST", "/api/v1/import", fmt.Sprintf(`{"metric":{"__name__":"x","station":"S1","province":"HN"},"values":[1],"timestamps":[%d]}`, t0), "application/json", RoleIngest, 0},
		{"POST", "/write?precision=ms", fmt.Sprintf("x,station=S1,province=HN v=1 %d", t0), "text/plain", RoleIngest, 0},
		{"POST", "/api/v2/write?precision=ms", fmt.Sprintf("x,station=S1,province=HN v=1 %d", t0), "text/plain", RoleIngest, 0},
		{"POST", "/api/v1/write", string(snappy.Encode(nil, raw)), "application/x-protobuf", RoleIngest, 0},
		{"GET", "/api/v1/stations", "", "", RoleViewer, 0},
		{"GET", "/api/v1/series?match=x&" + q, "", "", RoleViewer, 0},
		{"GET", "/api/v1/series?match[]=x", "", "", RoleViewer, 0},
		{"POST", "/api/v1/series", "match[]=x", "application/x-www-form-urlencoded", RoleViewer, 0},
		{"GET", "/api/v1/latest?match=x", "", "", RoleViewer, 0},
		{"GET", "/api/v1/export.csv?station=S1&" + q, "", "", RoleViewer, 0},
		{"GET", "/api/v1/completeness?date=2025-11-25", "", "", RoleViewer, 0},
		{"GET", "/api/v1/query?query=x", "", "", RoleViewer, 0},
		{"POST", "/api/v1/query", "query=x", "application/x-www-form-urlencoded", RoleViewer, 0},
		{"GET", fmt.Sprintf("/api/v1/query_range?query=x&start=%d&end=%d&step=60", t0/1000, t0/1000+600), "", "", RoleViewer, 0},
		{"POST", "/api/v1/query_range", fmt.Sprintf("query=x&start=%d&end=%d&step=60", t0/1000, t0/1000+600), "application/x-www-form-urlencoded", RoleViewer, 0},
		{"GET", "/api/v1/labels", "", "", RoleViewer, 0},
		{"POST", "/api/v1/labels", "match[]=x", "application/x-www-form-urlencoded", RoleViewer, 0},
		{"GET", "/api/v1/label/station/values", "", "", RoleViewer, 0},
		{"GET", "/api/v1/query_exemplars?query=x", "", "", RoleViewer, 0},
		{"POST", "/api/v1/query_exemplars", "query=x", "application/x-www-form-urlencoded", RoleViewer, 0},
		{"GET", "/api/v1/status/buildinfo", "", "", RoleViewer, 0},
		{"GET", "/api/v1/format_query?query=sum(x)by(a)", "", "", RoleViewer, 0},
		{"POST", "/api/v1/format_query", "query=x", "application/x-www-form-urlencoded", RoleViewer, 0},
		{"GET", "/api/v1/metadata", "", "", RoleViewer, 0},
		// Alerting routes (alertapi.Mount).
		{"GET", "/api/v1/alerts", "", "", RoleViewer, 0},
		{"GET", "/api/v1/alerts/999", "", "", RoleViewer, 404},
		{"POST", "/api/v1/alerts/999/ack", `{"by":"a","note":"b"}`, "application/json", RoleOperator, 404},
		{"POST", "/api/v1/alerts/999/resolve", `{"by":"a","note":"b"}`, "application/json", RoleOperator, 404},
		{"GET", "/api/v1/silences", "", "", RoleViewer, 0},
		{"POST", "/api/v1/silences", `{"matchers":"{station=\"S1\"}","start":"2026-01-01T00:00:00Z","end":"2036-01-01T00:00:00Z","author":"a","comment":"b"}`, "application/json", RoleOperator, 0},
		{"DELETE", "/api/v1/silences/nope", "", "", RoleOperator, 404},
		{"GET", "/api/v1/oncall/now", "", "", RoleViewer, 0},
		{"GET", "/api/v1/rules", "", "", RoleViewer, 0},
		{"POST", "/api/v1/rules/reload", "", "", RoleAdmin, 0},
	}
}

func TestAuthMatrix(t *testing.T) {
	ts := alertingServer(t)
	tokens := map[string]string{}
	for _, role := range []string{RoleViewer, RoleIngest, RoleOperator, RoleAdmin} {
		tok, err := ts.srv.Tokens().Create("t-"+role, role, "")
		if err != nil {
			t.Fatal(err)
		}
		tokens[role] = tok
	}
	tokens["none"] = ""
	tokens["wrong"] = "qt_not-a-token"
	routes := matrixRoutes(t)

	// Every registered route is in the matrix.
	covered := map[string]bool{}
	for _, rc := range routes {
		path := rc.path
		if i := strings.IndexByte(path, '?'); i >= 0 {
			path = path[:i]
		}
		covered[rc.method+" "+path] = true
	}
	for _, r := range ts.srv.app.GetRoutes(true) {
		if r.Method == "HEAD" || r.Method == "USE" || r.Path == "/" && r.Method != "GET" {
			continue
		}
		path := strings.ReplaceAll(strings.ReplaceAll(r.Path, ":name", "station"), ":id", "999")
		if r.Method == "DELETE" {
			path = strings.ReplaceAll(path, "999", "nope")
		}
		if !covered[r.Method+" "+path] {
			t.Errorf("route %s %s is not in the auth matrix", r.Method, r.Path)
		}
	}

	for _, rc := range routes {
		for who, tok := range tokens {
			r := ts.do(rc.method, rc.path, tok, []byte(rc.body), "Content-Type", rc.contentType)
			var want string
			switch {
			case rc.need == "":
				want = "2xx"
			case who == "none" || who == "wrong":
				want = "401"
			case roleAllows(who, rc.need):
				want = "2xx"
			default:
				want = "403"
			}
			got := fmt.Sprint(r.status)
			if r.status/100 == 2 || (rc.ok != 0 && r.status == rc.ok) {
				got = "2xx"
			}
			if got != want {
				t.Errorf("%s %s as %s: status %d, want %s: %.200s", rc.method, rc.path, who, r.status, want, r.body)
			}
			if got == "401" || got == "403" {
				if !strings.Contains(string(r.body), `"error"`) && rc.path != "/" {
					t.Errorf("%s %s as %s: error answer is not JSON: %s", rc.method, rc.path, who, r.body)
				}
			}
		}
	}
	// ?token= works for links (CSV, EventSource), and opening the
	// dashboard with it sets the cookie its assets use.
	ts.mustDo(200, "GET", "/api/v1/export.csv?station=S1&from=2025-11-25&to=2025-11-26&token="+tokens[RoleViewer], "", nil)
	r := ts.mustDo(200, "GET", "/?token="+tokens[RoleViewer], "", nil)
	if !strings.Contains(r.header.Get("Set-Cookie"), TokenCookie+"=") {
		t.Fatalf("dashboard did not set the token cookie: %v", r.header)
	}
	ts.mustDo(200, "GET", "/api/v1/stations", "", nil, "Cookie", TokenCookie+"="+tokens[RoleViewer])
	// A revoked token stops working.
	if ok, err := ts.srv.Tokens().Revoke("t-" + RoleViewer); !ok || err != nil {
		t.Fatal(ok, err)
	}
	ts.mustDo(401, "GET", "/api/v1/stations", tokens[RoleViewer], nil)
}

func TestNoTokensLoopbackOnly(t *testing.T) {
	ts := startServer(t, nil)
	ts.mustDo(200, "GET", "/api/v1/stations", "", nil)
	// fiber's in-memory test connection has a non-loopback remote address.
	resp, err := ts.srv.app.Test(httptest.NewRequest("GET", "/api/v1/stations", nil))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 403 {
		t.Fatalf("non-loopback client without tokens: status %d, want 403", resp.StatusCode)
	}
	resp, _ = ts.srv.app.Test(httptest.NewRequest("GET", "/healthz", nil))
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("healthz: %d", resp.StatusCode)
	}
}

func TestTokenStoreHashesOnly(t *testing.T) {
	dir := t.TempDir()
	ts, err := OpenTokenStore(dir)
	if err != nil {
		t.Fatal(err)
	}
	tok, err := ts.Create("ioc", RoleViewer, "HN")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := ts.Create("ioc", RoleViewer, ""); err == nil {
		t.Fatal("duplicate name accepted")
	}
	if _, err := ts.Create("x", "root", ""); err == nil {
		t.Fatal("unknown role accepted")
	}
	data, _ := readFile(dir + "/" + TokensFile)
	if strings.Contains(data, tok) || !strings.Contains(data, `"sha256"`) {
		t.Fatalf("token file holds the token or no hash: %s", data)
	}
	ts2, _ := OpenTokenStore(dir)
	info, ok := ts2.Lookup(tok)
	if !ok || info.Role != RoleViewer || info.Province != "HN" {
		t.Fatalf("lookup after reopen: %+v %v", info, ok)
	}
	if _, ok := ts2.Lookup(tok + "x"); ok {
		t.Fatal("wrong token accepted")
	}
}
