package simulator

import (
	"math"
	"time"
)

// Clock maps wall-clock instants onto simulated instants: simulated time
// starts at SimStart when the wall clock reads WallStart and then runs Speed
// times faster.
type Clock struct {
	WallStart time.Time
	SimStart  time.Time
	Speed     float64
}

// Sim returns the simulated instant for the wall-clock instant w.
func (c Clock) Sim(w time.Time) time.Time {
	speed := c.Speed
	if speed <= 0 {
		speed = 1
	}
	d := float64(w.Sub(c.WallStart)) * speed
	return c.SimStart.Add(time.Duration(d))
}

// Wall returns the wall-clock instant at which simulated time reaches s.
func (c Clock) Wall(s time.Time) time.Time {
	speed := c.Speed
	if speed <= 0 {
		speed = 1
	}
	d := float64(s.Sub(c.SimStart)) / speed
	return c.WallStart.Add(time.Duration(d))
}

// splitmix64 is a small, fast, well-mixed hash used for deterministic noise.
func splitmix64(x uint64) uint64 {
	x += 0x9e3779b97f4a7c15
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9
	x = (x ^ (x >> 27)) * 0x94d049bb133111eb
	return x ^ (x >> 31)
}

// hashString folds s into a 64-bit key (FNV-1a).
func hashString(s string) uint64 {
	h := uint64(14695981039346656037)
	for i := 0; i < len(s); i++ {
		h ^= uint64(s[i])
		h *= 1099511628211
	}
	return h
}

// noiseKey identifies one noise stream: seed, station and parameter.
type noiseKey uint64

func newNoiseKey(seed int64, parts ...string) noiseKey {
	h := splitmix64(uint64(seed))
	for _, p := range parts {
		h = splitmix64(h ^ hashString(p))
	}
	return noiseKey(h)
}

// unit returns a deterministic value in [0, 1) for index i.
func (k noiseKey) unit(i int64) float64 {
	return float64(splitmix64(uint64(k)^splitmix64(uint64(i)))>>11) / (1 << 53)
}

// normal returns a deterministic standard-normal value for index i
// (Box-Muller on two hashed uniforms).
func (k noiseKey) normal(i int64) float64 {
	u1 := k.unit(2 * i)
	u2 := k.unit(2*i + 1)
	if u1 < 1e-12 {
		u1 = 1e-12
	}
	return math.Sqrt(-2*math.Log(u1)) * math.Cos(2*math.Pi*u2)
}

// smooth returns deterministic value noise in [-1, 1] that varies smoothly
// with x (cosine interpolation between hashed lattice points).
func (k noiseKey) smooth(x float64) float64 {
	x0 := math.Floor(x)
	f := x - x0
	a := k.unit(int64(x0))*2 - 1
	b := k.unit(int64(x0)+1)*2 - 1
	w := (1 - math.Cos(f*math.Pi)) / 2
	return a*(1-w) + b*w
}

// hourOfDay returns the local clock time of t in hours, [0, 24).
func hourOfDay(t time.Time, loc *time.Location) float64 {
	l := t.In(loc)
	return float64(l.Hour()) + float64(l.Minute())/60 + float64(l.Second())/3600
}

// dayOfYear returns the fractional day of the year of t in loc.
func dayOfYear(t time.Time, loc *time.Location) float64 {
	l := t.In(loc)
	return float64(l.YearDay()-1) + hourOfDay(t, loc)/24
}

// diurnal is a daily cycle in [-1, 1] with its minimum at minHour and its
// maximum at maxHour (local clock hours), rising and falling along half
// cosines, so the warm-up and the cool-down may take different times.
func diurnal(h, minHour, maxHour float64) float64 {
	rise := math.Mod(maxHour-minHour+24, 24)
	if rise == 0 {
		rise = 12
	}
	since := math.Mod(h-minHour+24, 24)
	if since < rise {
		return -math.Cos(math.Pi * since / rise)
	}
	return math.Cos(math.Pi * (since - rise) / (24 - rise))
}

// round rounds v to the given number of decimals.
func round(v float64, decimals int) float64 {
	p := math.Pow(10, float64(decimals))
	return math.Round(v*p) / p
}

// mustLocation loads a zone, falling back to a fixed offset when the zone
// database is missing (tzdata is not always installed).
func mustLocation(name string, fallbackOffset int) *time.Location {
	if loc, err := time.LoadLocation(name); err == nil {
		return loc
	}
	return time.FixedZone(name, fallbackOffset)
}

// VietnamTime is Asia/Ho_Chi_Minh (UTC+7, no daylight saving).
var VietnamTime = mustLocation("Asia/Ho_Chi_Minh", 7*3600)
