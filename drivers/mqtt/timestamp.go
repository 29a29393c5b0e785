package mqtt

import (
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/quantrac/quantrac/model"
)

// unixMsThreshold separates unix seconds from unix milliseconds: 1e11 s is
// the year 5138, 1e11 ms is March 1973. Numbers at or above it are ms.
const unixMsThreshold = 1e11

// localZone is the zone of timestamps written without an offset.
var localZone = loadLocalZone()

func loadLocalZone() *time.Location {
	if loc, err := time.LoadLocation("Asia/Ho_Chi_Minh"); err == nil {
		return loc
	}
	// Vietnam has kept UTC+7 without daylight saving since 1975.
	return time.FixedZone("ICT", 7*3600)
}

// timeFromNumber converts unix seconds or milliseconds (told apart by
// magnitude) to ms. ok is false for non-finite or out-of-range values.
func timeFromNumber(f float64) (int64, bool) {
	if math.IsNaN(f) || math.IsInf(f, 0) {
		return 0, false
	}
	ms := f
	if math.Abs(f) < unixMsThreshold {
		ms = f * 1000
	}
	ms = math.Round(ms)
	if ms < float64(model.MinTime) || ms >= float64(model.MaxTime) {
		return 0, false
	}
	return int64(ms), true
}

// timeLayouts are the string forms accepted besides numbers. Layouts without
// an offset are read in Asia/Ho_Chi_Minh.
var timeLayouts = []string{
	time.RFC3339Nano,
	"2006-01-02T15:04:05.999999999",
	"2006-01-02 15:04:05.999999999Z07:00",
	"2006-01-02 15:04:05.999999999",
	"20060102150405",
}

// timeFromString parses RFC 3339 (with or without offset), a space instead
// of T, yyyyMMddhhmmss, or a unix number in a string.
func timeFromString(s string) (int64, bool) {
	s = strings.TrimSpace(s)
	if s == "" {
		return 0, false
	}
	if len(s) != 14 { // yyyyMMddhhmmss is also a valid number
		if f, err := strconv.ParseFloat(s, 64); err == nil {
			return timeFromNumber(f)
		}
	}
	for _, layout := range timeLayouts {
		t, err := time.ParseInLocation(layout, s, localZone)
		if err != nil {
			continue
		}
		ms := t.UnixMilli()
		if ms < model.MinTime || ms >= model.MaxTime {
			return 0, false
		}
		return ms, true
	}
	return 0, false
}
