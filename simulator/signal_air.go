package simulator

import (
	"math"
	"time"
)

// traffic is the rush-hour shape of a Vietnamese city in [0, 1]: peaks
// around 07:30 and 18:30 local time.
func traffic(h float64) float64 {
	g := func(c, w float64) float64 {
		d := math.Mod(h-c+36, 24) - 12
		return math.Exp(-d * d / (2 * w * w))
	}
	return math.Min(1, g(7.5, 1.3)+g(18.5, 1.6))
}

// airPollutant generates PM2.5, PM10, CO, NO2, SO2 and O3 in µg/m³: a
// seasonal level (worse in the dry, cold months), rush-hour peaks for
// traffic pollutants, an afternoon photochemical peak for ozone, and slow
// episodes (multiplicative, so values stay positive).
func airPollutant(param string, env *signalEnv) Signal {
	c := env.conf(param)
	k := env.key(param)
	episode := env.key("pm", "episode") // shared by the particulate and gas series
	return SignalFunc(func(t time.Time) (float64, bool) {
		h := hourOfDay(t, env.loc)
		season := 1 - 0.35*seasonal(t, env.loc) // 1.35 in winter, 0.65 in summer
		ep := math.Exp(0.55 * episode.smooth(float64(t.Unix())/(14*3600)))
		own := math.Exp(0.15 * k.smooth(float64(t.Unix())/(3*3600)))
		n := 1 + or(c.Noise, 0.04)*k.normal(t.Unix())
		tr := traffic(h)
		var v float64
		switch param {
		case "pm25_ugm3":
			v = or(c.Base, 38) * season * ep * own * (1 + or(c.Amplitude, 0.45)*tr) * n
		case "pm10_ugm3":
			pm25, _ := airPollutant("pm25_ugm3", env).At(t)
			v = pm25 * (1.55 + 0.2*k.smooth(float64(t.Unix())/(6*3600))) * n
		case "co_ugm3":
			v = or(c.Base, 750) * season * ep * own * (1 + or(c.Amplitude, 0.6)*tr) * n
		case "no2_ugm3":
			v = or(c.Base, 28) * season * ep * own * (1 + or(c.Amplitude, 0.8)*tr) * n
		case "so2_ugm3":
			v = or(c.Base, 9) * season * ep * own * n
		case "o3_ugm3":
			v = (or(c.Base, 22) + or(c.Amplitude, 38)*(diurnal(h, 6, 14.5)+1)) * (2 - season) * own * n
		}
		return clampRound(param, v), true
	})
}
