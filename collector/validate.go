package collector

import (
	"math"
	"sync"
	"time"

	"github.com/quantrac/quantrac/model"
)

func f(v float64) *float64 { return &v }

// DefaultLimits are the physical ranges and spike limits of the series
// names quantrac uses. A reading outside the range is flagged
// model.QualityOutOfRange; one that jumps away from the last good reading
// of its series by more than Spike, or rises to more than SpikeFactor times
// it and by more than SpikeFloor, is flagged model.QualitySpike. Rainfall
// and wind direction legitimately repeat, so they are never flagged as
// stuck.
//
// The spike limits are per reading, so they must hold for every sampling
// interval in use (10 s polls up to hourly files): the absolute limits are
// far above what the quantity can do in an hour, and the concentrations use
// the relative check, which does not depend on the interval. A rise to more
// than 4 times passes a real tripling between two 5-minute readings (20 to
// 60 µg/m³) and catches a reading multiplied by 5; the floors keep
// fluctuations of clean air or water (PM2.5 4 to 20) from counting. Series
// without a spike limit: rainfall, wind speed and the pH of an effluent
// change that fast for real, humidity multiplied by 5 is out of range, and
// wind direction is circular.
var DefaultLimits = map[string]Limit{
	"water_level_m":       {Min: f(-20), Max: f(100), Spike: f(2)},
	"rainfall_mm":         {Min: f(0), Max: f(500), StuckPolls: -1},
	"water_temperature_c": {Min: f(0), Max: f(50), Spike: f(10)},
	"ph":                  {Min: f(0), Max: f(14)},
	"do_mgl":              {Min: f(0), Max: f(25), SpikeFactor: f(4), SpikeFloor: f(3)},
	"tss_mgl":             {Min: f(0), Max: f(20000), SpikeFactor: f(4), SpikeFloor: f(50)},
	"cod_mgl":             {Min: f(0), Max: f(5000), SpikeFactor: f(4), SpikeFloor: f(20)},
	"nh4_mgl":             {Min: f(0), Max: f(1000), SpikeFactor: f(4), SpikeFloor: f(1)},
	"pm25_ugm3":           {Min: f(0), Max: f(2000), SpikeFactor: f(4), SpikeFloor: f(25)},
	"pm10_ugm3":           {Min: f(0), Max: f(3000), SpikeFactor: f(4), SpikeFloor: f(50)},
	"co_ugm3":             {Min: f(0), Max: f(200000), SpikeFactor: f(4), SpikeFloor: f(1000)},
	"no2_ugm3":            {Min: f(0), Max: f(5000), SpikeFactor: f(4), SpikeFloor: f(30)},
	"so2_ugm3":            {Min: f(0), Max: f(5000), SpikeFactor: f(4), SpikeFloor: f(20)},
	"o3_ugm3":             {Min: f(0), Max: f(2000), SpikeFactor: f(4), SpikeFloor: f(50)},
	"temperature_c":       {Min: f(-30), Max: f(60), Spike: f(10)},
	"humidity_percent":    {Min: f(0), Max: f(100)},
	"pressure_hpa":        {Min: f(800), Max: f(1100), Spike: f(10)},
	"wind_speed_ms":       {Min: f(0), Max: f(80)},
	"wind_direction_deg":  {Min: f(0), Max: f(360), StuckPolls: -1},
	"dew_point_c":         {Min: f(-50), Max: f(40), Spike: f(15)},
}

const (
	defaultStuckPolls       = 30
	defaultSpikeSettlePolls = 6
	defaultSpikeSettleTime  = 15 * time.Minute
)

// validator flags samples; it keeps the last value of each series for the
// stuck check and the last good value for the spike check. Safe for
// concurrent use.
type validator struct {
	global      map[string]Limit
	stuck       int
	maxFuture   time.Duration
	maxPast     time.Duration
	settlePolls int
	settleTime  time.Duration

	mu   sync.Mutex
	last map[string]*seriesState
}

type seriesState struct {
	v      float64 // newest value (stuck check)
	t      int64   // newest sample time, ms
	repeat int

	// Spike reference: the last good reading. A flagged spike never
	// becomes the reference, so the reading after it is compared with the
	// value before it.
	hasRef bool
	ref    float64
	// Readings flagged spike in a row that agree with each other: how
	// many, the newest value and the time of the first.
	run  int
	runV float64
	runT int64
}

func newValidator(c ValidationConfig) *validator {
	v := &validator{last: map[string]*seriesState{}}
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
	v.settlePolls, v.settleTime = c.SpikeSettlePolls, c.SpikeSettleTime
	if v.settlePolls <= 0 {
		v.settlePolls = defaultSpikeSettlePolls
	}
	if v.settleTime <= 0 {
		v.settleTime = defaultSpikeSettleTime
	}
}

func mergeLimit(base, over Limit) Limit {
	if over.Min != nil {
		base.Min = over.Min
	}
	if over.Max != nil {
		base.Max = over.Max
	}
	if over.Spike != nil {
		base.Spike = over.Spike
	}
	if over.SpikeFactor != nil {
		base.SpikeFactor = over.SpikeFactor
	}
	if over.SpikeFloor != nil {
		base.SpikeFloor = over.SpikeFloor
	}
	if over.StuckPolls != 0 {
		base.StuckPolls = over.StuckPolls
	}
	return base
}

// jump reports whether reading v is implausibly far from the good reading
// ref: by more than Spike either way, or a rise to more than SpikeFactor
// times ref by more than SpikeFloor. Falls are left to the absolute limit:
// concentrations drop fast for real (rain, a change of wind), a faulty
// sensor's spikes go up.
func (l Limit) jump(ref, v float64) bool {
	d := v - ref
	if l.Spike != nil && *l.Spike > 0 && math.Abs(d) > *l.Spike {
		return true
	}
	if l.SpikeFactor != nil && *l.SpikeFactor > 0 {
		floor := 0.0
		if l.SpikeFloor != nil {
			floor = *l.SpikeFloor
		}
		if d > floor && v > *l.SpikeFactor*ref {
			return true
		}
	}
	return false
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
			continue // a wrong clock: neither compared nor kept for comparison
		}
		key := s.Labels.String()
		st := v.last[key]
		if st == nil {
			st = &seriesState{v: s.V, t: s.T}
			v.last[key] = st
			v.spike(st, s, lim)
			continue
		}
		if s.T <= st.t {
			continue // resent or late sample: no stuck/spike state change
		}
		v.spike(st, s, lim)
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
		st.v, st.t = s.V, s.T
	}
}

// spike compares a reading with the last good reading of its series and
// flags it, or makes it the new reference. Only readings without flags or
// status take part: an out-of-range value or a reading taken during
// calibration is neither checked nor a reference. A station's first reading
// is the first reference and never flagged.
func (v *validator) spike(st *seriesState, s *model.Sample, lim Limit) {
	if s.Q != 0 {
		return
	}
	if !st.hasRef || !lim.jump(st.ref, s.V) {
		st.hasRef, st.ref, st.run = true, s.V, 0
		return
	}
	// A jump. Count it in the run of flagged readings if it agrees with
	// the previous one; a change that persists is real, not a spike.
	if st.run > 0 && !lim.jump(st.runV, s.V) && !lim.jump(s.V, st.runV) {
		st.run++
	} else {
		st.run, st.runT = 1, s.T
	}
	st.runV = s.V
	if st.run >= v.settlePolls || s.T-st.runT >= v.settleTime.Milliseconds() {
		st.ref, st.run = s.V, 0
		return
	}
	s.Q |= model.QualitySpike
}
