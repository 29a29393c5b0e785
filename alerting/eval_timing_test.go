package alerting

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/quantrac/quantrac/model"
)

// writeManyRules writes n rules, four per station: a PM2.5 threshold, flood
// levels, a rise rate on the water level and a device-error rule.
func writeManyRules(tb testing.TB, n int) (dir string, stations int) {
	tb.Helper()
	dir = tb.TempDir()
	var b strings.Builder
	b.WriteString("rules:\n")
	stations = n / 4
	for i := 0; i < stations; i++ {
		st := fmt.Sprintf("S-%05d", i)
		fmt.Fprintf(&b, "  - {name: pm25_%[1]s, kind: threshold, select: 'pm25_ugm3{station=\"%[1]s\"}', above: 100, clear: 80}\n", st)
		fmt.Fprintf(&b, "  - {name: flood_%[1]s, kind: levels, select: 'water_level_m{station=\"%[1]s\"}', levels: [{name: I, above: 9.5, clear: 9.45}, {name: II, above: 10.5, clear: 10.45}, {name: III, above: 11.5, clear: 11.45}]}\n", st)
		fmt.Fprintf(&b, "  - {name: rise_%[1]s, kind: rate, select: 'water_level_m{station=\"%[1]s\"}', rise: 0.3}\n", st)
		fmt.Fprintf(&b, "  - {name: dev_%[1]s, kind: quality, select: 'pm25_ugm3{station=\"%[1]s\"}'}\n", st)
	}
	if err := os.WriteFile(filepath.Join(dir, "many.yaml"), []byte(b.String()), 0o644); err != nil {
		tb.Fatal(err)
	}
	return dir, stations
}

// BenchmarkEvaluate10kRules measures streaming evaluation with 10,000
// rules loaded: every sample meets the two rules of its station and series.
func BenchmarkEvaluate10kRules(b *testing.B) {
	dir, stations := writeManyRules(b, 10000)
	eng, err := New(Options{DataDir: b.TempDir(), RulesDir: dir, Logger: zerolog.Nop()})
	if err != nil {
		b.Fatal(err)
	}
	defer eng.Close()
	if n := len(eng.Rules()); n != 10000 {
		b.Fatalf("%d rules", n)
	}
	labels := make([]model.Labels, 0, 2*stations)
	for i := 0; i < stations; i++ {
		st := fmt.Sprintf("S-%05d", i)
		labels = append(labels, model.New("pm25_ugm3", "station", st, "province", "HN", "kind", "air"),
			model.New("water_level_m", "station", st, "province", "HN", "kind", "hydrological"))
	}
	const batch = 1000
	t0 := time.Date(2026, 11, 25, 0, 0, 0, 0, time.UTC).UnixMilli()
	samples := make([]model.Sample, batch)
	b.ReportAllocs()
	b.ResetTimer()
	start := time.Now()
	evals0 := eng.Evaluations()
	k := 0
	for i := 0; i < b.N; i++ {
		for j := range samples {
			ls := labels[k%len(labels)]
			v := 40.0 + float64(k%7)
			if ls.Metric() == "water_level_m" {
				v = 5 + float64(k%5)*0.01
			}
			samples[j] = model.Sample{Labels: ls, T: t0 + int64(k/len(labels))*60000, V: v}
			k++
		}
		eng.evalBatches([]queuedBatch{{samples: samples, at: time.Now()}})
	}
	el := time.Since(start).Seconds()
	b.ReportMetric(float64(b.N*batch)/el, "samples/s")
	b.ReportMetric(float64(eng.Evaluations()-evals0)/el, "rule-evals/s")
}

// windowReader answers Aggregate with 24 hourly means per matching series.
type windowReader struct{ model.Reader }

func (windowReader) Aggregate(ctx context.Context, q model.AggregateQuery, fn model.SeriesFunc) error {
	pts := make([]model.Point, 0, 24)
	for t := q.From; t <= q.To; t += 3600_000 {
		pts = append(pts, model.Point{T: t, V: 30})
	}
	st := "S"
	for _, m := range q.Matchers {
		if m.Name == model.LabelStation {
			st = m.Value
		}
	}
	return fn(model.New("pm25_ugm3", "station", st), pts)
}

// BenchmarkWindowRules10k measures periodic evaluation of 10,000 window
// rules (24 h means) against a store that answers at once.
func BenchmarkWindowRules10k(b *testing.B) {
	dir := b.TempDir()
	var sb strings.Builder
	sb.WriteString("rules:\n")
	for i := 0; i < 10000; i++ {
		fmt.Fprintf(&sb, "  - {name: w%[1]d, kind: window, select: 'pm25_ugm3{station=\"S-%[1]d\"}', window: 24h, above: 50, every: 1s}\n", i)
	}
	os.WriteFile(filepath.Join(dir, "w.yaml"), []byte(sb.String()), 0o644)
	clock := &fakeClock{t: time.Date(2026, 11, 25, 0, 0, 0, 0, time.UTC)}
	eng, err := New(Options{DataDir: b.TempDir(), RulesDir: dir, Logger: zerolog.Nop(), Reader: windowReader{}, Clock: clock})
	if err != nil {
		b.Fatal(err)
	}
	defer eng.Close()
	b.ResetTimer()
	start := time.Now()
	for i := 0; i < b.N; i++ {
		clock.Add(time.Second)
		eng.Tick(context.Background())
	}
	b.ReportMetric(float64(b.N*10000)/time.Since(start).Seconds(), "rules/s")
}
