package collector

import (
	"math"
	"testing"

	"github.com/quantrac/quantrac/model"
)

func TestBatchRoundTrip(t *testing.T) {
	in := []model.Sample{
		{Labels: model.New("pm25_ugm3", "station", "HN-01", "province", "HN", "kind", "air"), T: 1764057600000, V: 12.5},
		{Labels: model.New("water_level_m", "station", "Long Biên", "province", "HN"), T: -5, V: math.Inf(-1), Q: model.QualityDeviceError | model.QualitySpike},
		{Labels: model.New("x"), T: math.MaxInt64, V: -0.000123},
	}
	prefix := []byte("foobar")
	data := appendBatch(append([]byte(nil), prefix...), 42, in)
	if string(data[:6]) != "foobar" {
		t.Fatal("prefix lost")
	}
	acq, out, err := decodeBatch(nil, data[6:])
	if err != nil {
		t.Fatal(err)
	}
	if acq != 42 || len(out) != len(in) {
		t.Fatalf("got acquired %d, %d samples", acq, len(out))
	}
	for i := range in {
		if !in[i].Labels.Equal(out[i].Labels) || in[i].T != out[i].T || in[i].V != out[i].V || in[i].Q != out[i].Q {
			t.Fatalf("sample %d: got %+v, want %+v", i, out[i], in[i])
		}
	}
	// Every truncation is an error, never a panic.
	for n := 0; n < len(data)-6; n++ {
		if _, _, err := decodeBatch(nil, data[6:6+n]); err == nil {
			t.Fatalf("truncated batch of %d bytes decoded", n)
		}
	}
}

func FuzzDecodeBatch(f *testing.F) {
	f.Add(appendBatch(nil, 1, []model.Sample{{Labels: model.New("ph", "station", "S"), T: 5, V: 7}}))
	f.Add([]byte{batchVersion, 0, 200})
	f.Fuzz(func(t *testing.T, data []byte) {
		decodeBatch(nil, data) // must not panic
	})
}
