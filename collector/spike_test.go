package collector

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/quantrac/quantrac/model"
)

// reading is one sample of a spike test sequence: time after the start,
// value, quality in and the quality the validator must give.
type reading struct {
	at   time.Duration
	v    float64
	in   model.Quality
	want model.Quality
}

const spike = model.QualitySpike

// every returns n readings step apart from start, value from v0 by dv each,
// none flagged.
func every(start, step time.Duration, n int, v0, dv float64) []reading {
	out := make([]reading, n)
	for i := range out {
		out[i] = reading{at: start + time.Duration(i)*step, v: v0 + float64(i)*dv}
	}
	return out
}

func seq(parts ...[]reading) []reading {
	var out []reading
	for _, p := range parts {
		out = append(out, p...)
	}
	return out
}

func TestSpike(t *testing.T) {
	now := time.Date(2026, 11, 25, 8, 0, 0, 0, time.UTC)
	start := now.Add(-24 * time.Hour) // readings stay in the past, never bad_time
	const min5 = 5 * time.Minute
	off := f64(0)
	tests := []struct {
		name    string
		cfg     ValidationConfig
		station map[string]Limit // the station's limits
		metric  string
		rs      []reading
	}{
		{"pm25 factor 5 spikes flagged, the next reading is compared with the last good", ValidationConfig{}, nil, "pm25_ugm3", []reading{
			{0, 37, 0, 0}, {10 * time.Second, 38, 0, 0}, {20 * time.Second, 190, 0, spike}, {30 * time.Second, 37.5, 0, 0},
			{40 * time.Second, 182, 0, spike}, {50 * time.Second, 185, 0, spike}, {time.Minute, 36.8, 0, 0}, {70 * time.Second, 37, 0, 0},
		}},
		{"pm25 37 to 182 at a 5 minute datalogger", ValidationConfig{}, nil, "pm25_ugm3", []reading{
			{0, 37, 0, 0}, {min5, 182, 0, spike}, {2 * min5, 40, 0, 0},
		}},
		{"pm25 20 to 60 over 5 minutes at 10 s polls is real", ValidationConfig{}, nil, "pm25_ugm3",
			every(0, 10*time.Second, 31, 20, 40.0/30)},
		{"pm25 20 to 60 between two 5 minute readings is real", ValidationConfig{}, nil, "pm25_ugm3", []reading{
			{0, 20, 0, 0}, {min5, 60, 0, 0}, {2 * min5, 58, 0, 0},
		}},
		{"pm10 20 to 60 in one reading, then a spike", ValidationConfig{}, nil, "pm10_ugm3", []reading{
			{0, 20, 0, 0}, {min5, 60, 0, 0}, {2 * min5, 300, 0, spike}, {3 * min5, 61, 0, 0},
		}},
		{"co multiplied by 5", ValidationConfig{}, nil, "co_ugm3", []reading{
			{0, 900, 0, 0}, {10 * time.Second, 4500, 0, spike}, {20 * time.Second, 910, 0, 0},
		}},
		{"no2 multiplied by 5", ValidationConfig{}, nil, "no2_ugm3", []reading{{0, 28, 0, 0}, {10 * time.Second, 140, 0, spike}, {20 * time.Second, 29, 0, 0}}},
		{"so2 multiplied by 5", ValidationConfig{}, nil, "so2_ugm3", []reading{{0, 9, 0, 0}, {10 * time.Second, 45, 0, spike}, {20 * time.Second, 9.2, 0, 0}}},
		{"o3 multiplied by 5", ValidationConfig{}, nil, "o3_ugm3", []reading{{0, 60, 0, 0}, {10 * time.Second, 300, 0, spike}, {20 * time.Second, 61, 0, 0}}},
		{"cod multiplied by 5", ValidationConfig{}, nil, "cod_mgl", []reading{{0, 26, 0, 0}, {min5, 130, 0, spike}, {2 * min5, 27, 0, 0}}},
		{"nh4 multiplied by 5", ValidationConfig{}, nil, "nh4_mgl", []reading{{0, 2.4, 0, 0}, {min5, 12, 0, spike}, {2 * min5, 2.5, 0, 0}}},
		{"tss multiplied by 5", ValidationConfig{}, nil, "tss_mgl", []reading{{0, 70, 0, 0}, {min5, 350, 0, spike}, {2 * min5, 72, 0, 0}}},
		{"clean air fluctuating under the floor", ValidationConfig{}, nil, "pm25_ugm3", []reading{
			{0, 4, 0, 0}, {10 * time.Second, 20, 0, 0}, {20 * time.Second, 3, 0, 0}, {30 * time.Second, 19, 0, 0},
		}},
		{"a fall is not a spike: rain washes PM2.5 out", ValidationConfig{}, nil, "pm25_ugm3", []reading{
			{0, 300, 0, 0}, {time.Hour, 20, 0, 0}, {2 * time.Hour, 22, 0, 0},
		}},
		{"a station's first reading is never flagged", ValidationConfig{}, nil, "pm25_ugm3", []reading{
			{0, 900, 0, 0}, {10 * time.Second, 100, 0, 0}, {20 * time.Second, 500, 0, spike},
		}},
		{"water level rising a few cm per poll in a flood", ValidationConfig{}, nil, "water_level_m",
			seq(every(0, 10*time.Second, 200, 7.1, 0.04), []reading{{2000 * time.Second, 7.1 + 200*0.04, 0, 0}})},
		{"water level 3 m in one poll, then back", ValidationConfig{}, nil, "water_level_m", []reading{
			{0, 7.10, 0, 0}, {10 * time.Second, 10.1, 0, spike}, {20 * time.Second, 7.12, 0, 0}, {30 * time.Second, 35.6, 0, spike}, {40 * time.Second, 7.15, 0, 0},
		}},
		{"water level: after a spike the return is compared with the good value, not the spike", ValidationConfig{}, nil, "water_level_m", []reading{
			{0, 3.0, 0, 0}, {10 * time.Second, 15.0, 0, spike}, {20 * time.Second, 3.1, 0, 0},
		}},
		{"temperature 10 degrees in a poll", ValidationConfig{}, nil, "temperature_c", []reading{
			{0, 8, 0, 0}, {10 * time.Second, 40, 0, spike}, {20 * time.Second, 8.1, 0, 0}, {time.Hour, 15, 0, 0},
		}},
		{"a change that persists is accepted after 6 readings", ValidationConfig{}, nil, "pm25_ugm3", seq(
			[]reading{{0, 10, 0, 0}},
			[]reading{{10 * time.Second, 100, 0, spike}, {20 * time.Second, 104, 0, spike}, {30 * time.Second, 98, 0, spike}, {40 * time.Second, 101, 0, spike}, {50 * time.Second, 100, 0, spike}},
			every(time.Minute, 10*time.Second, 5, 100, 0.5),
		)},
		{"spikes that disagree with each other are not a new level", ValidationConfig{}, nil, "pm25_ugm3", []reading{
			{0, 10, 0, 0}, {10 * time.Second, 60, 0, spike}, {20 * time.Second, 500, 0, spike}, {30 * time.Second, 60, 0, spike},
			{40 * time.Second, 500, 0, spike}, {50 * time.Second, 60, 0, spike}, {time.Minute, 500, 0, spike}, {70 * time.Second, 11, 0, 0},
		}},
		{"hourly readings: a change is accepted 15 minutes after the first flagged one", ValidationConfig{}, nil, "pm25_ugm3", []reading{
			{0, 10, 0, 0}, {time.Hour, 100, 0, spike}, {2 * time.Hour, 110, 0, 0}, {3 * time.Hour, 108, 0, 0},
		}},
		{"settle polls and time configured", ValidationConfig{SpikeSettlePolls: 3, SpikeSettleTime: 3 * time.Hour}, nil, "pm25_ugm3", []reading{
			{0, 10, 0, 0}, {time.Hour, 100, 0, spike}, {2 * time.Hour, 100, 0, spike}, {3 * time.Hour, 100, 0, 0},
		}},
		{"out of range and calibrating readings are not a reference", ValidationConfig{}, nil, "pm25_ugm3", []reading{
			{0, 37, 0, 0}, {10 * time.Second, -5, 0, model.QualityOutOfRange}, {20 * time.Second, 400, model.QualityCalibrating, model.QualityCalibrating},
			{30 * time.Second, 38, 0, 0}, {40 * time.Second, 180, 0, spike}, {50 * time.Second, 37, model.QualityDeviceError, model.QualityDeviceError}, {time.Minute, 39, 0, 0},
		}},
		{"a reading with a bad time does not move the reference or freeze the series", ValidationConfig{}, nil, "pm25_ugm3", []reading{
			{0, 37, 0, 0}, {48 * time.Hour, 500, 0, model.QualityBadTime}, {10 * time.Second, 182, 0, spike}, {20 * time.Second, 38, 0, 0},
		}},
		{"a resent reading is neither checked nor a reference", ValidationConfig{}, nil, "pm25_ugm3", []reading{
			{0, 37, 0, 0}, {10 * time.Second, 38, 0, 0}, {10 * time.Second, 182, 0, 0}, {20 * time.Second, 185, 0, spike},
		}},
		{"config: spike_factor 0 turns the relative check off", ValidationConfig{Limits: map[string]Limit{"pm25_ugm3": {SpikeFactor: off}}}, nil, "pm25_ugm3", []reading{
			{0, 37, 0, 0}, {10 * time.Second, 182, 0, 0}, {20 * time.Second, 37, 0, 0},
		}},
		{"config: station limits turn the check off for one station", ValidationConfig{}, map[string]Limit{"pm25_ugm3": {SpikeFactor: off}}, "pm25_ugm3", []reading{
			{0, 37, 0, 0}, {10 * time.Second, 182, 0, 0},
		}},
		{"config: spike 0 turns the absolute check off", ValidationConfig{Limits: map[string]Limit{"water_level_m": {Spike: off}}}, nil, "water_level_m", []reading{
			{0, 3, 0, 0}, {10 * time.Second, 15, 0, 0},
		}},
		{"config: station spike limit over the global one", ValidationConfig{Limits: map[string]Limit{"water_level_m": {Spike: f64(5)}}}, map[string]Limit{"water_level_m": {Spike: f64(0.5)}}, "water_level_m", []reading{
			{0, 3, 0, 0}, {10 * time.Second, 3.4, 0, 0}, {20 * time.Second, 4.0, 0, spike}, {30 * time.Second, 3.5, 0, 0},
		}},
		{"config: a lower factor and floor", ValidationConfig{Limits: map[string]Limit{"pm25_ugm3": {SpikeFactor: f64(2), SpikeFloor: f64(5)}}}, nil, "pm25_ugm3", []reading{
			{0, 20, 0, 0}, {min5, 45, 0, spike}, {2 * min5, 30, 0, 0}, {3 * min5, 4, 0, 0}, {4 * min5, 8, 0, 0},
		}},
		{"config: an absolute limit next to the relative one", ValidationConfig{Limits: map[string]Limit{"pm25_ugm3": {Spike: f64(100)}}}, nil, "pm25_ugm3", []reading{
			{0, 300, 0, 0}, {10 * time.Second, 450, 0, spike}, {20 * time.Second, 310, 0, 0}, {30 * time.Second, 150, 0, spike},
		}},
		{"config: spike limits for a series without defaults", ValidationConfig{Limits: map[string]Limit{"wind_speed_ms": {Spike: f64(10)}}}, nil, "wind_speed_ms", []reading{
			{0, 3, 0, 0}, {10 * time.Second, 15, 0, spike}, {20 * time.Second, 4, 0, 0},
		}},
		{"no defaults: rainfall", ValidationConfig{}, nil, "rainfall_mm", []reading{{0, 0, 0, 0}, {min5, 50, 0, 0}, {2 * min5, 0, 0, 0}}},
		{"no defaults: unknown series", ValidationConfig{}, nil, "turbidity_ntu", []reading{{0, 3, 0, 0}, {min5, 5000, 0, 0}}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			v := newValidator(tc.cfg)
			for i, r := range tc.rs {
				b := []model.Sample{{Labels: model.New(tc.metric, "station", "S"), T: start.Add(r.at).UnixMilli(), V: r.v, Q: r.in}}
				v.check(b, tc.station, now)
				if b[0].Q != r.want {
					t.Fatalf("reading %d (%v at +%v): quality %s, want %s", i, r.v, r.at, b[0].Q, r.want)
				}
			}
		})
	}
}

