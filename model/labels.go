package model

import (
	"fmt"
	"sort"
	"strconv"
	"strings"
	"unicode/utf8"
)

// MetricName is the label that holds a series' metric name, as in Prometheus.
const MetricName = "__name__"

// Label is one name=value pair of a series.
type Label struct {
	Name  string
	Value string
}

// Labels identify a series. They are kept sorted by name with no duplicate
// names; the metric name is the label __name__. Build them with FromMap or
// New, which sort, rather than by hand.
type Labels []Label

// New returns labels for metric with the given name=value pairs, sorted.
// pairs must have even length; it is meant for code and tests, not input.
func New(metric string, pairs ...string) Labels {
	if len(pairs)%2 != 0 {
		panic("BUG: model.New needs name/value pairs")
	}
	ls := make(Labels, 0, len(pairs)/2+1)
	if metric != "" {
		ls = append(ls, Label{MetricName, metric})
	}
	for i := 0; i < len(pairs); i += 2 {
		ls = append(ls, Label{pairs[i], pairs[i+1]})
	}
	ls.Sort()
	return ls
}

// FromMap builds sorted labels from a map (which may include __name__).
func FromMap(m map[string]string) Labels {
	ls := make(Labels, 0, len(m))
	for k, v := range m {
		ls = append(ls, Label{k, v})
	}
	ls.Sort()
	return ls
}

// Map returns the labels as a map.
func (ls Labels) Map() map[string]string {
	m := make(map[string]string, len(ls))
	for _, l := range ls {
		m[l.Name] = l.Value
	}
	return m
}

// Sort orders the labels by name in place.
func (ls Labels) Sort() {
	sort.Slice(ls, func(i, j int) bool { return ls[i].Name < ls[j].Name })
}

// Get returns the value of the named label, or "" when absent.
func (ls Labels) Get(name string) string {
	for _, l := range ls {
		if l.Name == name {
			return l.Value
		}
	}
	return ""
}

// Metric returns the metric name (the __name__ label).
func (ls Labels) Metric() string { return ls.Get(MetricName) }

// With returns a copy of ls with name set to value (added or replaced).
func (ls Labels) With(name, value string) Labels {
	out := make(Labels, 0, len(ls)+1)
	done := false
	for _, l := range ls {
		if l.Name == name {
			out = append(out, Label{name, value})
			done = true
			continue
		}
		out = append(out, l)
	}
	if !done {
		out = append(out, Label{name, value})
		out.Sort()
	}
	return out
}

// Without returns a copy of ls without the named labels.
func (ls Labels) Without(names ...string) Labels {
	out := make(Labels, 0, len(ls))
outer:
	for _, l := range ls {
		for _, n := range names {
			if l.Name == n {
				continue outer
			}
		}
		out = append(out, l)
	}
	return out
}

// Equal reports whether two label sets are identical.
func (ls Labels) Equal(o Labels) bool {
	if len(ls) != len(o) {
		return false
	}
	for i := range ls {
		if ls[i] != o[i] {
			return false
		}
	}
	return true
}

// Compare orders label sets: by labels pairwise, then by length.
func (ls Labels) Compare(o Labels) int {
	for i := 0; i < len(ls) && i < len(o); i++ {
		if c := strings.Compare(ls[i].Name, o[i].Name); c != 0 {
			return c
		}
		if c := strings.Compare(ls[i].Value, o[i].Value); c != 0 {
			return c
		}
	}
	return len(ls) - len(o)
}

// String renders the series in Prometheus text form: metric{a="x",b="y"}.
// It is also the canonical key of a series: equal labels give equal strings.
func (ls Labels) String() string {
	var b strings.Builder
	b.WriteString(ls.Metric())
	b.WriteByte('{')
	first := true
	for _, l := range ls {
		if l.Name == MetricName {
			continue
		}
		if !first {
			b.WriteByte(',')
		}
		first = false
		b.WriteString(l.Name)
		b.WriteByte('=')
		b.WriteString(strconv.Quote(l.Value))
	}
	b.WriteByte('}')
	return b.String()
}

// Validate checks the rules every stored series must meet: a metric name
// matching [a-zA-Z_:][a-zA-Z0-9_:]*, label names matching [a-zA-Z_][a-zA-Z0-9_]*,
// no duplicate names, labels sorted, values valid UTF-8 and not empty.
func (ls Labels) Validate() error {
	if ls.Metric() == "" {
		return fmt.Errorf("series %s: empty metric name", ls)
	}
	for i, l := range ls {
		if i > 0 && ls[i-1].Name >= l.Name {
			if ls[i-1].Name == l.Name {
				return fmt.Errorf("series %s: duplicate label %q", ls, l.Name)
			}
			return fmt.Errorf("series %s: labels not sorted", ls)
		}
		if l.Name == MetricName {
			if !ValidMetricName(l.Value) {
				return fmt.Errorf("invalid metric name %q", l.Value)
			}
			continue
		}
		if !ValidLabelName(l.Name) {
			return fmt.Errorf("series %s: invalid label name %q", ls.Metric(), l.Name)
		}
		if l.Value == "" {
			return fmt.Errorf("series %s: label %q has an empty value", ls.Metric(), l.Name)
		}
		if !utf8.ValidString(l.Value) {
			return fmt.Errorf("series %s: label %q value is not valid UTF-8: %q", ls.Metric(), l.Name, l.Value)
		}
	}
	return nil
}

// ValidMetricName reports whether s is a valid Prometheus metric name.
func ValidMetricName(s string) bool {
	if s == "" {
		return false
	}
	for i, c := range s {
		ok := c == '_' || c == ':' || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (i > 0 && c >= '0' && c <= '9')
		if !ok {
			return false
		}
	}
	return true
}

// ValidLabelName reports whether s is a valid Prometheus label name.
func ValidLabelName(s string) bool {
	if s == "" {
		return false
	}
	for i, c := range s {
		ok := c == '_' || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (i > 0 && c >= '0' && c <= '9')
		if !ok {
			return false
		}
	}
	return true
}
