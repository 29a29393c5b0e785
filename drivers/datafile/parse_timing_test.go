package datafile

import (
	"sync/atomic"
	"testing"
	"time"
)

// Sink keeps benchmark results alive.
var Sink atomic.Uint64

// BenchmarkParse parses a 20-line air station file.
func BenchmarkParse(b *testing.B) {
	at := time.Date(2026, 11, 25, 1, 0, 0, 0, time.UTC)
	var rs []Reading
	for i := 0; i < 20; i++ {
		rs = append(rs, Reading{Parameter: []string{"PM2.5", "PM10", "CO", "NO2", "SO2"}[i%5], Value: float64(i) + 0.5, Unit: "µg/m3", Time: at})
	}
	data := AppendFile(nil, rs)
	name := FileNameFor("HN", "KCN", "HN-01", at)
	opts := ParseOptions{Kind: "air"}
	b.ReportAllocs()
	b.SetBytes(int64(len(data)))
	for b.Loop() {
		p, err := Parse(data, name, opts)
		if err != nil || len(p.Samples) != 20 {
			b.Fatal(err, p.Errors)
		}
		Sink.Add(uint64(len(p.Samples)))
	}
}
