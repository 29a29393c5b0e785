package mqtt

import (
	"sync/atomic"
	"testing"
	"time"

	"github.com/quantrac/quantrac/model"
)

// Sink keeps benchmark results alive.
var Sink atomic.Uint64

func benchDecode(b *testing.B, dec DecodeFunc, payload []byte, m *Meta) {
	b.Helper()
	b.ReportAllocs()
	b.SetBytes(int64(len(payload)))
	var dst []model.Sample
	b.RunParallel(func(pb *testing.PB) {
		var dst []model.Sample
		n := 0
		for pb.Next() {
			var err error
			dst, err = dec(dst[:0], payload, m)
			if err != nil {
				panic(err)
			}
			n += len(dst)
		}
		Sink.Add(uint64(n))
	})
	_ = dst
}

func BenchmarkDecodeNumber(b *testing.B) {
	m := testMeta("kind", "air", "province", "HN", "station", "HN-01")
	m.Parameter = "pm25_ugm3"
	benchDecode(b, DecodeNumber, []byte("12.5"), m)
}

func BenchmarkDecodeJSON(b *testing.B) {
	payload := AppendJSON(nil, JSONMessage{Time: time.Unix(1795568400, 0), TimeFormat: TimeRFC3339, Status: "00",
		Values: []Value{{"pm25_ugm3", 12.5}, {"pm10_ugm3", 30.1}, {"temperature_c", 28.1}, {"humidity_percent", 81}}})
	benchDecode(b, DecodeJSON, payload, testMeta("kind", "air", "province", "HN", "station", "HN-01"))
}

func BenchmarkDecodeSenML(b *testing.B) {
	payload := AppendSenML(nil, SenMLPack{BaseName: "HN-01:", BaseTime: time.Unix(1795568400, 0), Records: []SenMLRecord{
		{Name: "pm25_ugm3", Unit: "ug/m3", V: 12.5}, {Name: "pm10_ugm3", Unit: "ug/m3", V: 30.1},
		{Name: "temperature_c", Unit: "Cel", V: 28.1}, {Name: "humidity_percent", Unit: "%RH", V: 81}}})
	benchDecode(b, DecodeSenML, payload, testMeta("kind", "air", "province", "HN"))
}

func BenchmarkDecodeJSONPath(b *testing.B) {
	pm := &PathMapping{Time: "ts", Values: map[string]string{
		"pm25_ugm3": "data.pm25", "pm10_ugm3": "data.pm10", "temperature_c": "data.t", "humidity_percent": "data.rh"}}
	payload := []byte(`{"ts":1795568400000,"data":{"pm25":12.5,"pm10":30.1,"t":28.1,"rh":81}}`)
	benchDecode(b, pm.Decode, payload, testMeta("kind", "air", "province", "HN", "station", "HN-01"))
}

func BenchmarkTemplateMatch(b *testing.B) {
	tp := MustParseTemplate("stations/{province}/{station}/{parameter}")
	b.ReportAllocs()
	for b.Loop() {
		ls, _, _ := tp.Match("stations/HN/HN-01/pm25_ugm3")
		Sink.Add(uint64(len(ls)))
	}
}
