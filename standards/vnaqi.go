package standards

import (
	"math"
	"time"
)

// SubIndex is the index of one pollutant (AQIx in Decision 1459/QĐ-TCMT).
type SubIndex struct {
	OK    bool
	Conc  float64 // concentration the index was computed from (NowCast, 24 h mean, 1 h max, ...)
	Value float64 // unrounded index
}

// AQI returns the rounded index.
func (s SubIndex) AQI() int { return RoundAQI(s.Value) }

// Result is a VN_AQI value (hourly or daily) with its sub-indices.
type Result struct {
	// OK is false when no overall index can be given: no sub-index at all, or
	// neither PM2.5 nor PM10 (Decision 1459/QĐ-TCMT, 2.1.b: at least one of
	// them is required).
	OK       bool
	AQI      int       // rounded overall index (max of sub-indices)
	Value    float64   // unrounded overall index
	Dominant Pollutant // the pollutant whose sub-index is the overall one
	Sub      [numPollutants]SubIndex
	// O3Hour1 and O3Hour8 are the two O3 candidates of a daily result (1 h
	// maximum on the 1h column, 8 h maximum on the 8h column); Sub[O3] is the
	// larger. Unset for hourly results.
	O3Hour1, O3Hour8 SubIndex
}

// Category returns the VN_AQI band of the overall index.
func (r Result) Category() (Category, bool) {
	if !r.OK {
		return Category{}, false
	}
	return VNCategory(r.AQI)
}

// Combine fills the overall index of r from its sub-indices: the maximum
// (Decision 1459/QĐ-TCMT, 2.2.1.c and 2.2.2.c), provided PM2.5 or PM10 is
// among them (2.1.b).
func (r *Result) Combine() {
	r.OK, r.AQI, r.Value = false, 0, 0
	best := -1.0
	for _, p := range Pollutants() {
		s := r.Sub[p]
		if s.OK && s.Value > best {
			best, r.Dominant = s.Value, p
		}
	}
	if best < 0 || !(r.Sub[PM25].OK || r.Sub[PM10].OK) {
		return
	}
	r.OK, r.Value, r.AQI = true, best, RoundAQI(best)
}

// StationHours holds the hourly means of the VN_AQI pollutants at one
// station over a common run of hours. Hour i covers
// [Start + i h, Start + (i+1) h); in the decision's hour-ending notation it is
// the hour labelled Start + (i+1) h. A missing hour is NaN (or beyond the
// end of a pollutant's slice).
type StationHours struct {
	Start  int64 // ms UTC, start of hour 0
	Values [numPollutants][]float64
}

// NewStationHours returns n missing hours for every pollutant from start.
func NewStationHours(start int64, n int) *StationHours {
	s := &StationHours{Start: start}
	for p := range s.Values {
		v := make([]float64, n)
		for i := range v {
			v[i] = math.NaN()
		}
		s.Values[p] = v
	}
	return s
}

// Len returns the number of hours (the longest pollutant slice).
func (s *StationHours) Len() int {
	n := 0
	for _, v := range s.Values {
		n = max(n, len(v))
	}
	return n
}

// At returns the mean of p in hour i, NaN when missing or out of range.
func (s *StationHours) At(p Pollutant, i int) float64 {
	if p >= numPollutants || i < 0 || i >= len(s.Values[p]) {
		return math.NaN()
	}
	return s.Values[p][i]
}

// Set stores the mean of p in hour i; it ignores indices out of range.
func (s *StationHours) Set(p Pollutant, i int, v float64) {
	if p < numPollutants && i >= 0 && i < len(s.Values[p]) {
		s.Values[p][i] = v
	}
}

// HourIndex returns the index of the hour that starts at t (ms), which may be
// outside [0, Len).
func (s *StationHours) HourIndex(t int64) int {
	return int(math.Floor(float64(t-s.Start) / float64(time.Hour/time.Millisecond)))
}

// HourStart returns the start (ms UTC) of hour i.
func (s *StationHours) HourStart(i int) int64 {
	return s.Start + int64(i)*int64(time.Hour/time.Millisecond)
}

// HourlyVNAQI computes the hourly VN_AQI (AQI^h) of hour i (Decision
// 1459/QĐ-TCMT, 2.2.1): PM2.5 and PM10 from the NowCast of hours i-11..i
// (formula 2), O3 on the 1h column, CO, SO2 and NO2 from the hour's mean
// (formula 1); the overall index is the maximum, given when PM2.5 or PM10 is
// present.
func HourlyVNAQI(s *StationHours, i int) Result {
	var r Result
	var window [NowCastHours]float64
	for _, p := range Pollutants() {
		t := VNTable(p)
		var c float64
		var ok bool
		if p.IsPM() {
			for k := range window {
				window[k] = s.At(p, i-k)
			}
			c, ok = NowCast(window[:])
		} else {
			c = s.At(p, i)
			ok = valid(c)
		}
		if !ok {
			continue
		}
		if v, ok := t.Index(c); ok {
			r.Sub[p] = SubIndex{OK: true, Conc: c, Value: v}
		}
	}
	r.Combine()
	return r
}

