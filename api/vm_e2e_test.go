package api

import (
	"fmt"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/quantrac/quantrac/vmstore/vmtest"
)

// TestVictoriaMetricsBackendAnswersLikeTSDB runs one server on the embedded
// tsdb and one on a real VictoriaMetrics (storage: victoriametrics), feeds
// both the same data and checks that the routes answer the same.
func TestVictoriaMetricsBackendAnswersLikeTSDB(t *testing.T) {
	vmURL := vmtest.Start(t)
	emb := startServer(t, nil)
	vm := startServer(t, func(c *Config) {
		c.Storage = StorageVictoriaMetrics
		c.VictoriaMetrics.URL = vmURL
	})
	// Two days of hourly data ending a few hours ago, one bad sample.
	loc, _ := time.LoadLocation("Asia/Ho_Chi_Minh")
	now := time.Now().In(loc)
	day := time.Date(now.Year(), now.Month(), now.Day(), 0, 0, 0, 0, loc).AddDate(0, 0, -2)
	start := day.UnixMilli()
	var b strings.Builder
	for h := 0; h < 48; h++ {
		fmt.Fprintf(&b, "pm25_ugm3{station=\"HN-01\",province=\"HN\",kind=\"air\"} %d %d\n", 10+h%7, start+int64(h)*3600000)
		fmt.Fprintf(&b, "water_level_m{station=\"HN-LB\",province=\"HN\",kind=\"hydrological\"} %.2f %d\n", 3+float64(h)/100, start+int64(h)*3600000)
	}
	native := fmt.Sprintf(`{"series":[{"labels":{"__name__":"pm25_ugm3","station":"HCM-01","province":"HCM","kind":"air"},"t":[%d,%d],"v":[40,41],"q":[0,2]}]}`, start, start+3600000)
	stations := `[{"id":"HN-01","name":"Trạm Hoàn Kiếm","kind":"air","province":"HN","lat":21.02,"lon":105.85}]`
	for _, ts := range []*testServer{emb, vm} {
		ts.mustDo(204, "POST", "/api/v1/import/prometheus", "", []byte(b.String()))
		ts.mustDo(200, "POST", "/api/v1/ingest", "", []byte(native))
		ts.mustDo(200, "POST", "/api/v1/stations", "", []byte(stations))
	}
	vmtest.Flush(t, vmURL)
	from, to := start, start+2*86400000-1
	s, e := start/1000, to/1000
	age := regexp.MustCompile(`"age_s":\d+`)
	for _, path := range []string{
		fmt.Sprintf("/api/v1/series?match=pm25_ugm3&from=%d&to=%d", from, to),
		fmt.Sprintf("/api/v1/series?match=pm25_ugm3&from=%d&to=%d&quality=all", from, to),
		fmt.Sprintf("/api/v1/series?match=%%7Bprovince=%%22HN%%22%%7D&from=%d&to=%d&step=1d&agg=avg", from, to),
		fmt.Sprintf("/api/v1/series?match=water_level_m&from=%d&to=%d&step=6h&agg=max&tz=UTC", from, to),
		"/api/v1/latest?match=pm25_ugm3",
		"/api/v1/stations",
		"/api/v1/labels",
		"/api/v1/label/station/values",
		"/api/v1/label/__name__/values",
		fmt.Sprintf("/api/v1/export.csv?station=HN-01,HN-LB&from=%d&to=%d", from, to),
		fmt.Sprintf("/api/v1/query_range?query=avg_over_time(pm25_ugm3[3h])&start=%d&end=%d&step=3600", s, e),
		fmt.Sprintf("/api/v1/query?query=sum(water_level_m)&time=%d", s+7200),
		fmt.Sprintf("/api/v1/series?match[]=pm25_ugm3&start=%d&end=%d", s, e),
		fmt.Sprintf("/api/v1/completeness?date=%s", day.Format("2006-01-02")),
	} {
		a := emb.mustDo(200, "GET", path, "", nil)
		v := vm.mustDo(200, "GET", path, "", nil)
		ab, vb := age.ReplaceAllString(string(a.body), ""), age.ReplaceAllString(string(v.body), "")
		if ab != vb {
			t.Errorf("GET %s differs:\ntsdb: %.800s\nvm:   %.800s", path, ab, vb)
		}
		if len(ab) < 40 {
			t.Errorf("GET %s: answer too small to compare: %s", path, ab)
		}
	}
}
