package alerting

import (
	"math"
	"math/rand"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// The demo's Long Biên flood wave (configs/demo/scenario.yaml: base 7.1 m,
// crest 11.9 m, rise 4 h, hold 2 h, fall 8 h, tide ±0.2 m damped during the
// flood, gauge noise) sampled every 5 minutes against the generated rule
// pack (flood-levels.yaml, 5 cm hysteresis): exactly six SMS, in order,
// even with gauge noise three times the simulator's.
func TestFloodWaveWithRulePack(t *testing.T) {
	data, err := os.ReadFile("../configs/rules/flood-levels.yaml")
	if err != nil {
		t.Skipf("generated rule pack not present: %v", err)
	}
	rules := t.TempDir()
	if err := os.WriteFile(filepath.Join(rules, "flood-levels.yaml"), data, 0o644); err != nil {
		t.Fatal(err)
	}
	clock := &fakeClock{t: t0}
	h := newHarness(t, t.TempDir(), rules, clock)
	defer h.stop()
	rng := rand.New(rand.NewSource(1))
	smooth := func(x float64) float64 { return x * x * (3 - 2*x) }
	shape := func(d time.Duration) float64 {
		rise, hold, fall := 4*time.Hour, 2*time.Hour, 8*time.Hour
		switch {
		case d <= 0:
			return 0
		case d < rise:
			return smooth(float64(d) / float64(rise))
		case d < rise+hold:
			return 1
		case d < rise+hold+fall:
			return 1 - smooth(float64(d-rise-hold)/float64(fall))
		}
		return 0
	}
	start := clock.Now()
	for d := time.Duration(0); d <= 16*time.Hour; d += 5 * time.Minute {
		f := shape(d - 20*time.Minute)
		tide := 0.2 * math.Sin(2*math.Pi*float64(d)/float64(12*time.Hour+25*time.Minute))
		v := 7.1 + (11.9-7.1)*f + tide*(1-f) + 0.03*rng.NormFloat64()
		clock.Set(start.Add(d))
		h.observe("water_level_m", "HN-LongBien", "hydrological", math.Round(v*1000)/1000, 0)
	}
	h.settle()
	got := strings.Join(eventKinds(h.sms.all()), ",")
	want := "firing:Báo động I,level_up:Báo động II,level_up:Báo động III,level_down:Báo động II,level_down:Báo động I,resolved:Báo động I"
	if got != want {
		t.Fatalf("SMS events:\n got %s\nwant %s", got, want)
	}
}
