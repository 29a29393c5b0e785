package mqtt

import (
	"bytes"
	"fmt"
	"strconv"

	"github.com/quantrac/quantrac/model"
)

// maxNumberLen bounds a bare-number payload; anything longer is not a number.
const maxNumberLen = 64

// DecodeNumber appends the sample of a bare-number payload such as `12.5`
// to dst and returns the result. The metric is m.Parameter (from the topic),
// the time is m.Received. Surrounding white space is allowed; NaN and
// infinities are not.
func DecodeNumber(dst []model.Sample, payload []byte, m *Meta) ([]model.Sample, error) {
	if len(payload) == 0 {
		return dst, ErrEmptyPayload
	}
	if m.Parameter == "" {
		return dst, fmt.Errorf("bare number needs a {parameter} in the topic template")
	}
	metric, ok, err := m.metricName(m.Parameter)
	if err != nil || !ok {
		return dst, err
	}
	s := bytes.TrimSpace(payload)
	if len(s) == 0 || len(s) > maxNumberLen {
		return dst, fmt.Errorf("not a number: %s", excerpt(payload))
	}
	v, err := strconv.ParseFloat(string(s), 64)
	if err != nil || !finite(v) {
		return dst, fmt.Errorf("not a finite number: %s", excerpt(payload))
	}
	return appendSample(dst, m, metric, m.Received, v, model.QualityGood), nil
}
