package model

import (
	"fmt"
	"strings"
)

// Quality is the quality code stored with every sample.
//
// The low two bits carry the datalogger status of Circular 10/2021/TT-BTNMT:
// 00 measuring, 01 calibrating, 02 device error. The higher bits are flags the
// collector sets after checking the reading. A sample is good only when the
// whole byte is zero, so aggregates and alert rules can test q == 0.
type Quality uint8

// Datalogger status values (Circular 10/2021/TT-BTNMT) in the low two bits.
const (
	QualityGood        Quality = 0x00 // status 00: measuring
	QualityCalibrating Quality = 0x01 // status 01: calibrating
	QualityDeviceError Quality = 0x02 // status 02: device error
	qualityStatusMask  Quality = 0x03
)

// Flags set by the collector's validation; they combine with a status.
const (
	QualityOutOfRange Quality = 0x04 // outside the parameter's physical range
	QualityStuck      Quality = 0x08 // same value for too many polls
	QualitySpike      Quality = 0x10 // jump larger than the configured limit
	QualityBadTime    Quality = 0x20 // timestamp in the future or too far in the past
)

// Good reports whether the sample is a plain measurement with no flag.
func (q Quality) Good() bool { return q == QualityGood }

// Status returns the datalogger status part (00, 01 or 02).
func (q Quality) Status() Quality { return q & qualityStatusMask }

// Has reports whether every bit of flag is set in q.
func (q Quality) Has(flag Quality) bool { return q&flag == flag }

var qualityFlagNames = []struct {
	flag Quality
	name string
}{
	{QualityOutOfRange, "out_of_range"},
	{QualityStuck, "stuck"},
	{QualitySpike, "spike"},
	{QualityBadTime, "bad_time"},
}

// String renders the quality as its status code followed by flag names,
// for example "00", "02" or "00+stuck+spike".
func (q Quality) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%02d", uint8(q.Status()))
	for _, f := range qualityFlagNames {
		if q&f.flag != 0 {
			b.WriteByte('+')
			b.WriteString(f.name)
		}
	}
	return b.String()
}

// ParseStatus converts a Circular 10 status field ("00", "01", "02", also
// "0", "1", "2") to a Quality. Anything else is an error that names the text.
func ParseStatus(s string) (Quality, error) {
	switch strings.TrimSpace(s) {
	case "00", "0":
		return QualityGood, nil
	case "01", "1":
		return QualityCalibrating, nil
	case "02", "2":
		return QualityDeviceError, nil
	}
	return 0, fmt.Errorf("unknown datalogger status %q: want 00, 01 or 02", s)
}

// ParseQuality is the inverse of Quality.String.
func ParseQuality(s string) (Quality, error) {
	parts := strings.Split(s, "+")
	q, err := ParseStatus(parts[0])
	if err != nil {
		return 0, err
	}
next:
	for _, p := range parts[1:] {
		for _, f := range qualityFlagNames {
			if p == f.name {
				q |= f.flag
				continue next
			}
		}
		return 0, fmt.Errorf("unknown quality flag %q in %q", p, s)
	}
	return q, nil
}
