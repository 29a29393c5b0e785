package promstore

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"math/rand"
	"sort"
	"testing"
	"time"

	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/promql"
	"github.com/prometheus/prometheus/storage"
	ptsdb "github.com/prometheus/prometheus/tsdb"

	"github.com/quantrac/quantrac/model"
	"github.com/quantrac/quantrac/tsdb"
)

// compatData is a deterministic day of readings: 1-minute PM2.5 at three
// stations with gaps, a 10-minute water level, and a counter with a reset.
func compatData(start int64) []model.Sample {
	rng := rand.New(rand.NewSource(1))
	var out []model.Sample
	for _, st := range []struct{ id, prov string }{{"HN-01", "HN"}, {"HN-02", "HN"}, {"HCM-01", "HCM"}} {
		ls := model.New("pm25_ugm3", "station", st.id, "province", st.prov, "kind", "air")
		v := 30.0
		for i := 0; i < 24*60; i++ {
			if rng.Intn(20) == 0 { // gaps
				continue
			}
			v += rng.NormFloat64()
			if v < 0 {
				v = 0
			}
			out = append(out, model.Sample{Labels: ls, T: start + int64(i)*60000 + int64(rng.Intn(5000)), V: float64(int(v*10)) / 10})
		}
	}
	wl := model.New("water_level_m", "station", "HN-LB", "province", "HN", "kind", "hydrological")
	for i := 0; i < 24*6; i++ {
		out = append(out, model.Sample{Labels: wl, T: start + int64(i)*600000, V: 3 + float64(i%37)/100})
	}
	cnt := model.New("rainfall_mm_total", "station", "HN-LB", "province", "HN", "kind", "hydrological")
	total := 0.0
	for i := 0; i < 24*60; i++ {
		if i == 700 {
			total = 0 // counter reset (logger restart)
		}
		total += float64(rng.Intn(3)) * 0.5
		out = append(out, model.Sample{Labels: cnt, T: start + int64(i)*60000, V: total})
	}
	return out
}

var compatQueries = []string{
	`pm25_ugm3`,
	`pm25_ugm3{station=~"HN-.*"}`,
	`pm25_ugm3{province!="HN"}`,
	`{__name__=~"pm25_ugm3|water_level_m"}`,
	`sum by (province) (pm25_ugm3)`,
	`avg(pm25_ugm3)`,
	`count(pm25_ugm3)`,
	`topk(2, pm25_ugm3)`,
	`max_over_time(pm25_ugm3[1h])`,
	`avg_over_time(pm25_ugm3[1h])`,
	`min_over_time(pm25_ugm3[30m])`,
	`sum_over_time(pm25_ugm3[15m])`,
	`count_over_time(pm25_ugm3[15m])`,
	`last_over_time(pm25_ugm3[10m])`,
	`stddev_over_time(pm25_ugm3[1h])`,
	`quantile_over_time(0.9, pm25_ugm3[1h])`,
	`present_over_time(water_level_m[20m])`,
	`rate(rainfall_mm_total[5m])`,
	`increase(rainfall_mm_total[1h])`,
	`irate(rainfall_mm_total[5m])`,
	`resets(rainfall_mm_total[1h])`,
	`changes(water_level_m[2h])`,
	`deriv(water_level_m[1h])`,
	`predict_linear(water_level_m[1h], 3600)`,
	`delta(water_level_m[1h])`,
	`pm25_ugm3 offset 30m`,
	`pm25_ugm3 @ 1764043200`,
	`timestamp(water_level_m)`,
	`avg_over_time(pm25_ugm3[1d:1h])`,
	`max(max_over_time(pm25_ugm3[6h:10m])) by (province)`,
	`pm25_ugm3 > 10`,
	`pm25_ugm3 / on(station) group_left sum by (station) (pm25_ugm3)`,
	`label_replace(water_level_m, "river", "Hong", "station", "HN-LB")`,
	`absent(no_such_series)`,
	`vector(1) + 1`,
	`scalar(count(pm25_ugm3))`,
	`clamp_max(pm25_ugm3, 30)`,
	`round(avg_over_time(water_level_m[3h]), 0.1)`,
}

