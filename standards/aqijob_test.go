package standards

import (
	"context"
	"math"
	"testing"
	"time"

	"github.com/quantrac/quantrac/model"
	"github.com/quantrac/quantrac/tsdb"
)

func openTSDB(t *testing.T) *tsdb.DB {
	t.Helper()
	db, err := tsdb.Open(t.TempDir(), tsdb.DefaultOptions())
	if err != nil {
		t.Fatalf("open tsdb: %v", err)
	}
	t.Cleanup(func() {
		if err := db.Close(); err != nil {
			t.Errorf("close tsdb: %v", err)
		}
	})
	return db
}

// beijingSamples turns hours [from, to) of s into samples stamped 10 minutes
// into each hour, skipping missing values and the pollutants in skip.
func beijingSamples(s *StationHours, from, to int, skip ...Pollutant) []model.Sample {
	var out []model.Sample
	for _, p := range Pollutants() {
		skipped := false
		for _, q := range skip {
			skipped = skipped || p == q
		}
		if skipped {
			continue
		}
		ls := model.New(p.Metric(), "station", "Dongsi", "province", "BJ", "kind", "air")
		for i := from; i < to; i++ {
			if v := s.At(p, i); !math.IsNaN(v) {
				out = append(out, model.Sample{Labels: ls, T: s.HourStart(i) + 10*60*1000, V: v})
			}
		}
	}
	return out
}

func appendAll(t *testing.T, w model.Writer, batch []model.Sample) {
	t.Helper()
	res, err := w.Append(context.Background(), batch)
	if err != nil || res.Rejected != 0 {
		t.Fatalf("append: %v %+v", err, res.Errors)
	}
}

