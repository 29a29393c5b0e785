package simulator

import (
	"math"
	"time"
)

// tidePeriod is the principal lunar semi-diurnal period (M2), 12.42 h.
const tidePeriod = 12*time.Hour + 25*time.Minute + 12*time.Second

// waterLevel is a river level: base level plus a tidal swing (damped while a
// flood is running), a slow drift, the flood wave and gauge noise.
//
// Defaults: base 6.5 m, swing ±0.25 m, noise 0.01 m.
func waterLevel(env *signalEnv) Signal {
	c := env.conf("water_level_m")
	base := or(c.Base, 6.5)
	amp := or(c.Amplitude, 0.25)
	noise := or(c.Noise, 0.01)
	k := env.key("water_level_m")
	drift := env.key("water_level_m", "drift")
	phase := k.unit(-1) * 2 * math.Pi
	return SignalFunc(func(t time.Time) (float64, bool) {
		d := t.Sub(env.origin)
		f := env.flood.shape(d)
		tide := amp * math.Sin(2*math.Pi*float64(t.UnixNano())/float64(tidePeriod)+phase)
		v := base + 0.15*drift.smooth(float64(t.Unix())/(6*3600))
		if env.flood != nil {
			v = v + (env.flood.Peak-v)*f
		}
		v += tide*(1-f) + noise*k.normal(t.Unix())
		return clampRound("water_level_m", v), true
	})
}

// rainfall is the rain of the hour ending at t, in mm: short showers from a
// thresholded smooth field, plus heavy rain in the hours before a flood
// crest.
func rainfall(env *signalEnv) Signal {
	c := env.conf("rainfall_mm")
	scale := or(c.Base, 8)
	k := env.key("rainfall_mm")
	return SignalFunc(func(t time.Time) (float64, bool) {
		x := k.smooth(float64(t.Unix())/(3*3600))*0.5 + k.smooth(float64(t.Unix())/(40*60)+1e6)*0.5
		v := math.Max(0, x-0.35) * scale * 3
		if f := env.flood; f != nil {
			// Storm upstream: rain peaks in the first half of the rise.
			d := t.Sub(env.origin) - f.Start + f.Rise/2
			w := float64(f.Rise)
			if w > 0 {
				z := float64(d) / w
				v += 35 * math.Exp(-z*z*4)
			}
		}
		return clampRound("rainfall_mm", v), true
	})
}

// seasonal is a yearly cycle in [-1, 1], -1 in mid-January and +1 in
// mid-July (northern Vietnam).
func seasonal(t time.Time, loc *time.Location) float64 {
	return -math.Cos(2 * math.Pi * (dayOfYear(t, loc) - 15) / 365.25)
}

// waterTemperature follows the season (about 19 °C in January, 30 °C in
// July around Hà Nội) with a small daily swing peaking mid-afternoon.
func waterTemperature(env *signalEnv) Signal {
	c := env.conf("water_temperature_c")
	base := or(c.Base, 24.5)
	amp := or(c.Amplitude, 0.8)
	noise := or(c.Noise, 0.03)
	k := env.key("water_temperature_c")
	return SignalFunc(func(t time.Time) (float64, bool) {
		v := base + 5.5*seasonal(t, env.loc) + amp*diurnal(hourOfDay(t, env.loc), 7, 16) +
			0.3*k.smooth(float64(t.Unix())/(12*3600)) + noise*k.normal(t.Unix())
		return clampRound("water_temperature_c", v), true
	})
}

// oxygenSaturation is the dissolved-oxygen saturation of fresh water at
// temperature c (°C), mg/L.
func oxygenSaturation(c float64) float64 {
	return 14.62 - 0.3898*c + 0.006969*c*c - 0.00005897*c*c*c
}

// waterQuality generates pH, DO, TSS, COD and NH4: slow drifts, a daily
// photosynthesis cycle for pH and DO, and turbid, polluted water during a
// flood.
func waterQuality(param string, env *signalEnv) Signal {
	c := env.conf(param)
	k := env.key(param)
	wt := waterTemperature(env)
	return SignalFunc(func(t time.Time) (float64, bool) {
		h := hourOfDay(t, env.loc)
		slow := k.smooth(float64(t.Unix()) / (8 * 3600))
		n := k.normal(t.Unix())
		f := env.flood.shape(t.Sub(env.origin))
		var v float64
		switch param {
		case "ph":
			v = or(c.Base, 7.3) + 0.2*slow + or(c.Amplitude, 0.15)*diurnal(h, 6, 15) - 0.3*f + or(c.Noise, 0.02)*n
		case "do_mgl":
			temp, _ := wt.At(t)
			v = or(c.Base, 0.82)*oxygenSaturation(temp) + or(c.Amplitude, 0.9)*diurnal(h, 6, 15) + 0.3*slow - 1.5*f + or(c.Noise, 0.05)*n
		case "tss_mgl":
			v = or(c.Base, 38)*(1+0.35*slow) + 180*f + or(c.Noise, 1.5)*n
		case "cod_mgl":
			v = or(c.Base, 11)*(1+0.25*slow) + 9*f + or(c.Noise, 0.4)*n
		case "nh4_mgl":
			v = or(c.Base, 0.32)*(1+0.4*slow) + 0.4*f + or(c.Noise, 0.01)*n
		}
		return clampRound(param, v), true
	})
}
