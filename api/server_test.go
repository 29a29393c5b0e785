package api

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/rs/zerolog"
	"go.uber.org/goleak"

	"github.com/quantrac/quantrac/model"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m,
		goleak.IgnoreAnyFunction("github.com/valyala/fasthttp.(*workerPool).Start.func2"),
		goleak.IgnoreAnyFunction("github.com/valyala/fasthttp.updateServerDate.func1"),
		// fasthttp's package-level compression workers.
		goleak.IgnoreAnyFunction("github.com/valyala/fasthttp/stackless.funcWorker"),
		goleak.IgnoreTopFunction("net/http.(*persistConn).readLoop"),
		goleak.IgnoreTopFunction("net/http.(*persistConn).writeLoop"),
		goleak.IgnoreAnyFunction("github.com/prometheus/prometheus/tsdb.(*DB).run"),
		goleak.IgnoreTopFunction("internal/poll.runtime_pollWait"),
		// Package-level tickers of VictoriaMetrics' lib (used by tsdb's codecs).
		goleak.IgnoreAnyFunction("github.com/VictoriaMetrics/VictoriaMetrics/lib/fasttime.init.0.func1"),
		goleak.IgnoreAnyFunction("github.com/VictoriaMetrics/VictoriaMetrics/lib/timeutil.init.0.func1"),
		goleak.IgnoreAnyFunction("github.com/VictoriaMetrics/VictoriaMetrics/lib/bytesutil.newInternStringMap.func1"),
	)
}

// testServer runs a server on the real tsdb in a temporary directory.
type testServer struct {
	t   *testing.T
	srv *Server
	url string
}

func startServer(t *testing.T, mutate func(*Config)) *testServer {
	t.Helper()
	cfg := DefaultConfig()
	cfg.HTTP = "127.0.0.1:0"
	cfg.DataDir = t.TempDir()
	if mutate != nil {
		mutate(&cfg)
	}
	srv, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if err := srv.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := srv.Shutdown(ctx); err != nil {
			t.Errorf("shutdown: %v", err)
		}
	})
	return &testServer{t: t, srv: srv, url: srv.URL()}
}

type reply struct {
	status int
	header http.Header
	body   []byte
}

func (r reply) json(t *testing.T, dst any) {
	t.Helper()
	if err := json.Unmarshal(r.body, dst); err != nil {
		t.Fatalf("answer %d is not JSON: %v: %s", r.status, err, r.body)
	}
}

// do sends a request; headers alternate name, value.
func (ts *testServer) do(method, path, token string, body []byte, headers ...string) reply {
	ts.t.Helper()
	req, err := http.NewRequest(method, ts.url+path, bytes.NewReader(body))
	if err != nil {
		ts.t.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		ts.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		ts.t.Fatal(err)
	}
	return reply{status: resp.StatusCode, header: resp.Header, body: b}
}

func (ts *testServer) mustDo(want int, method, path, token string, body []byte, headers ...string) reply {
	ts.t.Helper()
	r := ts.do(method, path, token, body, headers...)
	if r.status != want {
		ts.t.Fatalf("%s %s: status %d, want %d: %s", method, path, r.status, want, r.body)
	}
	return r
}

type seriesAnswer struct {
	Series []struct {
		Labels map[string]string `json:"labels"`
		Points [][]any           `json:"points"`
	} `json:"series"`
}

// points returns "metric{...}" → [[t, v]] of a native series answer.
func (ts *testServer) series(query, token string) map[string][][2]float64 {
	ts.t.Helper()
	r := ts.mustDo(200, "GET", "/api/v1/series?"+query, token, nil)
	var a seriesAnswer
	r.json(ts.t, &a)
	out := map[string][][2]float64{}
	for _, s := range a.Series {
		key := model.FromMap(s.Labels).String()
		for _, p := range s.Points {
			out[key] = append(out[key], [2]float64{p[0].(float64), p[1].(float64)})
		}
	}
	return out
}

