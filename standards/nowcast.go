package standards

import "math"

// NowCastHours is the number of hourly means the NowCast weighs.
const NowCastHours = 12

// NowCast returns the weighted mean of the last 12 hourly means that
// Decision 1459/QĐ-TCMT prescribes for the hourly AQI of PM2.5 and PM10
// (section 2.2.1.a, p. 4). c[0] is the mean of the current hour, c[i] the
// mean i hours earlier; NaN marks a missing hour; entries past the 12th are
// ignored.
//
//   - w* = Cmin / Cmax over the available hours; w = max(w*, 1/2).
//   - NowCast = Σ w^(i-1)·c_i / Σ w^(i-1), a missing c_i weighing 0.
//   - At least 2 of c1, c2, c3 must be present, otherwise there is no value.
//
// For w = 1/2 the decision writes the closed form Σ (1/2)^i·c_i, which is the
// same weighted mean with the denominator Σ (1/2)^(i-1) = 2·(1 - 2^-12)
// rounded to 2; the exact weighted mean is used here so that missing hours
// (weight 0) are handled the same way for every w. The two differ by at most
// 0.025 % when all 12 hours are present.
func NowCast(c []float64) (float64, bool) {
	if len(c) > NowCastHours {
		c = c[:NowCastHours]
	}
	recent := 0
	for i := 0; i < 3 && i < len(c); i++ {
		if valid(c[i]) {
			recent++
		}
	}
	if recent < 2 {
		return 0, false
	}
	cmin, cmax := math.Inf(1), math.Inf(-1)
	for _, v := range c {
		if valid(v) {
			cmin = math.Min(cmin, v)
			cmax = math.Max(cmax, v)
		}
	}
	if cmax <= 0 {
		return 0, true // every available hour is zero
	}
	w := cmin / cmax
	if w < 0.5 {
		w = 0.5
	}
	var num, den float64
	wi := 1.0 // w^(i-1)
	for _, v := range c {
		if valid(v) {
			num += wi * v
			den += wi
		}
		wi *= w
	}
	return num / den, true
}

// valid reports whether v is a usable concentration.
func valid(v float64) bool { return !math.IsNaN(v) && !math.IsInf(v, 0) && v >= 0 }
