package simulator

import (
	"math"
	"time"
)

// The daily temperature cycle: coolest shortly before sunrise, warmest early
// in the afternoon (local time).
const (
	tempMinHour = 5.5
	tempMaxHour = 14.5
)

// dailyMeanTemperature is the day's mean air temperature: seasonal (about
// 17 °C in January, 30 °C in July in the Red River delta) plus weather that
// changes over days.
func dailyMeanTemperature(env *signalEnv, t time.Time) float64 {
	c := env.conf("temperature_c")
	k := env.key("temperature_c", "mean")
	return or(c.Base, 23.5) + 6.5*seasonal(t, env.loc) + 1.5*k.smooth(float64(t.Unix())/(30*3600))
}

// airTemperature adds the daily cycle (minimum around 05:30, maximum
// around 14:30) and noise to the daily mean.
func airTemperature(env *signalEnv) Signal {
	c := env.conf("temperature_c")
	amp := or(c.Amplitude, 3.8)
	noise := or(c.Noise, 0.1)
	k := env.key("temperature_c")
	return SignalFunc(func(t time.Time) (float64, bool) {
		v := dailyMeanTemperature(env, t) + amp*diurnal(hourOfDay(t, env.loc), tempMinHour, tempMaxHour) + noise*k.normal(t.Unix())
		return clampRound("temperature_c", v), true
	})
}

// dewPointAt is the dew point: the daily mean temperature minus a spread
// that grows in the dry season.
func dewPointAt(env *signalEnv, t time.Time) float64 {
	k := env.key("dew_point_c")
	spread := 4.5 - 2*seasonal(t, env.loc) + 1.5*k.smooth(float64(t.Unix())/(20*3600))
	return dailyMeanTemperature(env, t) - spread
}

func dewPoint(env *signalEnv) Signal {
	return SignalFunc(func(t time.Time) (float64, bool) {
		return clampRound("dew_point_c", dewPointAt(env, t)), true
	})
}

// RelativeHumidity derives relative humidity (%) from air temperature and
// dew point (°C) with the Magnus formula.
func RelativeHumidity(temp, dew float64) float64 {
	const a, b = 17.625, 243.04
	rh := 100 * math.Exp(a*dew/(b+dew)-a*temp/(b+temp))
	return math.Max(0, math.Min(100, rh))
}

// humidity follows from temperature and a slowly varying dew point, so it
// peaks at dawn and bottoms out in the early afternoon.
func humidity(env *signalEnv) Signal {
	temp := airTemperature(env)
	k := env.key("humidity_percent")
	noise := or(env.conf("humidity_percent").Noise, 0.3)
	return SignalFunc(func(t time.Time) (float64, bool) {
		tc, _ := temp.At(t)
		v := RelativeHumidity(tc, dewPointAt(env, t)) + noise*k.normal(t.Unix())
		return clampRound("humidity_percent", v), true
	})
}

// pressure has the semi-diurnal atmospheric tide (maxima near 10:00 and
// 22:00), higher values in the cool season, and synoptic drift.
func pressure(env *signalEnv) Signal {
	c := env.conf("pressure_hpa")
	k := env.key("pressure_hpa")
	return SignalFunc(func(t time.Time) (float64, bool) {
		h := hourOfDay(t, env.loc)
		v := or(c.Base, 1010) - 5*seasonal(t, env.loc) + or(c.Amplitude, 1.3)*math.Cos(2*math.Pi*(h-10)/12) +
			3*k.smooth(float64(t.Unix())/(48*3600)) + or(c.Noise, 0.05)*k.normal(t.Unix())
		return clampRound("pressure_hpa", v), true
	})
}

// windSpeed is a gusty, non-negative speed that picks up in the afternoon.
func windSpeed(env *signalEnv) Signal {
	c := env.conf("wind_speed_ms")
	k := env.key("wind_speed_ms")
	return SignalFunc(func(t time.Time) (float64, bool) {
		h := hourOfDay(t, env.loc)
		v := or(c.Base, 2.2) + or(c.Amplitude, 0.8)*diurnal(h, 4, 15) + 1.2*k.smooth(float64(t.Unix())/(5*3600)) + or(c.Noise, 0.3)*k.normal(t.Unix())
		return clampRound("wind_speed_ms", math.Max(0, v)), true
	})
}

// windDirection wanders around the monsoon direction: north-east in the
// cool season, south-east in summer.
func windDirection(env *signalEnv) Signal {
	k := env.key("wind_direction_deg")
	return SignalFunc(func(t time.Time) (float64, bool) {
		mean := 90 + 45*seasonal(t, env.loc) // 45° in January, 135° in July
		v := mean + 70*k.smooth(float64(t.Unix())/(10*3600)) + 10*k.normal(t.Unix())
		v = math.Mod(v+360, 360)
		return clampRound("wind_direction_deg", math.Round(v)), true
	})
}
