package api

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"

	"github.com/golang/snappy"
	"github.com/prometheus/prometheus/prompb"

	"github.com/quantrac/quantrac/model"
)

// vmJSONLine is one line of VictoriaMetrics' /api/v1/import format.
type vmJSONLine struct {
	Metric     map[string]string `json:"metric"`
	Values     []*float64        `json:"values"`
	Timestamps []int64           `json:"timestamps"`
}

// parseJSONLines parses VictoriaMetrics JSON lines; src gets 1-based line numbers.
func parseJSONLines(data []byte, extra model.Labels, batch []model.Sample, src []int, res *model.AppendResult) ([]model.Sample, []int) {
	line := 0
	for len(data) > 0 {
		line++
		var l []byte
		l, data, _ = bytes.Cut(data, []byte{'\n'})
		l = bytes.TrimSpace(l)
		if len(l) == 0 {
			continue
		}
		var jl vmJSONLine
		dec := json.NewDecoder(bytes.NewReader(l))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&jl); err != nil {
			res.Reject(line, fmt.Errorf("line %d: %v", line, err))
			continue
		}
		if len(jl.Values) != len(jl.Timestamps) {
			res.Reject(line, fmt.Errorf("line %d: %d values but %d timestamps", line, len(jl.Values), len(jl.Timestamps)))
			continue
		}
		ls := model.FromMap(jl.Metric)
		for _, e := range extra {
			ls = ls.With(e.Name, e.Value)
		}
		for i, v := range jl.Values {
			if v == nil {
				res.Reject(line, fmt.Errorf("line %d: series %s: null value at %d", line, ls, jl.Timestamps[i]))
				continue
			}
			batch = append(batch, model.Sample{Labels: ls, T: jl.Timestamps[i], V: *v})
			src = append(src, line)
		}
	}
	return batch, src
}

// influxPrecision converts an InfluxDB timestamp to ms.
func influxPrecision(p string) (func(int64) int64, error) {
	switch p {
	case "", "ns", "n":
		return func(t int64) int64 { return t / 1e6 }, nil
	case "us", "u", "µ":
		return func(t int64) int64 { return t / 1e3 }, nil
	case "ms":
		return func(t int64) int64 { return t }, nil
	case "s":
		return func(t int64) int64 { return t * 1e3 }, nil
	case "m":
		return func(t int64) int64 { return t * 60e3 }, nil
	case "h":
		return func(t int64) int64 { return t * 3600e3 }, nil
	}
	return nil, fmt.Errorf("precision %q: want ns, u, ms, s, m or h", p)
}

// sanitizeName maps characters invalid in Prometheus names to '_'.
func sanitizeName(s string, colon bool) string {
	ok := true
	for i, c := range s {
		if !(c == '_' || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (i > 0 && c >= '0' && c <= '9') || (colon && c == ':')) {
			ok = false
			break
		}
	}
	if ok {
		return s
	}
	b := []byte(s)
	for i, c := range b {
		if !(c == '_' || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (i > 0 && c >= '0' && c <= '9') || (colon && c == ':')) {
			b[i] = '_'
		}
	}
	return string(b)
}

// parseInflux parses InfluxDB line protocol. Each numeric or boolean field
// becomes series <measurement>_<field> with the tags as labels (as
// VictoriaMetrics does); string fields are rejected with a reason.
func parseInflux(data []byte, conv func(int64) int64, now int64, extra model.Labels, batch []model.Sample, src []int, res *model.AppendResult) ([]model.Sample, []int) {
	line := 0
	series := map[string]model.Labels{}
	for len(data) > 0 {
		line++
		var l []byte
		l, data, _ = bytes.Cut(data, []byte{'\n'})
		l = trimSpace(l)
		if len(l) == 0 || l[0] == '#' {
			continue
		}
		parts, err := splitInflux(l)
		if err != nil {
			res.Reject(line, fmt.Errorf("line %d: %w", line, err))
			continue
		}
		t := now
		if len(parts) == 3 {
			ts, err := strconv.ParseInt(parts[2], 10, 64)
			if err != nil {
				res.Reject(line, fmt.Errorf("line %d: timestamp %q is not an integer", line, parts[2]))
				continue
			}
			t = conv(ts)
		}
		mt := splitUnescaped(parts[0], ',')
		measurement := unescapeInflux(mt[0])
		if measurement == "" {
			res.Reject(line, fmt.Errorf("line %d: empty measurement", line))
			continue
		}
		tags := make(model.Labels, 0, len(mt)+len(extra))
		bad := false
		for _, kv := range mt[1:] {
			kvp := splitUnescaped(kv, '=')
			if len(kvp) != 2 || kvp[0] == "" {
				res.Reject(line, fmt.Errorf("line %d: tag %q is not key=value", line, kv))
				bad = true
				break
			}
			tags = append(tags, model.Label{Name: sanitizeName(unescapeInflux(kvp[0]), false), Value: unescapeInflux(kvp[1])})
		}
		if bad {
			continue
		}
		tags = append(tags, extra...)
		for _, f := range splitUnescaped(parts[1], ',') {
			kv := splitUnescaped(f, '=')
			if len(kv) != 2 || kv[0] == "" {
				res.Reject(line, fmt.Errorf("line %d: field %q is not key=value", line, f))
				continue
			}
			field := unescapeInflux(kv[0])
			v, err := influxValue(kv[1])
			if err != nil {
				res.Reject(line, fmt.Errorf("line %d: field %q: %w", line, field, err))
				continue
			}
			name := sanitizeName(measurement+"_"+field, true)
			key := name + "\x00" + parts[0]
			ls, ok := series[key]
			if !ok {
				ls = append(model.Labels{{Name: model.MetricName, Value: name}}, tags...)
				ls.Sort()
				series[key] = ls
			}
			batch = append(batch, model.Sample{Labels: ls, T: t, V: v})
			src = append(src, line)
		}
	}
	return batch, src
}

