package tsdb

import (
	"errors"
	"math"
	"os"
	"testing"

	"github.com/quantrac/quantrac/model"
)

func asCorruption(err error, target **CorruptionError) bool { return errors.As(err, target) }

func FuzzBlockDecode(f *testing.F) {
	var e blockEncoder
	f.Add(e.appendBlock(nil, []model.Point{{T: 1, V: 1.5}, {T: 2, V: 2.5, Q: 1}, {T: 5, V: -3}}))
	f.Add(e.appendBlock(nil, []model.Point{{T: 1000, V: 0.1}, {T: 2000, V: 1e300}}))
	pts := make([]model.Point, 300)
	for i := range pts {
		pts[i] = model.Point{T: int64(i) * 3600_000, V: float64(i%17) * 1.25}
	}
	f.Add(e.appendBlock(nil, pts))
	pts[7].T += 5
	pts[9].V = 1.0 / 3
	f.Add(e.appendBlock(nil, pts))
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, b []byte) {
		var d blockDecoder
		out, _, err := d.decodeBlock(nil, b)
		if err != nil {
			return
		}
		for i := range out {
			if i > 0 && out[i].T <= out[i-1].T {
				t.Fatalf("decoded timestamps not increasing")
			}
			if out[i].T < model.MinTime || out[i].T >= model.MaxTime {
				t.Fatalf("decoded timestamp %d out of range", out[i].T)
			}
		}
		// Re-encoding what decoded must decode to the same points.
		var e blockEncoder
		out2, _, err := d.decodeBlock(nil, e.appendBlock(nil, out))
		if err != nil || len(out2) != len(out) {
			t.Fatalf("re-encode: %v", err)
		}
		for i := range out {
			if out[i].T != out2[i].T || math.Float64bits(out[i].V) != math.Float64bits(out2[i].V) || out[i].Q != out2[i].Q {
				t.Fatalf("point %d: %+v re-encoded as %+v", i, out[i], out2[i])
			}
		}
	})
}

func FuzzWALReader(f *testing.F) {
	seg := walHeader()
	seg = appendWALRecord(seg, appendSeriesRecord(nil, []walSeries{{ref: 1, labels: model.New("ph", "station", "A")}}))
	rec := appendSamplesHeader(nil, 2)
	rec = appendSample(rec, 1, 100, 7.5, 0)
	rec = appendSample(rec, 1, 10, 7.6, 1)
	seg = appendWALRecord(seg, rec)
	f.Add(seg)
	f.Add(seg[:len(seg)-3])
	f.Add([]byte("QTWAL\x01\x00\x00"))
	f.Fuzz(func(t *testing.T, b []byte) {
		r := NewWALReader(0, b)
		var buf []walSample
		for r.Next() {
			rec := r.Record()
			if len(rec) == 0 {
				continue
			}
			switch rec[0] {
			case recSeries:
				decodeSeriesRecord(rec, func(uint32, model.Labels) {})
			case recSamples:
				buf, _ = decodeSamplesRecord(buf[:0], rec)
			}
		}
		if r.Offset() > int64(len(b)) {
			t.Fatalf("offset %d beyond %d bytes", r.Offset(), len(b))
		}
	})
}

// FuzzPartParse feeds damaged part files to the index parser and, when the
// index parses, reads every block of every series.
func FuzzPartParse(f *testing.F) {
	dir := f.TempDir()
	opts := DefaultOptions()
	opts.fill()
	s := newMemSeries(0, model.New("ph", "station", "A"), 0)
	var pts []model.Point
	for i := 0; i < 2000; i++ {
		pts = append(pts, model.Point{T: int64(i) * 60_000, V: float64(i%13) / 4, Q: model.Quality(i / 1500)})
	}
	path, err := writePart(dir, 1, []sealedSeries{{s: s, pts: pts}}, &opts, 3)
	if err != nil {
		f.Fatal(err)
	}
	b, _ := os.ReadFile(path)
	f.Add(b)
	f.Add(b[:len(b)/2])
	f.Fuzz(func(t *testing.T, data []byte) {
		pi, err := parsePart(data)
		if err != nil {
			return
		}
		p := &part{data: data, frames: pi.frames, rframes: pi.rframes, series: map[uint32]*partSeries{}}
		var dec blockDecoder
		for _, e := range pi.entries {
			p.appendPoints(&dec, nil, e, 0, model.MaxTime)
			p.rollups(&dec, e)
		}
	})
}
