package mqtt

import (
	"bytes"
	"encoding/json"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/quantrac/quantrac/model"
)

// PathMapping reads arbitrary JSON documents: each metric, the time, the
// status and extra labels are found by a path. A path is a dot-separated
// list of object keys and array indexes, with an optional leading "$",
// e.g. "$.data.pm25", "sensors[0].value" or "sensors.0.value".
type PathMapping struct {
	// Items, when set, is the path of an array whose elements are each
	// read with the paths below (relative to the element). Empty: the
	// whole document is one item.
	Items string `yaml:"items,omitempty" json:"items,omitempty"`
	// Time is the path of the time (RFC 3339, unix s or ms). Optional.
	Time string `yaml:"time,omitempty" json:"time,omitempty"`
	// Status is the path of the Circular 10 status (00/01/02). Optional.
	Status string `yaml:"status,omitempty" json:"status,omitempty"`
	// Values maps a metric name to the path of its number. Required.
	Values map[string]string `yaml:"values" json:"values"`
	// Labels maps a label name (e.g. station) to the path of a string or
	// number; it is used when the topic does not give that label.
	Labels map[string]string `yaml:"labels,omitempty" json:"labels,omitempty"`

	compiled *compiledMapping
}

type pathStep struct {
	key   string
	index int // >= 0 for an array index step
}

type compiledPath struct {
	text  string
	steps []pathStep
}

type compiledMapping struct {
	items, time, status *compiledPath
	values              []namedPath // sorted by name
	labels              []namedPath
}

type namedPath struct {
	name string
	path *compiledPath
}

// Compile checks the mapping and prepares its paths. Decode compiles on
// first use; call Compile to see configuration errors early.
func (pm *PathMapping) Compile() error {
	if pm.compiled != nil {
		return nil
	}
	c := &compiledMapping{}
	var err error
	if c.items, err = optionalPath("items", pm.Items); err != nil {
		return err
	}
	if c.time, err = optionalPath("time", pm.Time); err != nil {
		return err
	}
	if c.status, err = optionalPath("status", pm.Status); err != nil {
		return err
	}
	if len(pm.Values) == 0 {
		return fmt.Errorf("jsonpath mapping: values: at least one metric is required")
	}
	for name, p := range pm.Values {
		if !model.ValidMetricName(name) {
			return fmt.Errorf("jsonpath mapping: values: invalid metric name %q", name)
		}
		cp, err := parsePath(p)
		if err != nil {
			return fmt.Errorf("jsonpath mapping: values: %s: %w", name, err)
		}
		c.values = append(c.values, namedPath{name, cp})
	}
	for name, p := range pm.Labels {
		if !model.ValidLabelName(name) || name == model.MetricName {
			return fmt.Errorf("jsonpath mapping: labels: invalid label name %q", name)
		}
		cp, err := parsePath(p)
		if err != nil {
			return fmt.Errorf("jsonpath mapping: labels: %s: %w", name, err)
		}
		c.labels = append(c.labels, namedPath{name, cp})
	}
	sort.Slice(c.values, func(i, j int) bool { return c.values[i].name < c.values[j].name })
	sort.Slice(c.labels, func(i, j int) bool { return c.labels[i].name < c.labels[j].name })
	pm.compiled = c
	return nil
}

func optionalPath(field, p string) (*compiledPath, error) {
	if p == "" {
		return nil, nil
	}
	cp, err := parsePath(p)
	if err != nil {
		return nil, fmt.Errorf("jsonpath mapping: %s: %w", field, err)
	}
	return cp, nil
}

// parsePath parses "$.a.b[0].c", "a.b.0.c" or "$" (the item itself).
func parsePath(p string) (*compiledPath, error) {
	s := strings.TrimSpace(p)
	s = strings.TrimPrefix(s, "$")
	s = strings.TrimPrefix(s, ".")
	cp := &compiledPath{text: p}
	if s == "" {
		return cp, nil
	}
	s = strings.ReplaceAll(s, "[", ".[")
	for _, part := range strings.Split(s, ".") {
		switch {
		case part == "":
			if len(cp.steps) == 0 && strings.HasPrefix(s, ".[") {
				continue
			}
			return nil, fmt.Errorf("path %q: empty step", p)
		case strings.HasPrefix(part, "["):
			if !strings.HasSuffix(part, "]") {
				return nil, fmt.Errorf("path %q: unclosed [", p)
			}
			n, err := strconv.Atoi(part[1 : len(part)-1])
			if err != nil || n < 0 {
				return nil, fmt.Errorf("path %q: bad index %s", p, part)
			}
			cp.steps = append(cp.steps, pathStep{index: n})
		default:
			if n, err := strconv.Atoi(part); err == nil && n >= 0 {
				cp.steps = append(cp.steps, pathStep{key: part, index: n})
			} else {
				cp.steps = append(cp.steps, pathStep{key: part, index: -1})
			}
		}
	}
	return cp, nil
}