// readAQI returns metric{pollutant=...} values by timestamp.
func readAQI(t *testing.T, r model.Reader, metric, pollutant string) map[int64]float64 {
	t.Helper()
	ms, err := model.ParseSelector(metric + `{pollutant="` + pollutant + `",station="Dongsi"}`)
	if err != nil {
		t.Fatal(err)
	}
	out := map[int64]float64{}
	err = r.Select(context.Background(), model.SelectQuery{Matchers: ms, From: 0, To: model.MaxTime - 1}, func(ls model.Labels, pts []model.Point) error {
		if ls.Get("province") != "BJ" || ls.Get("kind") != "air" {
			t.Errorf("derived series %s lost the station's labels", ls)
		}
		for _, p := range pts {
			out[p.T] = p.V
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func newTestJob(t *testing.T, db *tsdb.DB, now time.Time) *AQIJob {
	t.Helper()
	// A small batch size exercises chunked appends; the 30-day lookback,
	// recomputation a week at a time.
	j, err := NewAQIJob(db, db, AQIJobOptions{Location: beijingLoc, Lookback: 30 * 24 * time.Hour, BatchSize: 997, Now: func() time.Time { return now }})
	if err != nil {
		t.Fatal(err)
	}
	return j
}

// The job over the real tsdb gives the same hourly and daily values as the
// pure functions over the same data.
func TestAQIJobBeijingTSDB(t *testing.T) {
	s := loadBeijing(t)
	db := openTSDB(t)
	appendAll(t, db, beijingSamples(s, 0, s.Len()))
	end := time.UnixMilli(s.HourStart(s.Len()))
	j := newTestJob(t, db, end.Add(30*time.Minute))
	st, err := j.RunOnce(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if st.Stations != 1 || st.Written == 0 || st.Rejected != 0 {
		t.Fatalf("stats %+v", st)
	}
	hourly := readAQI(t, db, MetricAQI, OverallLabel)
	pm25 := readAQI(t, db, MetricAQI, "pm25")
	n := 0
	for i := 0; i < s.Len(); i++ {
		want := HourlyVNAQI(s, i)
		got, ok := hourly[s.HourStart(i)]
		if ok != want.OK || (ok && got != float64(want.AQI)) {
			t.Errorf("hour %d: job %v (%v); want %d (%v)", i, got, ok, want.AQI, want.OK)
		}
		if g, ok := pm25[s.HourStart(i)]; ok != want.Sub[PM25].OK || (ok && g != float64(want.Sub[PM25].AQI())) {
			t.Errorf("hour %d pm25: job %v; want %+v", i, g, want.Sub[PM25])
		}
		n++
	}
	daily := readAQI(t, db, MetricAQIDaily, OverallLabel)
	if len(daily) != s.Len()/24 {
		t.Errorf("%d daily values; want %d", len(daily), s.Len()/24)
	}
	for i := 0; i+24 <= s.Len(); i += 24 {
		want := DailyVNAQI(s, i, DailyOptions{})
		if got := daily[s.HourStart(i)]; !want.OK || got != float64(want.AQI) {
			t.Errorf("day %d: job %v; want %+v", i/24, got, want.AQI)
		}
	}
	// A second run with nothing new writes nothing.
	st, err = j.RunOnce(context.Background())
	if err != nil || st.Written != 0 {
		t.Fatalf("second run: %+v, %v", st, err)
	}
}

// Late data: PM2.5 of the last 6 hours arrives after a run; the next run
// recomputes the affected hours and the day.
func TestAQIJobLateData(t *testing.T) {
	s := loadBeijing(t)
	db := openTSDB(t)
	n := s.Len()
	appendAll(t, db, beijingSamples(s, 0, n-6))
	appendAll(t, db, beijingSamples(s, n-6, n, PM25))
	end := time.UnixMilli(s.HourStart(n))
	j := newTestJob(t, db, end.Add(time.Minute))
	if _, err := j.RunOnce(context.Background()); err != nil {
		t.Fatal(err)
	}
	before := readAQI(t, db, MetricAQI, "pm25")
	if _, ok := before[s.HourStart(n-1)]; ok {
		t.Fatal("pm25 sub-index without PM2.5 data in the last 3 hours")
	}
	// The late PM2.5 hours arrive.
	late := make([]model.Sample, 0, 6)
	for _, smp := range beijingSamples(s, n-6, n) {
		if smp.Labels.Metric() == PM25.Metric() {
			late = append(late, smp)
		}
	}
	appendAll(t, db, late)
	st, err := j.RunOnce(context.Background())
	if err != nil || st.Written == 0 {
		t.Fatalf("run after late data: %+v, %v", st, err)
	}
	after := readAQI(t, db, MetricAQI, "pm25")
	overall := readAQI(t, db, MetricAQI, OverallLabel)
	for i := n - 6; i < n; i++ {
		want := HourlyVNAQI(s, i)
		if after[s.HourStart(i)] != float64(want.Sub[PM25].AQI()) || overall[s.HourStart(i)] != float64(want.AQI) {
			t.Errorf("hour %d after late data: pm25 %v overall %v; want %+v", i, after[s.HourStart(i)], overall[s.HourStart(i)], want)
		}
	}
}

func TestAQIJobRunStops(t *testing.T) {
	db := openTSDB(t)
	j, err := NewAQIJob(db, db, AQIJobOptions{Interval: 5 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- j.Run(ctx) }()
	time.Sleep(20 * time.Millisecond)
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("Run returned %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Run did not stop after cancel")
	}
}

func TestNewAQIJobErrors(t *testing.T) {
	db := openTSDB(t)
	if _, err := NewAQIJob(nil, db, AQIJobOptions{}); err == nil {
		t.Error("nil reader accepted")
	}
	if _, err := NewAQIJob(db, db, AQIJobOptions{Selector: `pm25_ugm3{station="x"}`}); err == nil {
		t.Error("selector with a metric accepted")
	}
	if _, err := NewAQIJob(db, db, AQIJobOptions{Selector: `{station=`}); err == nil {
		t.Error("bad selector accepted")
	}
	if _, err := NewAQIJob(db, db, AQIJobOptions{Lookback: time.Hour}); err == nil {
		t.Error("1h lookback accepted")
	}
}

func TestDailyCompletenessTSDB(t *testing.T) {
	db := openTSDB(t)
	day := time.Date(2026, 11, 24, 0, 0, 0, 0, vnLocal)
	a := model.New("pm25_ugm3", "station", "HN-01", "province", "HN", "kind", "air")
	b := model.New("water_level_m", "station", "HN-LongBien", "province", "HN", "kind", "hydrological")
	var batch []model.Sample
	// Station A every 10 minutes, 144 expected: 120 arrive, 12 of them calibrating, 6 flagged.
	for i := 0; i < 120; i++ {
		q := model.QualityGood
		switch {
		case i < 12:
			q = model.QualityCalibrating
		case i < 18:
			q = model.QualitySpike
		}
		batch = append(batch, model.Sample{Labels: a, T: day.Add(time.Duration(i) * 10 * time.Minute).UnixMilli(), V: 20, Q: q})
	}
	// Station B reported hourly the day before, nothing on the day.
	for h := 0; h < 24; h++ {
		batch = append(batch, model.Sample{Labels: b, T: day.Add(time.Duration(h-24) * time.Hour).UnixMilli(), V: 5})
	}
	appendAll(t, db, batch)
	rows, err := DailyCompleteness(context.Background(), db, day.Add(5*time.Hour), CompletenessOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if len(rows) != 2 {
		t.Fatalf("rows %+v", rows)
	}
	ra, rb := rows[0], rows[1]
	if ra.Station != "HN-01" || ra.Expected != 144 || ra.Received != 120 || ra.Status00 != 108 || ra.Good != 102 ||
		ra.IntervalSource != "inferred" || math.Abs(ra.Ratio-108.0/144) > 1e-12 || ra.Day != "2026-11-24" {
		t.Errorf("station A: %+v", ra)
	}
	if rb.Station != "HN-LongBien" || rb.Expected != 24 || rb.Received != 0 || rb.Ratio != 0 || rb.IntervalSource != "history" {
		t.Errorf("station B: %+v", rb)
	}
	// A configured interval wins.
	rows, err = DailyCompleteness(context.Background(), db, day, CompletenessOptions{Intervals: map[string]time.Duration{"pm25_ugm3": 5 * time.Minute}})
	if err != nil || rows[0].Expected != 288 || rows[0].IntervalSource != "configured" {
		t.Errorf("configured: %+v %v", rows, err)
	}
}