// TestSpikeSeriesApart: each series and station has its own reference; the
// first reading of a second station is not compared with the first one's.
func TestSpikeSeriesApart(t *testing.T) {
	now := time.Date(2026, 11, 25, 8, 0, 0, 0, time.UTC)
	v := newValidator(ValidationConfig{})
	b := []model.Sample{
		{Labels: model.New("pm25_ugm3", "station", "A"), T: now.UnixMilli(), V: 10},
		{Labels: model.New("pm25_ugm3", "station", "B"), T: now.UnixMilli(), V: 200},
		{Labels: model.New("pm25_ugm3", "station", "A", "sensor", "2"), T: now.UnixMilli(), V: 300},
		{Labels: model.New("pm25_ugm3", "station", "A"), T: now.UnixMilli() + 10000, V: 200},
	}
	v.check(b, nil, now)
	for i, want := range []model.Quality{0, 0, 0, spike} {
		if b[i].Q != want {
			t.Fatalf("sample %d %s: quality %s, want %s", i, b[i].Labels, b[i].Q, want)
		}
	}
	// A reload keeps the reference and applies the new limits.
	v.configure(ValidationConfig{Limits: map[string]Limit{"pm25_ugm3": {SpikeFactor: f64(1.5)}}})
	b = []model.Sample{{Labels: model.New("pm25_ugm3", "station", "A"), T: now.UnixMilli() + 20000, V: 40}}
	v.check(b, nil, now)
	if b[0].Q != spike {
		t.Fatalf("after reload: quality %s, want spike", b[0].Q)
	}
}

