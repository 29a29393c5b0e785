package vmstore

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/quantrac/quantrac/model"
	"github.com/quantrac/quantrac/vmstore/vmtest"
)

const t0 = int64(1764003600000) // 2025-11-25 00:00 in Hà Nội

var hcm = func() *time.Location { l, _ := time.LoadLocation("Asia/Ho_Chi_Minh"); return l }()

func TestStoreAgainstVictoriaMetrics(t *testing.T) {
	url := vmtest.Start(t)
	st, err := New(Options{URL: url, LatestLookback: 5 * 365 * 24 * time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	ctx := context.Background()
	pm := model.New("pm25_ugm3", "station", "HN-01", "province", "HN", "kind", "air")
	pm2 := model.New("pm25_ugm3", "station", "HN-02", "province", "HN", "kind", "air")
	var batch []model.Sample
	for h := 0; h < 48; h++ {
		q := model.QualityGood
		if h == 5 {
			q = model.QualityCalibrating
		}
		batch = append(batch, model.Sample{Labels: pm, T: t0 + int64(h)*3600000, V: float64(h), Q: q})
	}
	batch = append(batch, model.Sample{Labels: pm2, T: t0, V: 7.5})
	batch = append(batch, model.Sample{Labels: model.New("bad name"), T: t0, V: 1})
	res, err := st.Append(ctx, batch)
	if err != nil {
		t.Fatal(err)
	}
	if res.Stored != 49 || res.Rejected != 1 || res.Errors[0].Index != 49 {
		t.Fatalf("append result %+v", res)
	}
	// A resend of one sample with a new value replaces it.
	if _, err := st.Append(ctx, []model.Sample{{Labels: pm2, T: t0, V: 8}}); err != nil {
		t.Fatal(err)
	}
	vmtest.Flush(t, url)

	all := []*model.Matcher{model.MustMatcher(model.MatchEqual, model.MetricName, "pm25_ugm3")}
	var got []string
	err = st.Select(ctx, model.SelectQuery{Matchers: all, From: t0, To: t0 + 6*3600000}, func(ls model.Labels, pts []model.Point) error {
		got = append(got, fmt.Sprint(ls.Get("station"), " ", len(pts), pts[len(pts)-1]))
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if fmt.Sprint(got) != "[HN-01 6 {1764025200000 6 00} HN-02 1 {1764003600000 8 00}]" {
		t.Fatalf("select good: %v", got)
	}
	got = nil
	st.Select(ctx, model.SelectQuery{Matchers: all, From: t0 + 5*3600000, To: t0 + 5*3600000, IncludeBad: true}, func(ls model.Labels, pts []model.Point) error {
		got = append(got, fmt.Sprint(ls.Get("station"), " ", pts))
		return nil
	})
	if fmt.Sprint(got) != "[HN-01 [{1764021600000 5 01}]]" {
		t.Fatalf("select with bad: %v", got)
	}
	got = nil
	err = st.Aggregate(ctx, model.AggregateQuery{Matchers: all[:1], From: t0, To: t0 + 47*3600000, Step: 24 * time.Hour, Func: model.AggAvg, Location: hcm},
		func(ls model.Labels, pts []model.Point) error {
			got = append(got, fmt.Sprint(ls.Get("station"), " ", pts))
			return nil
		})
	if err != nil {
		t.Fatal(err)
	}
	// Day 1: hours 0..23 without 5 → (276-5)/23.
	want := fmt.Sprintf("[HN-01 [{%d %v 00} {%d 35.5 00}] HN-02 [{%d 8 00}]]", t0, float64(276-5)/23, t0+86400000, t0)
	if fmt.Sprint(got) != want {
		t.Fatalf("daily avg: %v, want %v", got, want)
	}
	got = nil
	err = st.Latest(ctx, all, func(ls model.Labels, p model.Point) error {
		got = append(got, fmt.Sprint(ls.Get("station"), " ", p))
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if fmt.Sprint(got) != "[HN-01 {1764172800000 47 00} HN-02 {1764003600000 8 00}]" {
		t.Fatalf("latest: %v", got)
	}
	names, err := st.LabelNames(ctx, nil)
	if err != nil || fmt.Sprint(names) != "[__name__ kind province station]" {
		t.Fatalf("label names %v %v", names, err)
	}
	vals, err := st.LabelValues(ctx, model.MetricName, nil)
	if err != nil || fmt.Sprint(vals) != "[pm25_ugm3]" {
		t.Fatalf("metric names %v %v (the quality series must stay hidden)", vals, err)
	}
	vals, err = st.LabelValues(ctx, "station", all)
	if err != nil || fmt.Sprint(vals) != "[HN-01 HN-02]" {
		t.Fatalf("stations %v %v", vals, err)
	}
}

// TestClusterTenantPaths checks that each province goes to its tenant's
// insert path and that reads pinned to a province ask only its tenant.
func TestClusterTenantPaths(t *testing.T) {
	var mu sync.Mutex
	var paths []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		mu.Lock()
		paths = append(paths, r.URL.Path+" "+fmt.Sprint(strings.Count(string(body), "\n")))
		mu.Unlock()
		if strings.HasSuffix(r.URL.Path, "/export") {
			return
		}
		if strings.Contains(r.URL.Path, "/insert/") {
			w.WriteHeader(204)
			return
		}
		fmt.Fprint(w, `{"status":"success","data":[]}`)
	}))
	defer srv.Close()
	st, err := New(Options{Cluster: true, InsertURL: srv.URL, SelectURL: srv.URL, Tenants: map[string]int{"HN": 1, "HCM": 2}, DefaultTenant: 9})
	if err != nil {
		t.Fatal(err)
	}
	_, err = st.Append(context.Background(), []model.Sample{
		{Labels: model.New("x", "province", "HN"), T: t0, V: 1},
		{Labels: model.New("x", "province", "HCM"), T: t0, V: 1},
		{Labels: model.New("x", "province", "DN"), T: t0, V: 1},
	})
	if err != nil {
		t.Fatal(err)
	}
	ms := []*model.Matcher{model.MustMatcher(model.MatchEqual, "province", "HCM")}
	st.Select(context.Background(), model.SelectQuery{Matchers: ms, From: 0, To: t0}, func(model.Labels, []model.Point) error { return nil })
	st.LabelNames(context.Background(), nil)
	mu.Lock()
	defer mu.Unlock()
	got := strings.Join(paths, "\n")
	for _, want := range []string{
		"/insert/1/prometheus/api/v1/import 1", "/insert/2/prometheus/api/v1/import 1", "/insert/9/prometheus/api/v1/import 1",
		"/select/2/prometheus/api/v1/export", "/select/1/prometheus/api/v1/labels", "/select/9/prometheus/api/v1/labels",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("no request %q in:\n%s", want, got)
		}
	}
	if strings.Contains(got, "/select/1/prometheus/api/v1/export") {
		t.Errorf("a read pinned to HCM asked tenant 1:\n%s", got)
	}
}

func TestBucketStart(t *testing.T) {
	f := func(tm string, step time.Duration, want string) {
		t.Helper()
		tt, _ := time.ParseInLocation("2006-01-02 15:04", tm, hcm)
		got := time.UnixMilli(BucketStart(tt.UnixMilli(), step, hcm)).In(hcm).Format("2006-01-02 15:04")
		if got != want {
			t.Fatalf("BucketStart(%s, %s) = %s, want %s", tm, step, got, want)
		}
	}
	f("2025-11-25 06:59", 24*time.Hour, "2025-11-25 00:00")
	f("2025-11-25 00:00", 24*time.Hour, "2025-11-25 00:00")
	f("2025-11-25 13:59", time.Hour, "2025-11-25 13:00")
	f("2025-11-25 13:59", 8*time.Hour, "2025-11-25 08:00")
	f("2025-11-25 13:59", 15*time.Minute, "2025-11-25 13:45")
}

// TestClusterTenants writes two provinces through a real cluster and reads
// them back: each lands in its own tenant.
func TestClusterTenants(t *testing.T) {
	c := vmtest.StartCluster(t)
	st, err := New(Options{Cluster: true, InsertURL: c.InsertURL, SelectURL: c.SelectURL,
		Tenants: map[string]int{"HN": 1, "HCM": 2}, LatestLookback: 5 * 365 * 24 * time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	ctx := context.Background()
	_, err = st.Append(ctx, []model.Sample{
		{Labels: model.New("pm25_ugm3", "station", "HN-01", "province", "HN"), T: t0, V: 1},
		{Labels: model.New("pm25_ugm3", "station", "HCM-01", "province", "HCM"), T: t0, V: 2, Q: model.QualityDeviceError},
	})
	if err != nil {
		t.Fatal(err)
	}
	// vminsert forwards in the background: wait until tenant 2 holds
	// HCM, and only HCM.
	var b []byte
	for end := time.Now().Add(15 * time.Second); time.Now().Before(end); time.Sleep(200 * time.Millisecond) {
		vmtest.Flush(t, c.Storage)
		resp, err := http.Get(c.SelectURL + "/select/2/prometheus/api/v1/label/station/values?start=1")
		if err != nil {
			t.Fatal(err)
		}
		b, _ = io.ReadAll(resp.Body)
		resp.Body.Close()
		if strings.Contains(string(b), "HCM-01") {
			break
		}
	}
	if !strings.Contains(string(b), `["HCM-01"]`) {
		t.Fatalf("tenant 2 stations: %s", b)
	}
	var got []string
	deadline := time.Now().Add(10 * time.Second)
	for {
		got = nil
		err = st.Select(ctx, model.SelectQuery{Matchers: []*model.Matcher{model.MustMatcher(model.MatchEqual, model.MetricName, "pm25_ugm3")}, From: t0, To: t0, IncludeBad: true},
			func(ls model.Labels, pts []model.Point) error {
				got = append(got, fmt.Sprint(ls.Get("station"), " ", pts))
				return nil
			})
		if err != nil {
			t.Fatal(err)
		}
		if len(got) == 2 || time.Now().After(deadline) {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	if fmt.Sprint(got) != "[HCM-01 [{1764003600000 2 02}] HN-01 [{1764003600000 1 00}]]" {
		t.Fatalf("select across tenants: %v", got)
	}
}
