package datafile

import (
	"strconv"
	"time"
)

// Reading is one line of a datalogger file, for writers (the simulator).
type Reading struct {
	Parameter string // as written, e.g. "PM2.5" or a metric name
	Value     float64
	Unit      string    // e.g. "µg/m3"
	Time      time.Time // written in Asia/Ho_Chi_Minh
	Status    string    // "00", "01" or "02"
}

// FileNameFor returns <province>_<facility>_<station>_<yyyyMMddhhmmss>.txt
// with t in Asia/Ho_Chi_Minh.
func FileNameFor(province, facility, station string, t time.Time) string {
	return province + "_" + facility + "_" + station + "_" + t.In(LocalZone).Format(nameTimeLayout) + ".txt"
}

// AppendFile appends the lines of a Circular 10 file (tab separated, the
// default column order, CRLF line ends as Windows dataloggers write them)
// to dst and returns the result.
func AppendFile(dst []byte, readings []Reading) []byte {
	for _, r := range readings {
		dst = append(dst, r.Parameter...)
		dst = append(dst, '\t')
		dst = strconv.AppendFloat(dst, r.Value, 'f', -1, 64)
		dst = append(dst, '\t')
		dst = append(dst, r.Unit...)
		dst = append(dst, '\t')
		dst = r.Time.In(LocalZone).AppendFormat(dst, nameTimeLayout)
		dst = append(dst, '\t')
		status := r.Status
		if status == "" {
			status = "00"
		}
		dst = append(dst, status...)
		dst = append(dst, '\r', '\n')
	}
	return dst
}
