package mqtt

import (
	"strconv"
	"time"
)

// The encoders write exactly what the decoders read; a simulator publishes
// with them.

// TimeFormat says how AppendJSON writes the time field.
type TimeFormat int

// Time formats of the flat JSON payload.
const (
	TimeRFC3339 TimeFormat = iota // "2026-11-25T08:00:00+07:00" (in the time's own zone)
	TimeUnixS                     // 1764032400
	TimeUnixMs                    // 1764032400000
	TimeNone                      // no time field: the receiver stamps it
)

// Value is one metric and its value.
type Value struct {
	Metric string
	V      float64
}

// JSONMessage is a flat JSON payload.
type JSONMessage struct {
	Time       time.Time
	TimeFormat TimeFormat
	Status     string // "00", "01", "02"; empty leaves the field out
	Values     []Value
}

// AppendNumber appends the bare-number payload of v to dst and returns the
// result.
func AppendNumber(dst []byte, v float64) []byte {
	return strconv.AppendFloat(dst, v, 'g', -1, 64)
}

// AppendJSON appends the flat JSON payload of msg to dst and returns the
// result. Metric names are written as they are (they are plain ASCII
// identifiers); values must be finite.
func AppendJSON(dst []byte, msg JSONMessage) []byte {
	dst = append(dst, '{')
	first := true
	comma := func() {
		if !first {
			dst = append(dst, ',')
		}
		first = false
	}
	switch msg.TimeFormat {
	case TimeRFC3339:
		comma()
		dst = append(dst, `"time":"`...)
		dst = msg.Time.AppendFormat(dst, time.RFC3339Nano)
		dst = append(dst, '"')
	case TimeUnixS:
		comma()
		dst = append(dst, `"time":`...)
		dst = strconv.AppendInt(dst, msg.Time.Unix(), 10)
	case TimeUnixMs:
		comma()
		dst = append(dst, `"time":`...)
		dst = strconv.AppendInt(dst, msg.Time.UnixMilli(), 10)
	}
	if msg.Status != "" {
		comma()
		dst = append(dst, `"status":`...)
		dst = strconv.AppendQuote(dst, msg.Status)
	}
	for _, v := range msg.Values {
		comma()
		dst = strconv.AppendQuote(dst, v.Metric)
		dst = append(dst, ':')
		dst = strconv.AppendFloat(dst, v.V, 'g', -1, 64)
	}
	return append(dst, '}')
}

// SenMLRecord is one record of a pack.
type SenMLRecord struct {
	Name   string  // metric name, resolved against the pack's BaseName
	Unit   string  // SenML unit, e.g. "ug/m3"; optional
	V      float64 // value
	Offset float64 // seconds after the pack's BaseTime
}

// SenMLPack is a SenML pack of one station at one base time.
type SenMLPack struct {
	BaseName string    // e.g. "HN-01:" (station id and ':')
	BaseTime time.Time // zero: leave bt out (the receiver stamps it)
	Status   string    // "00"/"01"/"02" as a status record; empty leaves it out
	Records  []SenMLRecord
}

// AppendSenML appends the SenML JSON of p to dst and returns the result.
func AppendSenML(dst []byte, p SenMLPack) []byte {
	dst = append(dst, '[')
	head := func() {
		if p.BaseName != "" {
			dst = append(dst, `"bn":`...)
			dst = strconv.AppendQuote(dst, p.BaseName)
			dst = append(dst, ',')
		}
		if !p.BaseTime.IsZero() {
			dst = append(dst, `"bt":`...)
			dst = appendSeconds(dst, p.BaseTime)
			dst = append(dst, ',')
		}
	}
	for i, r := range p.Records {
		if i > 0 {
			dst = append(dst, ',')
		}
		dst = append(dst, '{')
		if i == 0 {
			head()
		}
		dst = append(dst, `"n":`...)
		dst = strconv.AppendQuote(dst, r.Name)
		if r.Unit != "" {
			dst = append(dst, `,"u":`...)
			dst = strconv.AppendQuote(dst, r.Unit)
		}
		if r.Offset != 0 {
			dst = append(dst, `,"t":`...)
			dst = strconv.AppendFloat(dst, r.Offset, 'g', -1, 64)
		}
		dst = append(dst, `,"v":`...)
		dst = strconv.AppendFloat(dst, r.V, 'g', -1, 64)
		dst = append(dst, '}')
	}
	if p.Status != "" {
		if len(p.Records) > 0 {
			dst = append(dst, ',')
		}
		dst = append(dst, '{')
		if len(p.Records) == 0 {
			head()
		}
		dst = append(dst, `"n":"`+SenMLStatusName+`","vs":`...)
		dst = strconv.AppendQuote(dst, p.Status)
		dst = append(dst, '}')
	}
	return append(dst, ']')
}

// appendSeconds writes unix seconds, with a fraction only when needed.
func appendSeconds(dst []byte, t time.Time) []byte {
	if t.Nanosecond() == 0 {
		return strconv.AppendInt(dst, t.Unix(), 10)
	}
	return strconv.AppendFloat(dst, float64(t.UnixMilli())/1000, 'f', -1, 64)
}
