package mqtt

import (
	"bytes"
	"fmt"
	"io"
	"strconv"
	"strings"
	"sync"

	"github.com/go-json-experiment/json/jsontext"

	"github.com/quantrac/quantrac/model"
)

// Reserved field names of the flat JSON format.
const (
	FieldTime    = "time" // also "ts" and "timestamp"
	FieldStatus  = "status"
	FieldStation = "station"
)

// jsonReader is a pooled streaming JSON tokenizer (strict: valid UTF-8,
// no duplicate names).
type jsonReader struct {
	r bytes.Reader
	d jsontext.Decoder
}

var jsonReaderPool = sync.Pool{New: func() any { return new(jsonReader) }}

func getJSONReader(payload []byte) *jsonReader {
	jr := jsonReaderPool.Get().(*jsonReader)
	jr.r.Reset(payload)
	jr.d.Reset(&jr.r)
	return jr
}

func putJSONReader(jr *jsonReader) {
	jr.r.Reset(nil)
	jr.d.Reset(&jr.r)
	jsonReaderPool.Put(jr)
}

type jsonValue struct {
	metric string
	v      float64
}

// DecodeJSON appends the samples of a flat JSON object to dst and returns
// the result, e.g.
//
//	{"time":"2026-11-25T08:00:00+07:00","status":"00","pm25_ugm3":12.5,"temperature_c":28.1}
//
// "time" (or "ts", "timestamp") is RFC 3339 (zone optional, default
// Asia/Ho_Chi_Minh), unix seconds or unix milliseconds, as a number or a
// string; without it the samples get m.Received. A time that cannot be read
// gives m.Received with model.QualityBadTime and an error. "status" is the
// Circular 10 status "00"/"01"/"02" (or 0/1/2); an unknown status gives
// model.QualityDeviceError and an error. "station" (a string) labels the
// samples when the topic does not. Every other field is a metric: a number
// or a numeric string; null is skipped. A field of the wrong type is left
// out and reported in the error while the other fields are still decoded.
// A payload that is not a JSON object adds nothing.
func DecodeJSON(dst []model.Sample, payload []byte, m *Meta) ([]model.Sample, error) {
	if len(payload) == 0 {
		return dst, ErrEmptyPayload
	}
	jr := getJSONReader(payload)
	defer putJSONReader(jr)
	d := &jr.d

	var buf [16]jsonValue
	values := buf[:0]
	var fe fieldErrors
	t, q := m.Received, model.QualityGood
	station := ""

	tok, err := d.ReadToken()
	if err != nil {
		return dst, fmt.Errorf("invalid JSON: %w", err)
	}
	if tok.Kind() != '{' {
		return dst, fmt.Errorf("want a JSON object, got %s", tok.Kind())
	}
	for d.PeekKind() == '"' {
		nt, err := d.ReadToken()
		if err != nil {
			return dst, fmt.Errorf("invalid JSON: %w", err)
		}
		name := nt.String()
		kind := d.PeekKind()
		if kind == '{' || kind == '[' {
			if err := d.SkipValue(); err != nil {
				return dst, fmt.Errorf("invalid JSON: %w", err)
			}
			fe.add("field %q: want a number, got %s", name, kind)
			continue
		}
		vt, err := d.ReadToken()
		if err != nil {
			return dst, fmt.Errorf("invalid JSON: %w", err)
		}
		switch name {
		case FieldTime, "ts", "timestamp":
			if ms, ok, desc := tokenTime(vt); ok {
				t = ms
			} else if desc != "" {
				q |= model.QualityBadTime
				fe.add("field %q: bad time %s", name, desc)
			}
		case FieldStatus:
			st, err := tokenStatus(vt)
			if err != nil {
				q = q&^0x03 | model.QualityDeviceError
				fe.add("field %q: %v", name, err)
			} else {
				q = q&^0x03 | st
			}
		case FieldStation:
			if vt.Kind() == '"' && vt.String() != "" {
				station = vt.String()
			} else if vt.Kind() != 'n' {
				fe.add("field %q: want a string, got %s", name, vt.Kind())
			}
		default:
			var v float64
			switch vt.Kind() {
			case '0':
				v = vt.Float()
			case '"':
				f, err := strconv.ParseFloat(strings.TrimSpace(vt.String()), 64)
				if err != nil {
					fe.add("field %q: want a number, got string %s", name, excerpt([]byte(vt.String())))
					continue
				}
				v = f
			case 'n':
				continue
			default:
				fe.add("field %q: want a number, got %s", name, vt.Kind())
				continue
			}
			if !finite(v) {
				fe.add("field %q: value %v is not finite", name, v)
				continue
			}
			metric, ok, err := m.metricName(name)
			if err != nil {
				fe.add("field %q: %v", name, err)
				continue
			}
			if ok {
				values = append(values, jsonValue{metric, v})
			}
		}
	}
	if _, err := d.ReadToken(); err != nil { // the closing '}'
		return dst, fmt.Errorf("invalid JSON: %w", err)
	}
	if err := checkEOF(d); err != nil {
		return dst, err
	}
	if len(values) == 0 && len(fe) == 0 {
		fe.add("no values in the object")
	}
	for _, jv := range values {
		dst = appendSample(dst, m, jv.metric, t, jv.v, q, model.LabelStation, station)
	}
	return dst, fe.err()
}

// checkEOF reports data after the top-level value.
func checkEOF(d *jsontext.Decoder) error {
	if _, err := d.ReadToken(); err != io.EOF {
		if err == nil {
			return fmt.Errorf("invalid JSON: data after the top-level value at offset %d", d.InputOffset())
		}
		return fmt.Errorf("invalid JSON: %w", err)
	}
	return nil
}

// tokenTime reads a time token. ok=false with desc="" means "no time" (null).
func tokenTime(vt jsontext.Token) (ms int64, ok bool, desc string) {
	switch vt.Kind() {
	case '0':
		f := vt.Float()
		if ms, ok := timeFromNumber(f); ok {
			return ms, true, ""
		}
		return 0, false, strconv.FormatFloat(f, 'g', -1, 64)
	case '"':
		s := vt.String()
		if ms, ok := timeFromString(s); ok {
			return ms, true, ""
		}
		return 0, false, excerpt([]byte(s))
	case 'n':
		return 0, false, ""
	}
	return 0, false, "of type " + vt.Kind().String()
}

// tokenStatus reads a status token: "00"/"01"/"02" or 0/1/2.
func tokenStatus(vt jsontext.Token) (model.Quality, error) {
	switch vt.Kind() {
	case '"':
		return model.ParseStatus(vt.String())
	case '0':
		f := vt.Float()
		switch f {
		case 0, 1, 2:
			return model.Quality(f), nil
		}
		return 0, fmt.Errorf("unknown datalogger status %v: want 00, 01 or 02", f)
	}
	return 0, fmt.Errorf("status: want a string or number, got %s", vt.Kind())
}
