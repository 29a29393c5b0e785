package mqtt

import (
	"errors"
	"fmt"
	"math"
	"strings"

	"github.com/quantrac/quantrac/model"
)

// Format names a payload format. The names are the values of `format:` in a
// subscription.
type Format string

// Payload formats.
const (
	// FormatNumber is a bare number, e.g. `12.5`; the metric comes from the
	// {parameter} placeholder of the topic.
	FormatNumber Format = "number"
	// FormatJSON is a flat object of metric → number with optional "time"
	// (also "ts" or "timestamp") and "status" fields.
	FormatJSON Format = "json"
	// FormatSenML is SenML JSON (RFC 8428).
	FormatSenML Format = "senml"
	// FormatJSONPath is any JSON document read through a PathMapping.
	FormatJSONPath Format = "jsonpath"
)

// Formats lists every format, for help texts and validation.
var Formats = []Format{FormatNumber, FormatJSON, FormatSenML, FormatJSONPath}

// ParseFormat checks a format name.
func ParseFormat(s string) (Format, error) {
	for _, f := range Formats {
		if string(f) == s {
			return f, nil
		}
	}
	return "", fmt.Errorf("unknown payload format %q: want number, json, senml or jsonpath", s)
}

// Meta is what a decoder knows about a message besides its payload.
type Meta struct {
	// Labels come from the topic template and the subscription (station,
	// province, ...). They must not contain __name__.
	Labels model.Labels
	// Parameter is the metric named by the topic's {parameter}, or "".
	Parameter string
	// Received is the receive time in ms UTC, used when the payload has no
	// time of its own.
	Received int64
	// Rename maps payload names to metric names (e.g. "PM2.5" →
	// "pm25_ugm3"); a name mapped to "" is ignored. Nil keeps names as they are.
	Rename map[string]string
}

// ErrEmptyPayload is returned for a zero-length payload.
var ErrEmptyPayload = errors.New("empty payload")

// metricName applies the rename map and checks the result. ok is false
// (with a nil error) when the name is mapped to "" to be ignored.
func (m *Meta) metricName(name string) (string, bool, error) {
	if to, found := m.Rename[name]; found {
		if to == "" {
			return "", false, nil
		}
		name = to
	}
	if !model.ValidMetricName(name) {
		return "", false, fmt.Errorf("invalid metric name %s", excerpt([]byte(name)))
	}
	return name, true, nil
}

// appendSample appends one sample with the meta labels plus __name__ and
// any extra labels (name/value pairs).
func appendSample(dst []model.Sample, m *Meta, metric string, t int64, v float64, q model.Quality, extra ...string) []model.Sample {
	ls := make(model.Labels, 0, len(m.Labels)+1+len(extra)/2)
	ls = append(ls, model.Label{Name: model.MetricName, Value: metric})
	ls = append(ls, m.Labels...)
	for i := 0; i+1 < len(extra); i += 2 {
		if extra[i+1] != "" && ls.Get(extra[i]) == "" {
			ls = append(ls, model.Label{Name: extra[i], Value: extra[i+1]})
		}
	}
	if !labelsSorted(ls) {
		ls.Sort()
	}
	return append(dst, model.Sample{Labels: ls, T: t, V: v, Q: q})
}

func labelsSorted(ls model.Labels) bool {
	for i := 1; i < len(ls); i++ {
		if ls[i-1].Name >= ls[i].Name {
			return false
		}
	}
	return true
}

// finite reports whether v is a usable reading: not NaN, not infinite, and
// not ±MaxFloat64, which is what an overflowing JSON number (1e999) becomes.
func finite(v float64) bool {
	return !math.IsNaN(v) && !math.IsInf(v, 0) && math.Abs(v) != math.MaxFloat64
}

// excerptLen is how much of a bad payload goes into errors and logs.
const excerptLen = 64

// excerpt returns at most excerptLen bytes of b, quoted so that control
// characters and invalid UTF-8 print safely.
func excerpt(b []byte) string {
	if len(b) > excerptLen {
		return fmt.Sprintf("%q...(%d bytes)", b[:excerptLen], len(b))
	}
	return fmt.Sprintf("%q", b)
}

// fieldErrors collects per-field problems of one message so the good
// fields are still decoded.
type fieldErrors []string

func (fe *fieldErrors) add(format string, args ...any) {
	if len(*fe) < 8 {
		*fe = append(*fe, fmt.Sprintf(format, args...))
	} else if len(*fe) == 8 {
		*fe = append(*fe, "...")
	}
}

func (fe fieldErrors) err() error {
	if len(fe) == 0 {
		return nil
	}
	return errors.New(strings.Join(fe, "; "))
}

// DecodeFunc is the shape every payload decoder has: it appends the
// samples of payload to dst and returns the result, plus an error that
// describes what could not be decoded (good values are kept).
type DecodeFunc func(dst []model.Sample, payload []byte, m *Meta) ([]model.Sample, error)

// DecoderFor returns the decoder of a format. mapping is required for
// FormatJSONPath and ignored otherwise.
func DecoderFor(f Format, mapping *PathMapping) (DecodeFunc, error) {
	switch f {
	case FormatNumber:
		return DecodeNumber, nil
	case FormatJSON:
		return DecodeJSON, nil
	case FormatSenML:
		return DecodeSenML, nil
	case FormatJSONPath:
		if mapping == nil {
			return nil, fmt.Errorf("format jsonpath needs a mapping")
		}
		if err := mapping.Compile(); err != nil {
			return nil, err
		}
		return mapping.Decode, nil
	}
	return nil, fmt.Errorf("unknown payload format %q: want number, json, senml or jsonpath", f)
}