// lookup walks the path; found is false when a step is missing.
func (cp *compiledPath) lookup(v any) (any, bool) {
	for _, st := range cp.steps {
		switch x := v.(type) {
		case map[string]any:
			key := st.key
			if key == "" { // [n] on an object
				key = strconv.Itoa(st.index)
			}
			var ok bool
			if v, ok = x[key]; !ok {
				return nil, false
			}
		case []any:
			if st.index < 0 || st.index >= len(x) {
				return nil, false
			}
			v = x[st.index]
		default:
			return nil, false
		}
	}
	return v, true
}

// Decode appends the samples of payload read through the mapping to dst and
// returns the result. Missing value paths are skipped quietly (a station
// need not report every parameter in every message); values of the wrong
// type, bad times (m.Received + model.QualityBadTime) and unknown statuses
// (model.QualityDeviceError) are reported in the error while the good
// values are still decoded. A payload that is not valid JSON adds nothing.
func (pm *PathMapping) Decode(dst []model.Sample, payload []byte, m *Meta) ([]model.Sample, error) {
	if err := pm.Compile(); err != nil {
		return dst, err
	}
	if len(payload) == 0 {
		return dst, ErrEmptyPayload
	}
	if !utf8.Valid(payload) {
		return dst, fmt.Errorf("invalid JSON: not valid UTF-8")
	}
	dec := json.NewDecoder(bytes.NewReader(payload))
	dec.UseNumber()
	var doc any
	if err := dec.Decode(&doc); err != nil {
		return dst, fmt.Errorf("invalid JSON: %w", err)
	}
	if dec.More() {
		return dst, fmt.Errorf("invalid JSON: data after the top-level value")
	}
	c := pm.compiled
	items := []any{doc}
	if c.items != nil {
		v, ok := c.items.lookup(doc)
		arr, isArr := v.([]any)
		if !ok || !isArr {
			return dst, fmt.Errorf("items %q: want an array", c.items.text)
		}
		items = arr
	}
	var fe fieldErrors
	n := 0
	for i, item := range items {
		where := ""
		if c.items != nil {
			where = fmt.Sprintf("item %d: ", i)
		}
		t, q := m.Received, model.QualityGood
		if c.time != nil {
			if v, ok := c.time.lookup(item); ok && v != nil {
				if ms, ok := anyTime(v); ok {
					t = ms
				} else {
					q |= model.QualityBadTime
					fe.add("%stime %q: bad time %s", where, c.time.text, excerpt([]byte(fmt.Sprint(v))))
				}
			}
		}
		if c.status != nil {
			if v, ok := c.status.lookup(item); ok && v != nil {
				st, err := anyStatus(v)
				if err != nil {
					st = model.QualityDeviceError
					fe.add("%sstatus %q: %v", where, c.status.text, err)
				}
				q |= st
			}
		}
		var extra []string
		for _, l := range c.labels {
			v, ok := l.path.lookup(item)
			if !ok || v == nil {
				continue
			}
			switch x := v.(type) {
			case string:
				extra = append(extra, l.name, x)
			case json.Number:
				extra = append(extra, l.name, x.String())
			default:
				fe.add("%slabel %s %q: want a string", where, l.name, l.path.text)
			}
		}
		for _, vp := range c.values {
			v, ok := vp.path.lookup(item)
			if !ok || v == nil {
				continue
			}
			f, ok := anyNumber(v)
			if !ok {
				fe.add("%s%s %q: want a number, got %s", where, vp.name, vp.path.text, excerpt([]byte(fmt.Sprint(v))))
				continue
			}
			metric, keep, err := m.metricName(vp.name)
			if err != nil {
				fe.add("%s%v", where, err)
				continue
			}
			if keep {
				dst = appendSample(dst, m, metric, t, f, q, extra...)
				n++
			}
		}
	}
	if n == 0 && len(fe) == 0 {
		fe.add("no mapped values in the document")
	}
	return dst, fe.err()
}

func anyNumber(v any) (float64, bool) {
	var f float64
	var err error
	switch x := v.(type) {
	case json.Number:
		f, err = x.Float64()
	case string:
		f, err = strconv.ParseFloat(strings.TrimSpace(x), 64)
	default:
		return 0, false
	}
	return f, err == nil && finite(f)
}

func anyTime(v any) (int64, bool) {
	switch x := v.(type) {
	case json.Number:
		f, err := x.Float64()
		if err != nil {
			return 0, false
		}
		return timeFromNumber(f)
	case string:
		return timeFromString(x)
	}
	return 0, false
}

func anyStatus(v any) (model.Quality, error) {
	switch x := v.(type) {
	case string:
		return model.ParseStatus(x)
	case json.Number:
		return model.ParseStatus(x.String())
	}
	return 0, fmt.Errorf("want a string or number")
}