// DailyOptions set how many valid hours a daily value needs. Decision
// 1459/QĐ-TCMT states no minimum for the daily values; these are quantrac's
// defaults (75 % of the hours, the share commonly used for a valid average)
// and can be changed.
type DailyOptions struct {
	// MinHours is the minimum number of valid hourly means in the day for a
	// pollutant's daily value (24 h mean or 1 h maximum). Default 18 of 24.
	MinHours int
	// MinHours8 is the minimum number of valid hourly means in an 8-hour
	// window for its 8 h mean to count. Default 6 of 8.
	MinHours8 int
}

// DefaultDailyOptions returns the defaults described on DailyOptions.
func DefaultDailyOptions() DailyOptions { return DailyOptions{MinHours: 18, MinHours8: 6} }

func (o DailyOptions) withDefaults() DailyOptions {
	d := DefaultDailyOptions()
	if o.MinHours <= 0 {
		o.MinHours = d.MinHours
	}
	if o.MinHours8 <= 0 {
		o.MinHours8 = d.MinHours8
	}
	return o
}

// DailyVNAQI computes the daily VN_AQI (AQI^d) of the 24 hours starting at
// hour index day (Decision 1459/QĐ-TCMT, 2.2.2): the day runs from the hour
// labelled 01:00 to the one labelled 00:00 the next day, that is the hours
// starting 00:00 .. 23:00 local time. PM2.5 and PM10 use the 24 h mean; SO2,
// NO2 and CO the 1 h maximum; O3 the larger of the 1 h maximum on the 1h
// column and the 8 h maximum on the 8h column, the latter left out above
// 400 µg/m³. The 8 h mean labelled h averages hours h-7..h, so the first
// windows of a day reach into the previous day (as the decision's example,
// p. 6-7, does).
func DailyVNAQI(s *StationHours, day int, opts DailyOptions) Result {
	opts = opts.withDefaults()
	var r Result
	for _, p := range Pollutants() {
		var sum, mx float64
		n := 0
		mx = math.Inf(-1)
		for i := day; i < day+24; i++ {
			if v := s.At(p, i); valid(v) {
				sum += v
				mx = math.Max(mx, v)
				n++
			}
		}
		if n < opts.MinHours {
			continue
		}
		switch p {
		case PM25, PM10:
			c := sum / float64(n)
			if v, ok := VNTable(p).Index(c); ok {
				r.Sub[p] = SubIndex{OK: true, Conc: c, Value: v}
			}
		case O3:
			if v, ok := VNO3Hour1.Index(mx); ok {
				r.O3Hour1 = SubIndex{OK: true, Conc: mx, Value: v}
			}
			if m8, ok := MaxRollingMean(s.Values[O3], day, 24, 8, opts.MinHours8); ok {
				if v, ok := VNO3Hour8.Index(m8); ok {
					r.O3Hour8 = SubIndex{OK: true, Conc: m8, Value: v}
				} else {
					r.O3Hour8 = SubIndex{Conc: m8} // above 400 µg/m³: 1 h only
				}
			}
			r.Sub[O3] = r.O3Hour1
			if r.O3Hour8.OK && (!r.Sub[O3].OK || r.O3Hour8.Value > r.Sub[O3].Value) {
				r.Sub[O3] = r.O3Hour8
			}
		default:
			if v, ok := VNTable(p).Index(mx); ok {
				r.Sub[p] = SubIndex{OK: true, Conc: mx, Value: v}
			}
		}
	}
	r.Combine()
	return r
}

// RollingMean returns the mean of the window hours ending at hour i
// (v[i-window+1 .. i]), given at least minValid valid values.
func RollingMean(v []float64, i, window, minValid int) (float64, bool) {
	var sum float64
	n := 0
	for k := i - window + 1; k <= i; k++ {
		if k >= 0 && k < len(v) && valid(v[k]) {
			sum += v[k]
			n++
		}
	}
	if n == 0 || n < minValid {
		return 0, false
	}
	return sum / float64(n), true
}

// MaxRollingMean returns the largest window-hour rolling mean ending at the
// hours first .. first+count-1.
func MaxRollingMean(v []float64, first, count, window, minValid int) (float64, bool) {
	best, found := math.Inf(-1), false
	for i := first; i < first+count; i++ {
		if m, ok := RollingMean(v, i, window, minValid); ok && m > best {
			best, found = m, true
		}
	}
	return best, found
}
