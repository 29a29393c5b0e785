package collector

import (
	"math"
	"testing"
	"time"

	"github.com/quantrac/quantrac/model"
)

func TestValidate(t *testing.T) {
	now := time.Date(2026, 11, 25, 8, 0, 0, 0, time.UTC)
	v := newValidator(ValidationConfig{StuckPolls: 3, Limits: map[string]Limit{"water_level_m": {Spike: f64(1)}}})
	ms := func(d time.Duration) int64 { return now.Add(d).UnixMilli() }
	s := func(metric string, t int64, val float64, q model.Quality) model.Sample {
		return model.Sample{Labels: model.New(metric, "station", "S"), T: t, V: val, Q: q}
	}
	f := func(in model.Sample, limits map[string]Limit, want model.Quality) {
		t.Helper()
		b := []model.Sample{in}
		v.check(b, limits, now)
		if b[0].Q != want {
			t.Fatalf("%s = %v at %d: quality %s, want %s", in.Labels, in.V, in.T, b[0].Q, want)
		}
	}
	f(s("ph", ms(0), 7, 0), nil, 0)
	f(s("ph", ms(time.Second), 14.5, 0), nil, model.QualityOutOfRange)
	f(s("humidity_percent", ms(0), -1, 0), nil, model.QualityOutOfRange)
	f(s("humidity_percent", ms(time.Second), math.NaN(), 0), nil, model.QualityOutOfRange)
	f(s("pm25_ugm3", ms(time.Hour), 10, 0), nil, model.QualityBadTime)
	f(s("pm25_ugm3", ms(-40*24*time.Hour), 10, 0), nil, model.QualityBadTime)
	f(s("pm25_ugm3", ms(0), 10, model.QualityCalibrating), nil, model.QualityCalibrating)
	// Station override of the range.
	f(s("water_temperature_c", ms(0), 45, 0), map[string]Limit{"water_temperature_c": {Max: f64(40)}}, model.QualityOutOfRange)
	// Spike: jump above 1 m between consecutive samples.
	f(s("water_level_m", ms(0), 2.0, 0), nil, 0)
	f(s("water_level_m", ms(10*time.Second), 2.5, 0), nil, 0)
	f(s("water_level_m", ms(20*time.Second), 4.0, 0), nil, model.QualitySpike)
	// Stuck: the 4th equal value in a row (3 repeats) is flagged, a change clears it.
	for i, want := range []model.Quality{0, 0, 0, model.QualityStuck, model.QualityStuck} {
		f(s("do_mgl", ms(time.Duration(i)*time.Second), 5.5, 0), nil, want)
	}
	f(s("do_mgl", ms(10*time.Second), 5.6, 0), nil, 0)
	// Rainfall is exempt from stuck by default.
	for i := 0; i < 6; i++ {
		f(s("rainfall_mm", ms(time.Duration(i)*time.Second), 0, 0), nil, 0)
	}
	// A resent (older) sample does not disturb the state.
	f(s("do_mgl", ms(5*time.Second), 9, 0), nil, 0)
}

func f64(v float64) *float64 { return &v }

func TestDerive(t *testing.T) {
	ls := func(m string) model.Labels { return model.New(m, "station", "S") }
	in := []model.Sample{
		{Labels: ls("temperature_c"), T: 1, V: 30},
		{Labels: ls("dew_point_c"), T: 1, V: 25, Q: model.QualityCalibrating},
		{Labels: ls("co_mgm3"), T: 1, V: 1.25},
		{Labels: ls("water_level_cm"), T: 1, V: 345},
		{Labels: ls("temperature_c"), T: 2, V: 31}, // no dew point at T=2: no RH
	}
	out := derive(in, []DeriveConfig{
		{Metric: "humidity_percent", Func: "rh_from_dew_point", Inputs: []string{"temperature_c", "dew_point_c"}},
		{Metric: "co_ugm3", Func: "mg_to_ug", Inputs: []string{"co_mgm3"}, DropInputs: true},
		{Metric: "water_level_m", Func: "cm_to_m", Inputs: []string{"water_level_cm"}, DropInputs: true},
	})
	got := map[string]model.Sample{}
	for _, s := range out {
		got[s.Labels.Metric()] = s
	}
	if _, ok := got["co_mgm3"]; ok {
		t.Fatal("dropped input still present")
	}
	if rh := got["humidity_percent"]; math.Abs(rh.V-74.62) > 0.2 || rh.Q != model.QualityCalibrating || rh.T != 1 || rh.Labels.Get("station") != "S" {
		t.Fatalf("humidity: %+v", rh)
	}
	if got["co_ugm3"].V != 1250 || got["water_level_m"].V != 3.45 {
		t.Fatalf("conversions: co %v, level %v", got["co_ugm3"].V, got["water_level_m"].V)
	}
	if len(out) != 6 {
		t.Fatalf("got %d samples: %+v", len(out), out)
	}
	if rh := RHFromDewPoint(20, 20); rh != 100 {
		t.Fatalf("RH at dew point = %v", rh)
	}
}
