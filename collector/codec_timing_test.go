package collector

import (
	"testing"

	"github.com/quantrac/quantrac/model"
)

func BenchmarkBatchCodec(b *testing.B) {
	var batch []model.Sample
	for _, m := range []string{"pm25_ugm3", "pm10_ugm3", "co_ugm3", "no2_ugm3", "so2_ugm3", "o3_ugm3", "temperature_c", "humidity_percent"} {
		batch = append(batch, model.Sample{Labels: model.New(m, "station", "HN-AnKhanh", "province", "HN", "kind", "air"), T: 1764057600000, V: 12.5})
	}
	var buf []byte
	var out []model.Sample
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		buf = appendBatch(buf[:0], 1764057600000, batch)
		var err error
		if _, out, err = decodeBatch(out[:0], buf); err != nil {
			b.Fatal(err)
		}
	}
	b.SetBytes(int64(len(buf)))
}
