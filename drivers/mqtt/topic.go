package mqtt

import (
	"fmt"
	"strings"

	"github.com/quantrac/quantrac/model"
)

// ParamPlaceholder is the placeholder whose value is the metric name rather
// than a label.
const ParamPlaceholder = "parameter"

// Template is a topic pattern such as "stations/{province}/{station}/{parameter}".
// Each level is a literal, a placeholder {name} that matches one level and
// extracts it as label name ({parameter} names the metric), "+" that matches
// one level and extracts nothing, or a final "#" that matches the rest.
type Template struct {
	text   string
	levels []templateLevel
	multi  bool // ends in "#"
}

type templateLevel struct {
	literal string
	label   string // placeholder name, "" for a literal or "+"
	wild    bool   // "+" or a placeholder
}

// ParseTemplate parses and checks a topic template.
func ParseTemplate(s string) (*Template, error) {
	if s == "" {
		return nil, fmt.Errorf("topic template is empty")
	}
	t := &Template{text: s}
	parts := strings.Split(s, "/")
	seen := map[string]bool{}
	for i, p := range parts {
		switch {
		case p == "#":
			if i != len(parts)-1 {
				return nil, fmt.Errorf("topic template %q: # must be the last level", s)
			}
			t.multi = true
		case p == "+":
			t.levels = append(t.levels, templateLevel{wild: true})
		case strings.HasPrefix(p, "{") && strings.HasSuffix(p, "}"):
			name := p[1 : len(p)-1]
			if !model.ValidLabelName(name) || name == model.MetricName {
				return nil, fmt.Errorf("topic template %q: invalid placeholder name %q", s, name)
			}
			if seen[name] {
				return nil, fmt.Errorf("topic template %q: placeholder {%s} twice", s, name)
			}
			seen[name] = true
			t.levels = append(t.levels, templateLevel{label: name, wild: true})
		case strings.ContainsAny(p, "{}+#"):
			return nil, fmt.Errorf("topic template %q: level %q mixes a placeholder or wildcard with text", s, p)
		default:
			t.levels = append(t.levels, templateLevel{literal: p})
		}
	}
	return t, nil
}

// MustParseTemplate is ParseTemplate for constants in code and tests; it
// panics on error.
func MustParseTemplate(s string) *Template {
	t, err := ParseTemplate(s)
	if err != nil {
		panic("BUG: " + err.Error())
	}
	return t
}

// String returns the template text.
func (t *Template) String() string { return t.text }

// Filter returns the MQTT subscription filter: placeholders become "+".
func (t *Template) Filter() string {
	var b strings.Builder
	for i, l := range t.levels {
		if i > 0 {
			b.WriteByte('/')
		}
		if l.wild {
			b.WriteByte('+')
		} else {
			b.WriteString(l.literal)
		}
	}
	if t.multi {
		if len(t.levels) > 0 {
			b.WriteByte('/')
		}
		b.WriteByte('#')
	}
	return b.String()
}

// Match extracts the placeholders of topic. It returns the labels (sorted,
// without the {parameter} value), the parameter ("" when the template has
// none) and ok=false when the topic does not fit the template or a
// placeholder level is empty.
func (t *Template) Match(topic string) (labels model.Labels, param string, ok bool) {
	n := len(t.levels)
	if n == 0 {
		return nil, "", t.multi
	}
	rest := topic
	for i, l := range t.levels {
		level, last := rest, true
		if j := strings.IndexByte(rest, '/'); j >= 0 {
			level, rest, last = rest[:j], rest[j+1:], false
		}
		switch {
		case !l.wild:
			if level != l.literal {
				return nil, "", false
			}
		case l.label == "":
		case level == "":
			return nil, "", false
		case l.label == ParamPlaceholder:
			param = level
		default:
			labels = append(labels, model.Label{Name: l.label, Value: level})
		}
		if last && i < n-1 {
			return nil, "", false // topic too short
		}
		if !last && i == n-1 && !t.multi {
			return nil, "", false // topic too long
		}
		if last {
			break
		}
	}
	labels.Sort()
	return labels, param, true
}

// Topic fills the template's placeholders from values (the simulator's
// side). Every placeholder must have a non-empty value without '/', '+' or
// '#'; a template with "+" or "#" cannot be filled.
func (t *Template) Topic(values map[string]string) (string, error) {
	var b strings.Builder
	for i, l := range t.levels {
		if i > 0 {
			b.WriteByte('/')
		}
		switch {
		case l.label != "":
			v := values[l.label]
			if v == "" || strings.ContainsAny(v, "/+#") {
				return "", fmt.Errorf("topic template %q: bad or missing value %q for {%s}", t.text, v, l.label)
			}
			b.WriteString(v)
		case l.wild:
			return "", fmt.Errorf("topic template %q: cannot fill a + level", t.text)
		default:
			b.WriteString(l.literal)
		}
	}
	if t.multi {
		return "", fmt.Errorf("topic template %q: cannot fill a # level", t.text)
	}
	return b.String(), nil
}