func influxValue(s string) (float64, error) {
	switch s {
	case "t", "T", "true", "True", "TRUE":
		return 1, nil
	case "f", "F", "false", "False", "FALSE":
		return 0, nil
	}
	if strings.HasPrefix(s, `"`) {
		return 0, errors.New("string fields are not stored")
	}
	if n := len(s); n > 1 && (s[n-1] == 'i' || s[n-1] == 'u') {
		v, err := strconv.ParseInt(s[:n-1], 10, 64)
		if err != nil {
			return 0, fmt.Errorf("integer %q: %w", s, err)
		}
		return float64(v), nil
	}
	v, err := strconv.ParseFloat(s, 64)
	if err != nil {
		return 0, fmt.Errorf("value %q is not a number", s)
	}
	return v, nil
}

// splitInflux splits a line into measurement+tags, fields and an optional
// timestamp at unescaped spaces outside quoted strings.
func splitInflux(l []byte) ([]string, error) {
	var parts []string
	start := 0
	inQuote := false
	for i := 0; i < len(l); i++ {
		switch c := l[i]; {
		case c == '\\':
			i++
		case c == '"':
			inQuote = !inQuote
		case c == ' ' && !inQuote:
			if i > start {
				parts = append(parts, string(l[start:i]))
			}
			start = i + 1
		}
	}
	if inQuote {
		return nil, errors.New("unterminated string field")
	}
	if start < len(l) {
		parts = append(parts, string(l[start:]))
	}
	if len(parts) < 2 || len(parts) > 3 {
		return nil, fmt.Errorf("want `measurement[,tags] fields [timestamp]`, got %d space-separated parts", len(parts))
	}
	return parts, nil
}

// splitUnescaped splits s at sep not preceded by a backslash nor inside quotes.
func splitUnescaped(s string, sep byte) []string {
	var out []string
	start := 0
	inQuote := false
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c == '\\':
			i++
		case c == '"':
			inQuote = !inQuote
		case c == sep && !inQuote:
			out = append(out, s[start:i])
			start = i + 1
		}
	}
	return append(out, s[start:])
}

func unescapeInflux(s string) string {
	if strings.IndexByte(s, '\\') < 0 {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+1 < len(s) {
			i++
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

// parseRemoteWrite decodes a snappy-compressed prompb.WriteRequest; src
// gets the index of the time series in the request.
func parseRemoteWrite(body []byte, maxBytes int, extra model.Labels, batch []model.Sample, src []int, res *model.AppendResult) ([]model.Sample, []int, error) {
	n, err := snappy.DecodedLen(body)
	if err != nil {
		return nil, nil, badRequest("remote write body is not snappy-compressed: %v", err)
	}
	if n > maxBytes {
		return nil, nil, badRequest("remote write body decompresses to %d bytes; the limit is %d (limits.max_body_bytes)", n, maxBytes)
	}
	raw, err := snappy.Decode(nil, body)
	if err != nil {
		return nil, nil, badRequest("remote write body: snappy: %v", err)
	}
	var req prompb.WriteRequest
	if err := req.Unmarshal(raw); err != nil {
		return nil, nil, badRequest("remote write body: protobuf WriteRequest: %v", err)
	}
	for i, ts := range req.Timeseries {
		ls := make(model.Labels, 0, len(ts.Labels)+len(extra))
		for _, l := range ts.Labels {
			ls = append(ls, model.Label{Name: l.Name, Value: l.Value})
		}
		for _, e := range extra {
			ls = setLabel(ls, e.Name, e.Value)
		}
		ls.Sort()
		if len(ts.Histograms) > 0 {
			res.Reject(i, fmt.Errorf("series %s: %d native histogram samples are not supported", ls, len(ts.Histograms)))
		}
		for _, s := range ts.Samples {
			if math.IsNaN(s.Value) {
				// Prometheus staleness markers: nothing to store, not an error.
				continue
			}
			batch = append(batch, model.Sample{Labels: ls, T: s.Timestamp, V: s.Value})
			src = append(src, i)
		}
	}
	return batch, src, nil
}
