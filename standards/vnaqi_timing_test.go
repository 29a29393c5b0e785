package standards

import (
	"context"
	"fmt"
	"math"
	"sync/atomic"
	"testing"
	"time"

	"github.com/quantrac/quantrac/model"
	"github.com/quantrac/quantrac/tsdb"
)

// Sink keeps results alive so the compiler cannot drop the work.
var Sink atomic.Uint64

func BenchmarkHourlyVNAQI(b *testing.B) {
	s := loadBeijing(b)
	b.ReportAllocs()
	n := 0
	for b.Loop() {
		r := HourlyVNAQI(s, n%s.Len())
		Sink.Add(uint64(r.AQI))
		n++
	}
}

func BenchmarkDailyVNAQI(b *testing.B) {
	s := loadBeijing(b)
	b.ReportAllocs()
	n := 0
	for b.Loop() {
		r := DailyVNAQI(s, (n%13)*24, DailyOptions{})
		Sink.Add(uint64(r.AQI))
		n++
	}
}

// BenchmarkAQIJobRun measures one run of the job over 100 stations with the
// default 48 h lookback, hourly inputs, on the real tsdb.
func BenchmarkAQIJobRun(b *testing.B) {
	src := loadBeijing(b)
	db, err := tsdb.Open(b.TempDir(), tsdb.DefaultOptions())
	if err != nil {
		b.Fatal(err)
	}
	defer db.Close()
	const stations = 100
	end := time.UnixMilli(src.HourStart(src.Len()))
	var batch []model.Sample
	for k := 0; k < stations; k++ {
		for _, p := range Pollutants() {
			ls := model.New(p.Metric(), "station", fmt.Sprintf("S%03d", k), "province", "HN", "kind", "air")
			for i := 0; i < src.Len(); i++ {
				if v := src.At(p, i); !math.IsNaN(v) {
					batch = append(batch, model.Sample{Labels: ls, T: src.HourStart(i) + 600000, V: v})
				}
			}
		}
	}
	if _, err := db.Append(context.Background(), batch); err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	for b.Loop() {
		// A fresh job each time so every run computes and writes everything.
		j, err := NewAQIJob(db, db, AQIJobOptions{Location: beijingLoc, Now: func() time.Time { return end }})
		if err != nil {
			b.Fatal(err)
		}
		st, err := j.RunOnce(context.Background())
		if err != nil {
			b.Fatal(err)
		}
		Sink.Add(uint64(st.Written))
	}
}
