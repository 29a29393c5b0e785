package api

import (
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"

	pmodel "github.com/prometheus/common/model"

	"github.com/quantrac/quantrac/model"
)

// parsePromTime parses a Prometheus API time: RFC 3339 or Unix seconds
// (fractions allowed); it returns ms.
func parsePromTime(s string) (int64, error) {
	if f, err := strconv.ParseFloat(s, 64); err == nil {
		if math.IsNaN(f) || math.IsInf(f, 0) || f < -9.2e15 || f > 9.2e15 {
			return 0, fmt.Errorf("time %q is out of range", s)
		}
		return int64(math.Round(f * 1000)), nil
	}
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return 0, fmt.Errorf("time %q: want RFC 3339 or Unix seconds", s)
	}
	return t.UnixMilli(), nil
}

// parseNativeTime parses from/to of the native routes: Unix ms, RFC 3339,
// or a date YYYY-MM-DD (midnight in loc).
func parseNativeTime(s string, loc *time.Location) (int64, error) {
	if n, err := strconv.ParseInt(s, 10, 64); err == nil {
		return n, nil
	}
	if t, err := time.Parse(time.RFC3339Nano, s); err == nil {
		return t.UnixMilli(), nil
	}
	if t, err := time.ParseInLocation("2006-01-02", s, loc); err == nil {
		return t.UnixMilli(), nil
	}
	if t, err := time.ParseInLocation("2006-01-02T15:04:05", s, loc); err == nil {
		return t.UnixMilli(), nil
	}
	return 0, fmt.Errorf("time %q: want Unix milliseconds, RFC 3339 or YYYY-MM-DD", s)
}

// parseStep parses a duration: Go (1h30m), Prometheus (1d, 1w) or seconds.
func parseStep(s string) (time.Duration, error) {
	if f, err := strconv.ParseFloat(s, 64); err == nil {
		if f <= 0 || math.IsNaN(f) || math.IsInf(f, 0) || f > 1e9 {
			return 0, fmt.Errorf("duration %q must be a positive number of seconds", s)
		}
		return time.Duration(f * float64(time.Second)), nil
	}
	if d, err := pmodel.ParseDuration(s); err == nil {
		if d <= 0 {
			return 0, fmt.Errorf("duration %q must be positive", s)
		}
		return time.Duration(d), nil
	}
	d, err := time.ParseDuration(s)
	if err != nil {
		return 0, fmt.Errorf("duration %q: want e.g. 30s, 5m, 1h, 1d", s)
	}
	if d <= 0 {
		return 0, fmt.Errorf("duration %q must be positive", s)
	}
	return d, nil
}

// timeRange reads from/to (native) with defaults: to = now, from = to - def.
func timeRange(fromS, toS string, loc *time.Location, def time.Duration, now time.Time) (int64, int64, error) {
	to := now.UnixMilli()
	if toS != "" {
		t, err := parseNativeTime(toS, loc)
		if err != nil {
			return 0, 0, badRequest("to: %v", err)
		}
		to = t
	}
	from := to - def.Milliseconds()
	if fromS != "" {
		f, err := parseNativeTime(fromS, loc)
		if err != nil {
			return 0, 0, badRequest("from: %v", err)
		}
		from = f
	}
	if from < model.MinTime || to >= model.MaxTime {
		return 0, 0, badRequest("range [%d, %d] ms is outside [1970, 2262)", from, to)
	}
	if to < from {
		return 0, 0, badRequest("to (%d) is before from (%d)", to, from)
	}
	return from, to, nil
}

// loadTZ resolves a tz parameter (default the server's zone).
func (s *Server) loadTZ(name string) (*time.Location, error) {
	if name == "" {
		return s.loc, nil
	}
	if strings.Contains(name, "..") {
		return nil, badRequest("tz %q is not a time zone", name)
	}
	loc, err := time.LoadLocation(name)
	if err != nil {
		return nil, badRequest("tz %q: unknown time zone (want e.g. Asia/Ho_Chi_Minh or UTC)", name)
	}
	return loc, nil
}