// TestSpikeConfig: the spike keys read from YAML reach the validator, and
// bad values are errors naming file, line and key.
func TestSpikeConfig(t *testing.T) {
	dir := t.TempDir()
	os.MkdirAll(filepath.Join(dir, "maps"), 0o755)
	data, _ := os.ReadFile(filepath.Join("testdata", "maps", "air-int16-scaled.yaml"))
	os.WriteFile(filepath.Join(dir, "maps", "air-int16-scaled.yaml"), data, 0o644)
	name := filepath.Join(dir, "c.yaml")

	c, err := ParseConfig([]byte(baseConfig+`    limits:
      pm25_ugm3: {spike_factor: 0}
validation:
  spike_settle_polls: 3
  spike_settle_time: 1h
  limits:
    water_level_m: {spike: 0.5}
    pm10_ugm3: {spike_factor: 2.5, spike_floor: 10}
`), name)
	if err != nil {
		t.Fatal(err)
	}
	l := c.Validation.Limits
	if *l["water_level_m"].Spike != 0.5 || *l["pm10_ugm3"].SpikeFactor != 2.5 || *l["pm10_ugm3"].SpikeFloor != 10 ||
		*c.Stations[0].Limits["pm25_ugm3"].SpikeFactor != 0 || c.Validation.SpikeSettlePolls != 3 || c.Validation.SpikeSettleTime != time.Hour {
		t.Fatalf("limits not read: %+v", c.Validation)
	}
	v := newValidator(c.Validation)
	now := time.Now()
	b := []model.Sample{
		{Labels: model.New("pm25_ugm3", "station", "A"), T: now.UnixMilli() - 2000, V: 37},
		{Labels: model.New("pm25_ugm3", "station", "A"), T: now.UnixMilli() - 1000, V: 182},
		{Labels: model.New("pm10_ugm3", "station", "A"), T: now.UnixMilli() - 2000, V: 20},
		{Labels: model.New("pm10_ugm3", "station", "A"), T: now.UnixMilli() - 1000, V: 60},
	}
	v.check(b, c.Stations[0].Limits, now)
	if b[1].Q != 0 || b[3].Q != spike {
		t.Fatalf("pm25 after 37 -> 182 with the check off: %s; pm10 20 -> 60 with factor 2.5: %s", b[1].Q, b[3].Q)
	}

	bad := []struct{ yaml, want string }{
		{"validation:\n  limits:\n    pm25_ugm3:\n      spike_factor: 1\n", ":12: validation.limits.pm25_ugm3.spike_factor: 1: want a factor above 1"},
		{"validation:\n  limits:\n    pm25_ugm3:\n      spike_factor: 0.5\n", ":12: validation.limits.pm25_ugm3.spike_factor: 0.5: want a factor above 1"},
		{"validation:\n  limits:\n    pm25_ugm3:\n      min: 0\n      spike_factor: -3\n", ":13: validation.limits.pm25_ugm3.spike_factor: -3"},
		{"validation:\n  limits:\n    pm25_ugm3:\n      spike_factor: 4\n      spike_floor: -1\n", ":13: validation.limits.pm25_ugm3.spike_floor: -1: want a change in the parameter's unit, at least 0"},
		{"validation:\n  limits:\n    water_level_m:\n      spike: -0.5\n", ":12: validation.limits.water_level_m.spike: -0.5: want a change"},
		{"validation:\n  limits:\n    water_level_m: {spike: .nan}\n", ":11: validation.limits.water_level_m.spike: NaN"},
		{"validation:\n  spike_settle_polls: 1\n", ":10: validation.spike_settle_polls: 1: want at least 2 readings"},
		{"validation:\n  spike_settle_polls: -6\n", ":10: validation.spike_settle_polls: -6"},
		{"validation:\n  spike_settle_time: -15m\n", ":10: validation.spike_settle_time: -15m0s must not be negative"},
		{"    limits:\n      pm25_ugm3:\n        spike_factor: 0.9\n", ":11: stations[0].limits.pm25_ugm3.spike_factor: 0.9: want a factor above 1"},
		{"    limits:\n      pm25_ugm3: {spike_floor: -2}\n", ":10: stations[0].limits.pm25_ugm3.spike_floor: -2"},
	}
	for _, tc := range bad {
		_, err := ParseConfig([]byte(baseConfig+tc.yaml), name)
		if err == nil {
			t.Fatalf("config accepted, want error %q\n%s", tc.want, tc.yaml)
		}
		if !strings.Contains(err.Error(), tc.want) || !strings.HasPrefix(err.Error(), fmt.Sprintf("collector config %s:", name)) {
			t.Fatalf("error %q does not name the file and contain %q", err, tc.want)
		}
	}
}
