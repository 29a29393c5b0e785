package simulator

import (
	"math"
	"testing"
	"time"
)

// testEnv returns a generator environment starting at origin.
func testEnv(seed int64, origin time.Time, flood *FloodConfig) *signalEnv {
	return &signalEnv{seed: seed, station: "HN-Test", origin: origin, loc: VietnamTime, flood: flood}
}

func mustSignal(t *testing.T, param string, env *signalEnv) Signal {
	t.Helper()
	s, err := newSignal(param, env)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestFloodPassesAlarmLevels(t *testing.T) {
	origin := time.Date(2026, 8, 20, 0, 0, 0, 0, VietnamTime)
	flood := &FloodConfig{Start: 2 * time.Hour, Rise: 6 * time.Hour, Hold: 3 * time.Hour, Fall: 12 * time.Hour, Peak: 11.9, Levels: []float64{9.5, 10.5, 11.5}}
	env := testEnv(7, origin, flood)
	env.cfg = map[string]SignalConfig{"water_level_m": {Base: 7.1, Amplitude: 0.2}}
	sig := mustSignal(t, "water_level_m", env)

	crossedUp := make([]time.Duration, len(flood.Levels))
	crossedDown := make([]time.Duration, len(flood.Levels))
	max := math.Inf(-1)
	var maxAt time.Duration
	prev := 0.0
	for d := time.Duration(0); d <= 30*time.Hour; d += 5 * time.Minute {
		v, ok := sig.At(origin.Add(d))
		if !ok {
			t.Fatalf("no value at +%s", d)
		}
		if v > max {
			max, maxAt = v, d
		}
		for i, l := range flood.Levels {
			if prev < l && v >= l && crossedUp[i] == 0 {
				crossedUp[i] = d
			}
			if prev >= l && v < l && crossedUp[i] != 0 {
				crossedDown[i] = d
			}
		}
		prev = v
	}
	t.Logf("crest %.2f m at +%s; up %v; down %v", max, maxAt, crossedUp, crossedDown)
	if math.Abs(max-flood.Peak) > 0.1 {
		t.Errorf("crest %.2f m, want about %.2f", max, flood.Peak)
	}
	for i := range flood.Levels {
		if crossedUp[i] == 0 || crossedDown[i] == 0 {
			t.Fatalf("level %d (%.1f m): up at %s, down at %s: want both", i+1, flood.Levels[i], crossedUp[i], crossedDown[i])
		}
		if i > 0 && !(crossedUp[i] > crossedUp[i-1] && crossedDown[i] < crossedDown[i-1]) {
			t.Errorf("level %d crossed out of order", i+1)
		}
	}
	if crossedUp[0] < flood.Start || crossedUp[2] > flood.Start+flood.Rise {
		t.Errorf("levels crossed outside the rise: %v", crossedUp)
	}
	// Before and after: the normal regime.
	for _, d := range []time.Duration{0, 29 * time.Hour} {
		v, _ := sig.At(origin.Add(d))
		if v < 6.5 || v > 7.7 {
			t.Errorf("+%s: %.2f m outside the normal regime", d, v)
		}
	}
}

func TestFloodAtDemoSpeed(t *testing.T) {
	// The demo scenario's flood at 60x: level III within a few wall minutes.
	start := time.Date(2026, 11, 25, 8, 0, 0, 0, VietnamTime)
	sc, err := LoadScenario("../configs/demo/scenario.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var flood *FloodConfig
	var cfg StationConfig
	for _, st := range sc.Stations {
		if st.ID == "HN-LongBien" {
			flood, cfg = st.Flood, st
		}
	}
	if flood == nil {
		t.Fatal("demo scenario: no flood at HN-LongBien")
	}
	clock := Clock{WallStart: start, SimStart: start, Speed: sc.Speed}
	env := testEnv(sc.Seed, start, flood)
	env.station, env.cfg = cfg.ID, cfg.Signals
	sig := mustSignal(t, "water_level_m", env)
	reached := map[int]time.Duration{}
	for d := time.Duration(0); d < 10*time.Minute; d += time.Second {
		v, _ := sig.At(clock.Sim(start.Add(d)))
		for i, l := range flood.Levels {
			if _, ok := reached[i]; !ok && v >= l {
				reached[i] = d
			}
		}
	}
	t.Logf("demo: alarm levels reached after %v (wall)", reached)
	if len(reached) != 3 || reached[2] > 5*time.Minute {
		t.Errorf("demo flood: levels reached %v, want I, II, III within 5 minutes", reached)
	}
}

func TestDiurnalTemperature(t *testing.T) {
	origin := time.Date(2026, 4, 1, 0, 0, 0, 0, VietnamTime)
	env := testEnv(3, origin, nil)
	temp := mustSignal(t, "temperature_c", env)
	hum := mustSignal(t, "humidity_percent", env)
	for day := 0; day < 5; day++ {
		d0 := origin.AddDate(0, 0, day)
		minT, maxT, maxH := math.Inf(1), math.Inf(-1), math.Inf(-1)
		var minAt, maxAt, maxHAt float64
		for m := 0; m < 24*60; m += 10 {
			at := d0.Add(time.Duration(m) * time.Minute)
			v, _ := temp.At(at)
			h, _ := hum.At(at)
			hr := float64(m) / 60
			if v < minT {
				minT, minAt = v, hr
			}
			if v > maxT {
				maxT, maxAt = v, hr
			}
			if h > maxH {
				maxH, maxHAt = h, hr
			}
		}
		t.Logf("day %d: min %.1f °C at %.1fh, max %.1f °C at %.1fh, max RH %.0f%% at %.1fh", day, minT, minAt, maxT, maxAt, maxH, maxHAt)
		if minAt < 3 || minAt > 8 {
			t.Errorf("day %d: coldest at %.1fh, want 03-08 local", day, minAt)
		}
		if maxAt < 12 || maxAt > 17 {
			t.Errorf("day %d: warmest at %.1fh, want 12-17 local", day, maxAt)
		}
		if maxHAt > 9 && maxHAt < 20 {
			t.Errorf("day %d: most humid at %.1fh, want night or early morning", day, maxHAt)
		}
		if r := maxT - minT; r < 4 || r > 14 {
			t.Errorf("day %d: daily range %.1f °C implausible", day, r)
		}
	}
}

func TestDiurnalShape(t *testing.T) {
	for h := 0.0; h < 24; h += 0.25 {
		v := diurnal(h, 5.5, 14.5)
		if v < -1-1e-9 || v > 1+1e-9 {
			t.Fatalf("diurnal(%g) = %g outside [-1, 1]", h, v)
		}
	}
	if v := diurnal(5.5, 5.5, 14.5); v != -1 {
		t.Errorf("at the minimum hour: %g, want -1", v)
	}
	if v := diurnal(14.5, 5.5, 14.5); v != 1 {
		t.Errorf("at the maximum hour: %g, want 1", v)
	}
}

func TestSignalsDeterministic(t *testing.T) {
	origin := time.Date(2026, 11, 25, 0, 0, 0, 0, VietnamTime)
	flood := &FloodConfig{Start: time.Hour, Rise: 3 * time.Hour, Hold: time.Hour, Fall: 5 * time.Hour, Peak: 11}
	for _, p := range Params() {
		a := mustSignal(t, p, testEnv(42, origin, flood))
		b := mustSignal(t, p, testEnv(42, origin, flood))
		c := mustSignal(t, p, testEnv(43, origin, flood))
		differs := false
		for i := 0; i < 200; i++ {
			at := origin.Add(time.Duration(i) * 7 * time.Minute)
			va, oka := a.At(at)
			vb, okb := b.At(at)
			vc, _ := c.At(at)
			if va != vb || oka != okb {
				t.Fatalf("%s at %s: %v then %v with the same seed", p, at, va, vb)
			}
			if !oka {
				t.Fatalf("%s at %s: no value", p, at)
			}
			info := params[p]
			if va < info.Min || va > info.Max || math.IsNaN(va) {
				t.Fatalf("%s at %s: %v outside [%v, %v]", p, at, va, info.Min, info.Max)
			}
			if va != vc {
				differs = true
			}
		}
		if !differs && p != "rainfall_mm" {
			t.Errorf("%s: seeds 42 and 43 give the same series", p)
		}
	}
}

func TestAirPlausible(t *testing.T) {
	origin := time.Date(2026, 1, 10, 0, 0, 0, 0, VietnamTime)
	env := testEnv(5, origin, nil)
	pm25 := mustSignal(t, "pm25_ugm3", env)
	pm10 := mustSignal(t, "pm10_ugm3", env)
	o3 := mustSignal(t, "o3_ugm3", env)
	var o3Day, o3Night float64
	for d := 0; d < 7; d++ {
		for h := 0; h < 24; h++ {
			at := origin.AddDate(0, 0, d).Add(time.Duration(h) * time.Hour)
			a, _ := pm25.At(at)
			b, _ := pm10.At(at)
			if b < a {
				t.Fatalf("%s: PM10 %.1f below PM2.5 %.1f", at, b, a)
			}
			v, _ := o3.At(at)
			if h >= 12 && h <= 16 {
				o3Day += v
			}
			if h <= 4 {
				o3Night += v
			}
		}
	}
	if o3Day/5 <= o3Night/5 {
		t.Errorf("ozone: afternoon mean %.1f not above night mean %.1f", o3Day/5, o3Night/5)
	}
}

func TestClock(t *testing.T) {
	w0 := time.Date(2026, 11, 25, 1, 0, 0, 0, time.UTC)
	c := Clock{WallStart: w0, SimStart: w0, Speed: 60}
	if got := c.Sim(w0.Add(time.Minute)); !got.Equal(w0.Add(time.Hour)) {
		t.Errorf("a wall minute at 60x: %s, want one simulated hour", got.Sub(w0))
	}
	if got := c.Wall(w0.Add(24 * time.Hour)); !got.Equal(w0.Add(24 * time.Minute)) {
		t.Errorf("a simulated day at 60x: %s wall, want 24m", got.Sub(w0))
	}
}