func gz(t *testing.T, b []byte) []byte {
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	zw.Write(b)
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

const t0 = int64(1764032400000) // 2025-11-25T01:00:00Z = 08:00 in Hà Nội

func TestIngestNativeAndQuery(t *testing.T) {
	ts := startServer(t, nil)
	body := fmt.Sprintf(`{"series":[
	 {"labels":{"__name__":"pm25_ugm3","station":"HN-01","province":"HN","kind":"air"},"t":[%d,%d,%d],"v":[10,20,30],"q":[0,1,0]},
	 {"labels":{"__name__":"pm25_ugm3","station":"HN-02","province":"HN","kind":"air"},"t":[%d],"v":[5]},
	 {"labels":{"__name__":"bad-name","station":"HN-02"},"t":[%d],"v":[5]},
	 {"labels":{"__name__":"x","station":"HN-02"},"t":[%d,%d],"v":[5]}]}`, t0, t0+60000, t0+120000, t0, t0, t0, t0)
	r := ts.mustDo(200, "POST", "/api/v1/ingest", "", gz(t, []byte(body)), "Content-Encoding", "gzip")
	var a ingestAnswer
	r.json(t, &a)
	if a.Stored != 4 || a.Rejected != 3 || len(a.Errors) != 3 || a.Errors[0].Index != 4 || !strings.Contains(a.Errors[1].Reason, "2 timestamps but 1 values") {
		t.Fatalf("answer %s", r.body)
	}
	// Resending is idempotent.
	ts.mustDo(200, "POST", "/api/v1/ingest", "", []byte(body))
	q := fmt.Sprintf("match=pm25_ugm3{station=%%22HN-01%%22}&from=%d&to=%d", t0, t0+3600000)
	got := ts.series(q, "")
	want := [][2]float64{{float64(t0), 10}, {float64(t0 + 120000), 30}}
	if k := `pm25_ugm3{kind="air",province="HN",station="HN-01"}`; fmt.Sprint(got[k]) != fmt.Sprint(want) {
		t.Fatalf("good points %v, want %v", got, want)
	}
	r = ts.mustDo(200, "GET", "/api/v1/series?"+q+"&quality=all", "", nil)
	if !strings.Contains(string(r.body), `[1764032460000,20,"01"]`) {
		t.Fatalf("quality=all answer lacks the calibrating point: %s", r.body)
	}
	r = ts.mustDo(200, "GET", "/api/v1/latest?match=pm25_ugm3", "", nil)
	if !strings.Contains(string(r.body), `"station":"HN-02"},"t":1764032400000,"v":5,"q":"00"`) {
		t.Fatalf("latest: %s", r.body)
	}
}

func TestAggregateLocalDays(t *testing.T) {
	ts := startServer(t, nil)
	// Hourly values for two local days starting at local midnight
	// 2025-11-25 00:00 +07 = 2025-11-24T17:00Z; value = hour index.
	start := int64(1764003600000)
	var tsv, vs []string
	for h := 0; h < 48; h++ {
		tsv = append(tsv, fmt.Sprint(start+int64(h)*3600000))
		vs = append(vs, fmt.Sprint(h))
	}
	body := `{"series":[{"labels":{"__name__":"water_level_m","station":"HN-LB","province":"HN","kind":"hydrological"},"t":[` +
		strings.Join(tsv, ",") + `],"v":[` + strings.Join(vs, ",") + `]}]}`
	ts.mustDo(200, "POST", "/api/v1/ingest", "", []byte(body))
	got := ts.series("match=water_level_m&from=2025-11-25&to=2025-11-26&step=1d&agg=avg", "")
	want := [][2]float64{{float64(start), 11.5}, {float64(start + 86400000), 35.5}}
	for _, v := range got {
		if fmt.Sprint(v) != fmt.Sprint(want) {
			t.Fatalf("daily avg %v, want %v", v, want)
		}
	}
	got = ts.series("match=water_level_m&from=2025-11-25&to=2025-11-26&step=1d&agg=max&tz=UTC", "")
	for _, v := range got {
		// UTC days: 2025-11-24 holds hours 0..6, 2025-11-25 holds 7..30.
		if len(v) != 2 || v[0][1] != 30 || v[1][1] != 47 {
			t.Fatalf("UTC daily max %v", v)
		}
	}
}

func TestStationsStatus(t *testing.T) {
	ts := startServer(t, nil)
	ts.mustDo(200, "POST", "/api/v1/stations", "", []byte(`[
	 {"id":"HN-01","name":"Trạm Hoàn Kiếm","kind":"air","province":"HN","lat":21.02,"lon":105.85,"parameters":["pm25_ugm3"]},
	 {"id":"HN-02","name":"Trạm Cầu Giấy","kind":"air","province":"HN","lat":21.03,"lon":105.80},
	 {"id":"HN-03","name":"Trạm Long Biên","kind":"hydrological","province":"HN","lat":21.04,"lon":105.86},
	 {"id":"HN-04","name":"Trạm Tây Hồ","kind":"air","province":"HN","lat":21.06,"lon":105.82}]`))
	now := time.Now().UnixMilli()
	body := fmt.Sprintf(`{"series":[
	 {"labels":{"__name__":"pm25_ugm3","station":"HN-01","province":"HN","kind":"air"},"t":[%d],"v":[12.5]},
	 {"labels":{"__name__":"pm25_ugm3","station":"HN-02","province":"HN","kind":"air"},"t":[%d],"v":[12.5]},
	 {"labels":{"__name__":"water_level_m","station":"HN-03","province":"HN","kind":"hydrological"},"t":[%d],"v":[3.2],"q":[2]}]}`,
		now-60000, now-2*3600000, now-60000)
	ts.mustDo(200, "POST", "/api/v1/ingest", "", []byte(body))
	var st []stationView
	ts.mustDo(200, "GET", "/api/v1/stations", "", nil).json(t, &st)
	want := map[string]string{"HN-01": "online", "HN-02": "stale", "HN-03": "fault", "HN-04": "offline"}
	if len(st) != 4 {
		t.Fatalf("stations %+v", st)
	}
	for _, s := range st {
		if s.Status != want[s.ID] {
			t.Errorf("station %s: status %s, want %s", s.ID, s.Status, want[s.ID])
		}
	}
	if st[0].Name != "Trạm Hoàn Kiếm" || st[0].Values["pm25_ugm3"].V != 12.5 || st[0].Values["pm25_ugm3"].Q != "00" {
		t.Fatalf("station 0: %+v", st[0])
	}
	if st[2].Values["water_level_m"].Q != "02" {
		t.Fatalf("station 2 quality: %+v", st[2])
	}
	ts.mustDo(200, "GET", "/api/v1/stations?status=fault", "", nil).json(t, &st)
	if len(st) != 1 || st[0].ID != "HN-03" {
		t.Fatalf("status filter: %+v", st)
	}
	// The station file survives a restart.
	ss, err := OpenStationStore(ts.srv.cfg.DataDir)
	if err != nil || len(ss.List()) != 4 {
		t.Fatalf("station store after write: %v %v", ss, err)
	}
}

func TestCSVExport(t *testing.T) {
	ts := startServer(t, nil)
	body := fmt.Sprintf(`{"series":[
	 {"labels":{"__name__":"pm25_ugm3","station":"HN-01","province":"HN","kind":"air"},"t":[%d,%d],"v":[10.5,11]},
	 {"labels":{"__name__":"pm10_ugm3","station":"HN-01","province":"HN","kind":"air"},"t":[%d],"v":[20]},
	 {"labels":{"__name__":"pm25_ugm3","station":"Trạm 2","province":"HN","kind":"air"},"t":[%d],"v":[7]}]}`, t0, t0+3600000, t0, t0)
	ts.mustDo(200, "POST", "/api/v1/ingest", "", []byte(body))
	r := ts.mustDo(200, "GET", "/api/v1/export.csv?station=HN-01,Tr%E1%BA%A1m%202&param=pm25_ugm3,pm10_ugm3&from=2025-11-25&to=2025-11-26", "", nil)
	want := "\ufefftime,station,pm25_ugm3,pm10_ugm3\r\n" +
		"2025-11-25 08:00:00,HN-01,10.5,20\r\n" +
		"2025-11-25 09:00:00,HN-01,11,\r\n" +
		"2025-11-25 08:00:00,Trạm 2,7,\r\n"
	if string(r.body) != want {
		t.Fatalf("csv:\n%q\nwant\n%q", r.body, want)
	}
	if ct := r.header.Get("Content-Type"); ct != "text/csv; charset=utf-8" {
		t.Fatalf("content type %q", ct)
	}
	ts.mustDo(200, "POST", "/api/v1/ingest", "", []byte(fmt.Sprintf(`{"series":[{"labels":{"__name__":"pm10_ugm3","station":"HN-01","province":"HN","kind":"air"},"t":[%d],"v":[99],"q":[17]}]}`, t0+3600000)))
	r = ts.mustDo(200, "GET", "/api/v1/export.csv?station=HN-01&param=pm25_ugm3,pm10_ugm3&from=2025-11-25&to=2025-11-26&quality=all", "", nil)
	want = "\ufefftime,station,pm25_ugm3,pm25_ugm3_status,pm10_ugm3,pm10_ugm3_status\r\n" +
		"2025-11-25 08:00:00,HN-01,10.5,00,20,00\r\n" +
		"2025-11-25 09:00:00,HN-01,11,00,99,01+spike\r\n"
	if string(r.body) != want {
		t.Fatalf("csv with quality:\n%q\nwant\n%q", r.body, want)
	}
	r = ts.mustDo(200, "GET", "/api/v1/export.csv?station=HN-01&from=2025-11-25&to=2025-11-26&step=1d&agg=max", "", nil)
	want = "\ufefftime,station,pm10_ugm3,pm25_ugm3\r\n2025-11-25 00:00:00,HN-01,20,11\r\n"
	if string(r.body) != want {
		t.Fatalf("daily csv:\n%q\nwant\n%q", r.body, want)
	}
	// A typo in a parameter or a station id is a 400 naming it, not a file
	// with only a header row.
	r = ts.mustDo(400, "GET", "/api/v1/export.csv?station=HN-01&param=pm25_ugm,pm10_ugm3&from=2025-11-25&to=2025-11-26", "", nil)
	if !strings.Contains(string(r.body), `param \"pm25_ugm\"`) || !strings.Contains(string(r.body), "pm25_ugm3") {
		t.Fatalf("typo in param: %s", r.body)
	}
	r = ts.mustDo(400, "GET", "/api/v1/export.csv?station=HN-99&from=2025-11-25&to=2025-11-26", "", nil)
	if !strings.Contains(string(r.body), `station \"HN-99\"`) {
		t.Fatalf("unknown station: %s", r.body)
	}
}

func zerologNop() zerolog.Logger { return zerolog.Nop() }

func readFile(path string) (string, error) {
	b, err := os.ReadFile(path)
	return string(b), err
}
