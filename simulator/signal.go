package simulator

import (
	"fmt"
	"math"
	"sort"
	"time"
)

// Signal gives the physical value of one parameter at a simulated instant.
// ok is false when there is no value (a gap in replayed data).
type Signal interface {
	At(t time.Time) (v float64, ok bool)
}

// SignalFunc adapts a function to Signal.
type SignalFunc func(t time.Time) (float64, bool)

// At calls f.
func (f SignalFunc) At(t time.Time) (float64, bool) { return f(t) }

// SignalConfig tunes the generator of one parameter. Zero fields keep the
// parameter's default.
type SignalConfig struct {
	// Base is the mean level (water level in m, annual mean temperature in
	// °C, mean concentration, ...).
	Base float64 `yaml:"base,omitempty" json:"base,omitempty"`
	// Amplitude is the half range of the daily (or tidal) swing.
	Amplitude float64 `yaml:"amplitude,omitempty" json:"amplitude,omitempty"`
	// Noise is the standard deviation of the per-sample noise.
	Noise float64 `yaml:"noise,omitempty" json:"noise,omitempty"`
}

// FloodConfig is a flood wave on a river station: the level rises from the
// normal regime to Peak, holds, and recedes. Times are simulated time since
// the simulator started, so with Speed 60 a 3h rise takes 3 wall minutes.
type FloodConfig struct {
	Start time.Duration `yaml:"start" json:"start"` // when the rise begins
	Rise  time.Duration `yaml:"rise" json:"rise"`   // from normal level to the crest
	Hold  time.Duration `yaml:"hold" json:"hold"`   // at the crest
	Fall  time.Duration `yaml:"fall" json:"fall"`   // back to normal
	Peak  float64       `yaml:"peak" json:"peak"`   // crest level, m
	// Levels are the alarm levels I, II, III of the station (informative:
	// listed by /stations so tests and the demo can check the crossings).
	Levels []float64 `yaml:"levels,omitempty" json:"levels,omitempty"`
}

// shape returns the flood's progress in [0, 1] at offset d since the start.
func (f *FloodConfig) shape(d time.Duration) float64 {
	if f == nil {
		return 0
	}
	x := d - f.Start
	switch {
	case x <= 0:
		return 0
	case x < f.Rise:
		return smoothstep(float64(x) / float64(f.Rise))
	case x < f.Rise+f.Hold:
		return 1
	case x < f.Rise+f.Hold+f.Fall:
		return 1 - smoothstep(float64(x-f.Rise-f.Hold)/float64(f.Fall))
	}
	return 0
}

func (f *FloodConfig) validate() error {
	if f == nil {
		return nil
	}
	if f.Start < 0 || f.Rise <= 0 || f.Hold < 0 || f.Fall <= 0 {
		return fmt.Errorf("flood: start >= 0, rise > 0, hold >= 0, fall > 0 required (got start %s rise %s hold %s fall %s)", f.Start, f.Rise, f.Hold, f.Fall)
	}
	if f.Peak <= 0 {
		return fmt.Errorf("flood: peak must be a positive level in m, got %g", f.Peak)
	}
	for i := 1; i < len(f.Levels); i++ {
		if f.Levels[i] <= f.Levels[i-1] {
			return fmt.Errorf("flood: alarm levels must increase, got %v", f.Levels)
		}
	}
	return nil
}

func smoothstep(x float64) float64 {
	if x <= 0 {
		return 0
	}
	if x >= 1 {
		return 1
	}
	return x * x * (3 - 2*x)
}

// ParamInfo describes a parameter the simulator can produce.
type ParamInfo struct {
	Name     string  // series name, e.g. pm25_ugm3
	Unit     string  // unit as written in TXT files and SenML
	Decimals int     // decimals the value is rounded to
	Min, Max float64 // physical range, values are clamped into it
}

