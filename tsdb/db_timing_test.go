package tsdb

import (
	"context"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/quantrac/quantrac/model"
)

// Sink keeps benchmark results alive.
var Sink atomic.Uint64

func benchSeries(n int) []model.Labels {
	var ls []model.Labels
	for i := 0; i < n; i++ {
		ls = append(ls, model.New(fmt.Sprintf("m%d", i%10), "station", fmt.Sprintf("S%03d", i/10), "province", "HN", "kind", "air"))
	}
	return ls
}

// BenchmarkAppend appends batches of 10,000 samples (100 series x 100
// steps) with the WAL on, for each fsync policy.
func BenchmarkAppend(b *testing.B) {
	for _, pol := range []struct {
		name string
		p    SyncPolicy
	}{{"sync_every_batch", SyncEveryBatch}, {"sync_interval", SyncInterval}} {
		b.Run(pol.name, func(b *testing.B) {
			opts := DefaultOptions()
			opts.Sync = pol.p
			opts.HeadMaxSamples = 1 << 30
			db, err := Open(b.TempDir(), opts)
			if err != nil {
				b.Fatal(err)
			}
			defer db.Close()
			ls := benchSeries(100)
			batch := make([]model.Sample, 0, 10000)
			b.ReportAllocs()
			b.ResetTimer()
			var t int64
			for i := 0; i < b.N; i++ {
				batch = batch[:0]
				for step := 0; step < 100; step++ {
					t += 1000
					for _, l := range ls {
						batch = append(batch, model.Sample{Labels: l, T: t, V: float64(t%977) / 10})
					}
				}
				res, err := db.Append(context.Background(), batch)
				if err != nil || res.Rejected > 0 {
					b.Fatal(err, res.Errors)
				}
				Sink.Add(uint64(res.Stored))
			}
			b.ReportMetric(float64(b.N*len(batch))/b.Elapsed().Seconds(), "samples/s")
		})
	}
}

// BenchmarkSelect reads a day of 1-minute data of 100 series from sealed
// parts, all series per iteration.
func BenchmarkSelect(b *testing.B) {
	opts := DefaultOptions()
	db, err := Open(b.TempDir(), opts)
	if err != nil {
		b.Fatal(err)
	}
	defer db.Close()
	ls := benchSeries(100)
	start := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC).UnixMilli()
	var batch []model.Sample
	for m := 0; m < 24*60; m++ {
		for i, l := range ls {
			batch = append(batch, model.Sample{Labels: l, T: start + int64(m)*60_000, V: float64((m*7+i)%500) / 10})
		}
	}
	if _, err := db.Append(context.Background(), batch); err != nil {
		b.Fatal(err)
	}
	if err := db.seal(context.Background()); err != nil {
		b.Fatal(err)
	}
	all := []*model.Matcher{model.MustMatcher(model.MatchRegexp, "station", "S.*")}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		var n int
		err := db.Select(context.Background(), model.SelectQuery{Matchers: all, From: start, To: start + 86400_000}, func(_ model.Labels, pts []model.Point) error {
			n += len(pts)
			return nil
		})
		if err != nil || n != len(batch) {
			b.Fatal(err, n)
		}
		Sink.Add(uint64(n))
	}
	b.ReportMetric(float64(b.N*len(batch))/b.Elapsed().Seconds(), "samples/s")
}
