package collector

import (
	"bufio"
	"compress/gzip"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/quantrac/quantrac/model"
	"github.com/quantrac/quantrac/vmstore/vmtest"
)

// vmExport returns the points VictoriaMetrics holds for a selector.
func vmExport(t *testing.T, base, match string) map[string][]model.Point {
	resp, err := http.Get(base + "/api/v1/export?match[]=" + url.QueryEscape(match) + "&start=0")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	out := map[string][]model.Point{}
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 1<<20), 16<<20)
	for sc.Scan() {
		var line vmLine
		if err := json.Unmarshal(sc.Bytes(), &line); err != nil {
			t.Fatalf("export line %q: %v", sc.Text(), err)
		}
		k := model.FromMap(line.Metric).String()
		for i := range line.Values {
			out[k] = append(out[k], model.Point{T: line.Timestamps[i], V: line.Values[i]})
		}
	}
	return out
}

// TestVictoriaMetricsSink sends through a real single-node VictoriaMetrics:
// every acknowledged sample is queryable there, with quality companions for
// flagged ones.
func TestVictoriaMetricsSink(t *testing.T) {
	base := vmtest.Start(t)
	src := &pushSource{stations: []string{"P1", "P2"}, every: 5 * time.Millisecond, perBatch: 3, base: time.Now().Add(-time.Hour).UnixMilli() / 1000 * 1000, limit: 100}
	dir := t.TempDir()
	path := writeConfig(t, dir, fmt.Sprintf(`data_dir: %s
sink: {type: victoriametrics, url: %q, min_backoff: 50ms}
validation: {limits: {pm25_ugm3: {max: 50}}}
mqtt: {broker: "tcp://127.0.0.1:1", client_id: c1, subscriptions: [{topic: "a/{station}", format: number}]}
stations:
  - {id: P1, kind: air, province: HN, driver: mqtt}
  - {id: P2, kind: air, province: HN, driver: mqtt}
`, filepath.Join(dir, "queue"), base))
	cfg, err := LoadConfig(path)
	if err != nil {
		t.Fatal(err)
	}
	startCollector(t, cfg, Options{Logger: testLog(t), Drivers: pushDrivers(src)})
	waitFor(t, "all batches acknowledged", 30*time.Second, func() bool {
		src.mu.Lock()
		defer src.mu.Unlock()
		return len(src.acked) == 100
	})
	var got map[string][]model.Point
	waitFor(t, "samples queryable in VictoriaMetrics", 60*time.Second, func() bool {
		got = vmExport(t, base, `{station=~"P1|P2"}`)
		n := 0
		for k, pts := range got {
			if !strings.HasPrefix(k, QualityMetric) {
				n += len(pts)
			}
		}
		return n == 100*6
	})
	checkComplete(t, src, got)
	// pm25 values above 50 are flagged out of range: a quality point each.
	q := got[model.New(QualityMetric, "station", "P1", "province", "HN", "kind", "air", "metric", "pm25_ugm3").String()]
	if len(q) != 49 || q[0].V != float64(model.QualityOutOfRange) {
		t.Fatalf("quality companion points: %d (first %+v), want 49 out_of_range", len(q), q)
	}
}

func TestVMSinkURL(t *testing.T) {
	f := func(c SinkConfig, province, want string) {
		t.Helper()
		s := NewVMSink(c, nil).(*vmSink)
		if got := s.url(s.tenantOf(province)); got != want {
			t.Fatalf("url %q, want %q", got, want)
		}
	}
	f(SinkConfig{URL: "http://vm:8428/"}, "HN", "http://vm:8428/api/v1/import")
	f(SinkConfig{URL: "http://vminsert:8480", AccountID: "42"}, "HN", "http://vminsert:8480/insert/42/prometheus/api/v1/import")
	f(SinkConfig{URL: "http://vminsert:8480", AccountID: "0"}, "HN", "http://vminsert:8480/insert/0/prometheus/api/v1/import")
	tenants := SinkConfig{URL: "http://vminsert:8480", Tenants: map[string]int{"HN": 1, "HP": 2}}
	f(tenants, "HP", "http://vminsert:8480/insert/2/prometheus/api/v1/import")
	f(tenants, "QN", "http://vminsert:8480/insert/0/prometheus/api/v1/import")
}

// TestVMSinkTenants splits a batch by province into one import per tenant.
func TestVMSinkTenants(t *testing.T) {
	var mu sync.Mutex
	got := map[string]int{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		zr, err := gzip.NewReader(r.Body)
		if err != nil {
			http.Error(w, err.Error(), 400)
			return
		}
		n := 0
		sc := bufio.NewScanner(zr)
		for sc.Scan() {
			var line vmLine
			json.Unmarshal(sc.Bytes(), &line)
			if line.Metric["province"] == "" {
				t.Errorf("line without province: %s", sc.Text())
			}
			n += len(line.Values)
		}
		mu.Lock()
		got[r.URL.Path] += n
		mu.Unlock()
		w.WriteHeader(204)
	}))
	defer srv.Close()
	s := NewVMSink(SinkConfig{URL: srv.URL, Tenants: map[string]int{"HN": 1, "HP": 2}}, srv.Client())
	batch := []model.Sample{
		{Labels: model.New("ph", "province", "HN", "station", "A"), T: 1, V: 7},
		{Labels: model.New("ph", "province", "HP", "station", "B"), T: 1, V: 7, Q: model.QualityStuck},
		{Labels: model.New("ph", "province", "QN", "station", "C"), T: 1, V: 7},
		{Labels: model.New("ph", "province", "HN", "station", "A"), T: 2, V: 7},
	}
	if err := s.Send(context.Background(), batch); err != nil {
		t.Fatal(err)
	}
	want := map[string]int{"/insert/1/prometheus/api/v1/import": 2, "/insert/2/prometheus/api/v1/import": 2, "/insert/0/prometheus/api/v1/import": 1}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("points per tenant path %v, want %v (B's quality companion included)", got, want)
	}
}
