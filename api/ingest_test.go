package api

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/golang/snappy"
	"github.com/prometheus/prometheus/prompb"

	"github.com/quantrac/quantrac/model"
)

func TestIngestFormats(t *testing.T) {
	ts := startServer(t, nil)
	// VictoriaMetrics Prometheus text import.
	prom := fmt.Sprintf("# HELP pm25_ugm3 PM2.5\n"+
		"pm25_ugm3{station=\"HN-01\",province=\"HN\",kind=\"air\"} 12.5 %d\n"+
		"pm25_ugm3{station=\"HN-01\",province=\"HN\",kind=\"air\"} 13 %d\n"+
		"pm25_ugm3{station=\"HN-01\" 1 2\n"+
		"temperature_c{station=\"HN-01\",province=\"HN\",kind=\"weather\",note=\"a \\\"b\\\"\"} -1.5e1 %d\n", t0, t0+60000, t0)
	r := ts.mustDo(400, "POST", "/api/v1/import/prometheus?extra_label=source=test", "", []byte(prom))
	var a struct {
		ingestAnswer
		Error string `json:"error"`
	}
	r.json(t, &a)
	if a.Stored != 3 || a.Rejected != 1 || a.Errors[0].Index != 4 || !strings.Contains(a.Error, "line 4") {
		t.Fatalf("prometheus import answer: %s", r.body)
	}
	ts.mustDo(204, "POST", "/api/v1/import/prometheus", "", []byte(fmt.Sprintf("pm25_ugm3{station=\"HN-02\",province=\"HN\"} 1 %d\n", t0)))
	// VictoriaMetrics JSON lines.
	jl := fmt.Sprintf(`{"metric":{"__name__":"ph","station":"HN-03","province":"HN"},"values":[7.1,7.2],"timestamps":[%d,%d]}`+"\n", t0, t0+60000)
	ts.mustDo(204, "POST", "/api/v1/import", "", []byte(jl))
	// InfluxDB line protocol, seconds precision.
	influx := fmt.Sprintf("weather,station=HN-04,province=HN temperature_c=28.5,humidity_percent=80i,ok=t %d\nweather,station=HN-04 note=\"x\" %d\n", t0/1000, t0/1000)
	r = ts.mustDo(400, "POST", "/write?db=telegraf&precision=s", "", []byte(influx))
	if !strings.Contains(string(r.body), `"stored":3`) || !strings.Contains(string(r.body), "string fields") {
		t.Fatalf("influx answer: %s", r.body)
	}
	// Prometheus remote write.
	wr := prompb.WriteRequest{Timeseries: []prompb.TimeSeries{{
		Labels:  []prompb.Label{{Name: "__name__", Value: "do_mgl"}, {Name: "station", Value: "HN-05"}, {Name: "province", Value: "HN"}},
		Samples: []prompb.Sample{{Value: 6.5, Timestamp: t0}, {Value: 6.6, Timestamp: t0 + 60000}},
	}}}
	raw, err := wr.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	ts.mustDo(204, "POST", "/api/v1/write", "", snappy.Encode(nil, raw), "Content-Encoding", "snappy", "Content-Type", "application/x-protobuf")
	ts.mustDo(400, "POST", "/api/v1/write", "", []byte("not snappy at all"))

	from, to := t0-1000, t0+3600000
	check := func(match string, want map[string]string) {
		t.Helper()
		got := ts.series(fmt.Sprintf("match=%s&from=%d&to=%d", match, from, to), "")
		if len(got) != len(want) {
			t.Fatalf("%s: got %v, want %v", match, got, want)
		}
		for k, w := range want {
			if fmt.Sprint(got[k]) != w {
				t.Fatalf("%s: series %s = %v, want %s (all: %v)", match, k, got[k], w, got)
			}
		}
	}
	check("pm25_ugm3", map[string]string{
		`pm25_ugm3{kind="air",province="HN",source="test",station="HN-01"}`: "[[1.7640324e+12 12.5] [1.76403246e+12 13]]",
		`pm25_ugm3{province="HN",station="HN-02"}`:                          "[[1.7640324e+12 1]]",
	})
	check("temperature_c", map[string]string{
		`temperature_c{kind="weather",note="a \"b\"",province="HN",source="test",station="HN-01"}`: "[[1.7640324e+12 -15]]",
	})
	check("ph", map[string]string{`ph{province="HN",station="HN-03"}`: "[[1.7640324e+12 7.1] [1.76403246e+12 7.2]]"})
	check(`%7Bstation=%22HN-04%22%7D`, map[string]string{
		`weather_temperature_c{db="telegraf",province="HN",station="HN-04"}`:    "[[1.7640324e+12 28.5]]",
		`weather_humidity_percent{db="telegraf",province="HN",station="HN-04"}`: "[[1.7640324e+12 80]]",
		`weather_ok{db="telegraf",province="HN",station="HN-04"}`:               "[[1.7640324e+12 1]]",
	})
	check("do_mgl", map[string]string{`do_mgl{province="HN",station="HN-05"}`: "[[1.7640324e+12 6.5] [1.76403246e+12 6.6]]"})
}

