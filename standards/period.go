package standards

import (
	"fmt"
	"time"
)

// Period is an averaging period of a concentration.
type Period uint8

// Averaging periods used by VN_AQI and QCVN 05:2023/BTNMT.
const (
	Hour1 Period = iota + 1
	Hour8
	Hour24
	Year
)

var periodNames = map[Period]string{Hour1: "1h", Hour8: "8h", Hour24: "24h", Year: "year"}

// String returns "1h", "8h", "24h" or "year".
func (p Period) String() string {
	if s, ok := periodNames[p]; ok {
		return s
	}
	return fmt.Sprintf("Period(%d)", uint8(p))
}

// Duration returns the length of the period (a year counts 365 days).
func (p Period) Duration() time.Duration {
	switch p {
	case Hour1:
		return time.Hour
	case Hour8:
		return 8 * time.Hour
	case Hour24:
		return 24 * time.Hour
	case Year:
		return 365 * 24 * time.Hour
	}
	return 0
}

// ParsePeriod is the inverse of Period.String.
func ParsePeriod(s string) (Period, error) {
	for p, n := range periodNames {
		if n == s {
			return p, nil
		}
	}
	return 0, fmt.Errorf("unknown averaging period %q: want 1h, 8h, 24h or year", s)
}