// params lists every parameter the simulator knows, by series name.
var params = map[string]ParamInfo{
	"water_level_m":       {"water_level_m", "m", 2, -5, 40},
	"rainfall_mm":         {"rainfall_mm", "mm", 1, 0, 500},
	"water_temperature_c": {"water_temperature_c", "Cel", 2, 0, 45},
	"ph":                  {"ph", "pH", 2, 0, 14},
	"do_mgl":              {"do_mgl", "mg/L", 2, 0, 20},
	"tss_mgl":             {"tss_mgl", "mg/L", 1, 0, 5000},
	"cod_mgl":             {"cod_mgl", "mg/L", 1, 0, 1000},
	"nh4_mgl":             {"nh4_mgl", "mg/L", 3, 0, 100},
	"pm25_ugm3":           {"pm25_ugm3", "ug/m3", 1, 0, 1000},
	"pm10_ugm3":           {"pm10_ugm3", "ug/m3", 1, 0, 2000},
	"co_ugm3":             {"co_ugm3", "ug/m3", 0, 0, 50000},
	"no2_ugm3":            {"no2_ugm3", "ug/m3", 1, 0, 2000},
	"so2_ugm3":            {"so2_ugm3", "ug/m3", 1, 0, 2000},
	"o3_ugm3":             {"o3_ugm3", "ug/m3", 1, 0, 1000},
	"temperature_c":       {"temperature_c", "Cel", 1, -40, 60},
	"humidity_percent":    {"humidity_percent", "%RH", 1, 0, 100},
	"pressure_hpa":        {"pressure_hpa", "hPa", 1, 800, 1100},
	"wind_speed_ms":       {"wind_speed_ms", "m/s", 1, 0, 80},
	"wind_direction_deg":  {"wind_direction_deg", "deg", 0, 0, 360},
	"dew_point_c":         {"dew_point_c", "Cel", 1, -60, 40},
}

// Params returns the names of every parameter the simulator can generate,
// sorted.
func Params() []string {
	out := make([]string, 0, len(params))
	for n := range params {
		out = append(out, n)
	}
	sort.Strings(out)
	return out
}

// LookupParam returns the description of a parameter.
func LookupParam(name string) (ParamInfo, bool) {
	p, ok := params[name]
	return p, ok
}

// defaultParams are what a station of each kind reports when the scenario
// does not list parameters.
var defaultParams = map[string][]string{
	"hydrological": {"water_level_m", "rainfall_mm", "water_temperature_c"},
	"air":          {"pm25_ugm3", "pm10_ugm3", "co_ugm3", "no2_ugm3", "so2_ugm3", "o3_ugm3", "temperature_c", "humidity_percent", "pressure_hpa", "wind_speed_ms", "wind_direction_deg"},
	"weather":      {"temperature_c", "humidity_percent", "pressure_hpa", "rainfall_mm", "wind_speed_ms", "wind_direction_deg"},
}

// signalEnv is what a generator needs to know about its station.
type signalEnv struct {
	seed    int64
	station string
	origin  time.Time      // simulated start, the flood's time origin
	loc     *time.Location // local time for daily cycles
	flood   *FloodConfig
	replay  *Replay // air replay, nil when generated
	cfg     map[string]SignalConfig
}

func (e *signalEnv) key(param string, salt ...string) noiseKey {
	return newNoiseKey(e.seed, append([]string{e.station, param}, salt...)...)
}

func (e *signalEnv) conf(param string) SignalConfig { return e.cfg[param] }

func or(v, def float64) float64 {
	if v != 0 {
		return v
	}
	return def
}

// newSignal builds the generator of param for a station. Replayed air
// parameters come from the replay; everything else is synthetic.
func newSignal(param string, env *signalEnv) (Signal, error) {
	if _, ok := params[param]; !ok {
		return nil, fmt.Errorf("parameter %q: unknown (known: %v)", param, Params())
	}
	if env.replay != nil {
		if s := env.replay.Signal(param); s != nil {
			return s, nil
		}
	}
	switch param {
	case "water_level_m":
		return waterLevel(env), nil
	case "rainfall_mm":
		return rainfall(env), nil
	case "water_temperature_c":
		return waterTemperature(env), nil
	case "ph", "do_mgl", "tss_mgl", "cod_mgl", "nh4_mgl":
		return waterQuality(param, env), nil
	case "temperature_c":
		return airTemperature(env), nil
	case "humidity_percent":
		return humidity(env), nil
	case "dew_point_c":
		return dewPoint(env), nil
	case "pressure_hpa":
		return pressure(env), nil
	case "wind_speed_ms":
		return windSpeed(env), nil
	case "wind_direction_deg":
		return windDirection(env), nil
	default:
		return airPollutant(param, env), nil
	}
}

// clampRound clamps v into the parameter's range and rounds it to its
// decimals.
func clampRound(param string, v float64) float64 {
	p := params[param]
	if math.IsNaN(v) {
		return v
	}
	v = math.Max(p.Min, math.Min(p.Max, v))
	return round(v, p.Decimals)
}