func TestProvinceScope(t *testing.T) {
	ts := startServer(t, nil)
	hnIngest, err := ts.srv.Tokens().Create("hn-collector", RoleIngest, "HN")
	if err != nil {
		t.Fatal(err)
	}
	hnView, _ := ts.srv.Tokens().Create("hn-ioc", RoleViewer, "HN")
	admin, _ := ts.srv.Tokens().Create("root", RoleAdmin, "")
	body := fmt.Sprintf(`{"series":[
	 {"labels":{"__name__":"pm25_ugm3","station":"HN-01","province":"HN"},"t":[%d],"v":[1]},
	 {"labels":{"__name__":"pm25_ugm3","station":"HCM-01","province":"HCM"},"t":[%d],"v":[2]}]}`, t0, t0)
	var a ingestAnswer
	ts.mustDo(200, "POST", "/api/v1/ingest", hnIngest, []byte(body)).json(t, &a)
	if a.Stored != 1 || a.Rejected != 1 || !strings.Contains(a.Errors[0].Reason, `may only write province "HN"`) {
		t.Fatalf("scoped ingest: %+v", a)
	}
	ts.mustDo(200, "POST", "/api/v1/ingest", admin, []byte(body))
	q := fmt.Sprintf("match=pm25_ugm3&from=%d&to=%d", t0, t0)
	if got := ts.series(q, hnView); len(got) != 1 {
		t.Fatalf("HN viewer sees %v", got)
	}
	if got := ts.series(q, admin); len(got) != 2 {
		t.Fatalf("admin sees %v", got)
	}
	r := ts.mustDo(200, "GET", fmt.Sprintf("/api/v1/query?query=count(pm25_ugm3)&time=%d", t0/1000), hnView, nil)
	if !strings.Contains(string(r.body), `"1"]`) {
		t.Fatalf("HN viewer PromQL count: %s", r.body)
	}
	r = ts.mustDo(200, "GET", "/api/v1/label/province/values", hnView, nil)
	if string(r.body) != `{"status":"success","data":["HN"]}` {
		t.Fatalf("HN viewer label values: %s", r.body)
	}
}

func TestSeriesPerTenantLimit(t *testing.T) {
	ts := startServer(t, func(c *Config) { c.Limits.MaxSeriesPerTenant = 2 })
	var b strings.Builder
	for i := 0; i < 3; i++ {
		fmt.Fprintf(&b, "x{station=\"S%d\",province=\"HN\"} 1 %d\n", i, t0)
	}
	fmt.Fprintf(&b, "x{station=\"S0\",province=\"HN\"} 2 %d\n", t0+1000)
	fmt.Fprintf(&b, "x{station=\"S9\",province=\"DN\"} 2 %d\n", t0+1000)
	r := ts.mustDo(400, "POST", "/api/v1/import/prometheus", "", []byte(b.String()))
	if !strings.Contains(string(r.body), `"stored":4`) || !strings.Contains(string(r.body), "max_series_per_tenant") {
		t.Fatalf("limit answer: %s", r.body)
	}
}

func TestLimitsBodyAndSamples(t *testing.T) {
	ts := startServer(t, func(c *Config) { c.Limits.MaxSamplesPerRequest = 2; c.Limits.MaxBodyBytes = 4096 })
	r := ts.mustDo(413, "POST", "/api/v1/import/prometheus", "", []byte(fmt.Sprintf("a 1 %d\na 2 %d\na 3 %d\n", t0, t0+1, t0+2)))
	if !strings.Contains(string(r.body), "max_samples_per_request") {
		t.Fatalf("samples limit: %s", r.body)
	}
	ts.mustDo(413, "POST", "/api/v1/import/prometheus", "", []byte(strings.Repeat("#", 5000)))
	// A small gzip body that inflates past the limit.
	r = ts.mustDo(413, "POST", "/api/v1/ingest", "", gz(t, []byte(strings.Repeat(" ", 100000))), "Content-Encoding", "gzip")
	if !strings.Contains(string(r.body), "max_body_bytes") {
		t.Fatalf("gzip bomb: %s", r.body)
	}
}

// slowStore is a storage whose Append waits until released, to show how
// the server answers when the engine is behind.
type slowStore struct {
	model.Storage
	release chan struct{}
	once    sync.Once
}

func (s *slowStore) Append(ctx context.Context, b []model.Sample) (model.AppendResult, error) {
	select {
	case <-s.release:
	case <-ctx.Done():
		return model.AppendResult{}, ctx.Err()
	}
	return s.Storage.Append(ctx, b)
}

func TestBackpressure(t *testing.T) {
	base, err := openTSDB(Config{DataDir: t.TempDir(), Timezone: "UTC"}, zerologNop())
	if err != nil {
		t.Fatal(err)
	}
	defer base.Close()
	slow := &slowStore{Storage: base, release: make(chan struct{})}
	ts := startServer(t, func(c *Config) {
		c.Store = slow
		c.Limits.MaxConcurrentInserts = 1
		c.Limits.MaxQueuedInserts = 1
		c.Limits.InsertWait = 200 * time.Millisecond
	})
	body := []byte(fmt.Sprintf("a 1 %d\n", t0))
	done := make(chan reply, 1)
	go func() { done <- ts.do("POST", "/api/v1/import/prometheus", "", body) }()
	time.Sleep(100 * time.Millisecond) // the first request holds the only slot
	waiting := make(chan reply, 1)
	go func() { waiting <- ts.do("POST", "/api/v1/import/prometheus", "", body) }()
	// While one waits, a third is refused at once with 429; the waiting one
	// gets 503 after insert_wait. Both say when to retry.
	var r3 reply
	for i := 0; i < 50; i++ {
		time.Sleep(20 * time.Millisecond)
		if r3 = ts.do("POST", "/api/v1/import/prometheus", "", body); r3.status == 429 {
			break
		}
	}
	if r3.status != 429 || r3.header.Get("Retry-After") == "" {
		t.Fatalf("third request: %d %s", r3.status, r3.body)
	}
	r2 := <-waiting
	if r2.status != 503 || r2.header.Get("Retry-After") == "" {
		t.Fatalf("waiting request: %d %s", r2.status, r2.body)
	}
	close(slow.release)
	if r1 := <-done; r1.status != 204 {
		t.Fatalf("first request: %d %s", r1.status, r1.body)
	}
}
