package standards

import (
	"context"
	"testing"
	"time"

	"github.com/quantrac/quantrac/model"
)

type recorder struct{ got []model.Sample }

func (r *recorder) Observe(_ context.Context, s []model.Sample) { r.got = append(r.got, s...) }

func TestObservedWriter(t *testing.T) {
	db := openTSDB(t)
	rec := &recorder{}
	w := ObservedWriter{W: db, Observers: []Observer{rec}}
	ls := model.New(MetricAQI, "station", "S", "pollutant", OverallLabel)
	batch := []model.Sample{
		{Labels: ls, T: time.Date(2026, 11, 25, 0, 0, 0, 0, time.UTC).UnixMilli(), V: 42},
		{Labels: model.Labels{{Name: "station", Value: "no-metric"}}, T: 1, V: 1}, // rejected
	}
	res, err := w.Append(context.Background(), batch)
	if err != nil || res.Stored != 1 || res.Rejected != 1 {
		t.Fatalf("append: %+v %v", res, err)
	}
	if len(rec.got) != 1 || rec.got[0].V != 42 {
		t.Fatalf("observed %+v; want only the stored sample", rec.got)
	}
}
