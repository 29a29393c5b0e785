package collector

import (
	"math"
	"sync"
	"time"

	"github.com/quantrac/quantrac/model"
)

func f(v float64) *float64 { return &v }

// DefaultLimits are the physical ranges of the series names quantrac uses.
// A reading outside is flagged model.QualityOutOfRange. Rainfall and wind
// direction legitimately repeat, so they are never flagged as stuck.
var DefaultLimits = map[string]Limit{
	"water_level_m":       {Min: f(-20), Max: f(100)},
	"rainfall_mm":         {Min: f(0), Max: f(500), StuckPolls: -1},
	"water_temperature_c": {Min: f(0), Max: f(50)},
	"ph":                  {Min: f(0), Max: f(14)},
	"do_mgl":              {Min: f(0), Max: f(25)},
	"tss_mgl":             {Min: f(0), Max: f(20000)},
	"cod_mgl":             {Min: f(0), Max: f(5000)},
	"nh4_mgl":             {Min: f(0), Max: f(1000)},
	"pm25_ugm3":           {Min: f(0), Max: f(2000)},
	"pm10_ugm3":           {Min: f(0), Max: f(3000)},
	"co_ugm3":             {Min: f(0), Max: f(200000)},
	"no2_ugm3":            {Min: f(0), Max: f(5000)},
	"so2_ugm3":            {Min: f(0), Max: f(5000)},
	"o3_ugm3":             {Min: f(0), Max: f(2000)},
	"temperature_c":       {Min: f(-30), Max: f(60)},
	"humidity_percent":    {Min: f(0), Max: f(100)},
	"pressure_hpa":        {Min: f(800), Max: f(1100)},
	"wind_speed_ms":       {Min: f(0), Max: f(80)},
	"wind_direction_deg":  {Min: f(0), Max: f(360), StuckPolls: -1},
	"dew_point_c":         {Min: f(-50), Max: f(40)},
}

const defaultStuckPolls = 30

// validator flags samples; it keeps the last value of each series for the
// stuck and spike checks. Safe for concurrent use.
type validator struct {
	global    map[string]Limit
	stuck     int
	maxFuture time.Duration
	maxPast   time.Duration

	mu   sync.Mutex
	last map[string]*seriesState
}

type seriesState struct {
	v, t   float64
	repeat int
}

func newValidator(c ValidationConfig) *validator {
	v := &validator{global: map[string]Limit{}, stuck: c.StuckPolls, maxFuture: c.MaxFuture, maxPast: c.MaxPast, last: map[string]*seriesState{}}
	v.configure(c)
	return v
}

// configure applies a (reloaded) validation config, keeping series state.
func (v *validator) configure(c ValidationConfig) {
	v.mu.Lock()
	defer v.mu.Unlock()
	v.global = map[string]Limit{}
	for k, l := range DefaultLimits {
		v.global[k] = l
	}
	for k, l := range c.Limits {
		v.global[k] = mergeLimit(v.global[k], l)
	}
	v.stuck = c.StuckPolls
	if v.stuck == 0 {
		v.stuck = defaultStuckPolls
	}
	v.maxFuture, v.maxPast = c.MaxFuture, c.MaxPast
	if v.maxFuture == 0 {
		v.maxFuture = 5 * time.Minute
	}
	if v.maxPast == 0 {
		v.maxPast = 30 * 24 * time.Hour
	}
}

func mergeLimit(base, over Limit) Limit {
	if over.Min != nil {
		base.Min = over.Min
	}
	if over.Max != nil {
		base.Max = over.Max
	}
	if over.Spike != 0 {
		base.Spike = over.Spike
	}
	if over.StuckPolls != 0 {
		base.StuckPolls = over.StuckPolls
	}
	return base
}

// check sets the quality flags of samples in place. stationLimits (may be
// nil) override the global limits for one station.
func (v *validator) check(samples []model.Sample, stationLimits map[string]Limit, now time.Time) {
	v.mu.Lock()
	defer v.mu.Unlock()
	nowMs := now.UnixMilli()
	for i := range samples {
		s := &samples[i]
		metric := s.Labels.Metric()
		lim := v.global[metric]
		if sl, ok := stationLimits[metric]; ok {
			lim = mergeLimit(lim, sl)
		}
		if math.IsNaN(s.V) || math.IsInf(s.V, 0) || (lim.Min != nil && s.V < *lim.Min) || (lim.Max != nil && s.V > *lim.Max) {
			s.Q |= model.QualityOutOfRange
		}
		if s.T > nowMs+v.maxFuture.Milliseconds() || s.T < nowMs-v.maxPast.Milliseconds() {
			s.Q |= model.QualityBadTime
		}
		key := s.Labels.String()
		st := v.last[key]
		if st == nil {
			v.last[key] = &seriesState{v: s.V, t: float64(s.T)}
			continue
		}
		if float64(s.T) <= st.t {
			continue // resent or late sample: no stuck/spike state change
		}
		if lim.Spike > 0 && s.Q&model.QualityOutOfRange == 0 && math.Abs(s.V-st.v) > lim.Spike {
			s.Q |= model.QualitySpike
		}
		if s.V == st.v {
			st.repeat++
		} else {
			st.repeat = 0
		}
		stuck := v.stuck
		if lim.StuckPolls != 0 {
			stuck = lim.StuckPolls
		}
		if stuck > 0 && st.repeat >= stuck {
			s.Q |= model.QualityStuck
		}
		st.v, st.t = s.V, float64(s.T)
	}
}
