package datafile

import (
	"fmt"
	"path/filepath"
	"strings"
	"time"
)

// FileName is what the name of a datalogger file says.
type FileName struct {
	Province string
	Facility string
	Station  string
	// T is the measurement time from the name, ms UTC.
	T int64
}

// Key identifies a measurement cycle: two files with the same key are the
// same data sent twice.
func (f FileName) Key() string {
	return f.Province + "\x00" + f.Station + "\x00" + fmt.Sprint(f.T)
}

const nameTimeLayout = "20060102150405"

// ParseName reads <province>_<facility>_<station>_<yyyyMMddhhmmss>.txt.
// The facility may itself contain '_' (the station is the part just before
// the time). Names in Windows-1258 are decoded; the time is local time in
// loc.
func ParseName(name string, loc *time.Location) (FileName, error) {
	base := decodeName(filepath.Base(name))
	ext := filepath.Ext(base)
	stem := strings.TrimSuffix(base, ext)
	parts := strings.Split(stem, "_")
	if len(parts) < 4 {
		return FileName{}, fmt.Errorf("file name %q: want <province>_<facility>_<station>_<yyyyMMddhhmmss>%s", base, ext)
	}
	ts := parts[len(parts)-1]
	t, err := parseLocalTime(ts, loc)
	if err != nil {
		return FileName{}, fmt.Errorf("file name %q: time %q: %w", base, ts, err)
	}
	f := FileName{
		Province: strings.TrimSpace(parts[0]),
		Facility: strings.Join(parts[1:len(parts)-2], "_"),
		Station:  strings.TrimSpace(parts[len(parts)-2]),
		T:        t,
	}
	if f.Province == "" || f.Station == "" {
		return FileName{}, fmt.Errorf("file name %q: empty province or station", base)
	}
	return f, nil
}

// parseLocalTime reads yyyyMMddhhmmss in loc and returns ms UTC.
func parseLocalTime(s string, loc *time.Location) (int64, error) {
	s = strings.TrimSpace(s)
	if len(s) != len(nameTimeLayout) {
		return 0, fmt.Errorf("want yyyyMMddhhmmss (14 digits)")
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return 0, fmt.Errorf("want yyyyMMddhhmmss (14 digits)")
		}
	}
	t, err := time.ParseInLocation(nameTimeLayout, s, loc)
	if err != nil {
		return 0, fmt.Errorf("not a valid date and time: %w", err)
	}
	return t.UnixMilli(), nil
}