func TestPromQLMatchesPrometheusTSDB(t *testing.T) {
	start := int64(1764003600000) // 2025-11-25 00:00 +07
	data := compatData(start)
	ctx := context.Background()

	ours, err := tsdb.Open(t.TempDir(), tsdb.DefaultOptions())
	if err != nil {
		t.Fatal(err)
	}
	defer ours.Close()
	// Append in shuffled batches: order of arrival must not matter.
	rng := rand.New(rand.NewSource(2))
	shuffled := append([]model.Sample(nil), data...)
	rng.Shuffle(len(shuffled), func(i, j int) { shuffled[i], shuffled[j] = shuffled[j], shuffled[i] })
	for i := 0; i < len(shuffled); i += 1000 {
		res, err := ours.Append(ctx, shuffled[i:min(i+1000, len(shuffled))])
		if err != nil || res.Rejected > 0 {
			t.Fatalf("append: %v %+v", err, res)
		}
	}

	popts := ptsdb.DefaultOptions()
	popts.OutOfOrderTimeWindow = (10 * 365 * 24 * time.Hour).Milliseconds()
	logger := slog.New(slog.NewTextHandler(io.Discard, nil))
	theirs, err := ptsdb.Open(t.TempDir(), logger, nil, popts, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer theirs.Close()
	// Series created in label order, so that Prometheus' storage order
	// (by creation) equals ours (by labels) and float sums add up in the
	// same order.
	sorted := append([]model.Sample(nil), data...)
	sort.SliceStable(sorted, func(i, j int) bool { return sorted[i].Labels.Compare(sorted[j].Labels) < 0 })
	app := theirs.Appender(ctx)
	for _, s := range sorted {
		if _, err := app.Append(0, ToLabels(s.Labels), s.T, s.V); err != nil {
			t.Fatalf("prometheus append %s: %v", s.Labels, err)
		}
	}
	if err := app.Commit(); err != nil {
		t.Fatal(err)
	}

	eng := promql.NewEngine(promql.EngineOpts{
		Logger: logger, MaxSamples: 50_000_000, Timeout: time.Minute, LookbackDelta: 5 * time.Minute,
		EnableAtModifier: true, EnableNegativeOffset: true,
		NoStepSubqueryIntervalFn: func(int64) int64 { return 60000 },
	})
	q := &Queryable{Reader: ours}
	end := time.UnixMilli(start + 24*3600000)
	for _, qs := range compatQueries {
		for _, mode := range []string{"instant", "range"} {
			eval := func(st storage.Queryable) string {
				var qry promql.Query
				var err error
				if mode == "instant" {
					qry, err = eng.NewInstantQuery(ctx, st, nil, qs, time.UnixMilli(start+12*3600000+30000))
				} else {
					qry, err = eng.NewRangeQuery(ctx, st, nil, qs, time.UnixMilli(start), end, 7*time.Minute)
				}
				if err != nil {
					return "error: " + err.Error()
				}
				defer qry.Close()
				res := qry.Exec(ctx)
				if res.Err != nil {
					return "error: " + res.Err.Error()
				}
				if v, ok := res.Value.(promql.Vector); ok {
					// Instant vectors come in storage order, which the API
					// does not define; compare them sorted.
					sort.Slice(v, func(i, j int) bool { return labels.Compare(v[i].Metric, v[j].Metric) < 0 })
				}
				return res.Value.String()
			}
			got, want := eval(q), eval(theirs)
			if got != want {
				t.Errorf("%s query %q differs:\nours:   %.600s\ntheirs: %.600s", mode, qs, got, want)
			} else if len(want) < 3 {
				t.Errorf("%s query %q: empty answer %q (test data does not exercise it)", mode, qs, want)
			}
		}
	}
	// Label APIs agree too.
	for _, name := range []string{"station", "__name__", "province"} {
		ourQ, _ := q.Querier(start, end.UnixMilli())
		theirQ, _ := theirs.Querier(start, end.UnixMilli())
		m := labels.MustNewMatcher(labels.MatchRegexp, "__name__", ".+")
		a, _, err1 := ourQ.LabelValues(ctx, name, nil, m)
		b, _, err2 := theirQ.LabelValues(ctx, name, nil, m)
		if err1 != nil || err2 != nil || fmt.Sprint(a) != fmt.Sprint(b) {
			t.Errorf("label values %s: ours %v (%v), theirs %v (%v)", name, a, err1, b, err2)
		}
		ourQ.Close()
		theirQ.Close()
	}
}
