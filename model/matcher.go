package model

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"
)

// MatchType is the operator of a label matcher.
type MatchType uint8

// Matcher operators, with Prometheus semantics.
const (
	MatchEqual     MatchType = iota // =
	MatchNotEqual                   // !=
	MatchRegexp                     // =~ (anchored at both ends)
	MatchNotRegexp                  // !~
)

func (t MatchType) String() string {
	switch t {
	case MatchEqual:
		return "="
	case MatchNotEqual:
		return "!="
	case MatchRegexp:
		return "=~"
	case MatchNotRegexp:
		return "!~"
	}
	return fmt.Sprintf("MatchType(%d)", uint8(t))
}

// Matcher selects series by one label. An absent label has the value "",
// so `x=""` matches series without x and `x!=""` those with it, as in Prometheus.
type Matcher struct {
	Type  MatchType
	Name  string
	Value string
	re    *regexp.Regexp
}

// NewMatcher builds a matcher; regular expressions are anchored (^(?:v)$).
func NewMatcher(t MatchType, name, value string) (*Matcher, error) {
	m := &Matcher{Type: t, Name: name, Value: value}
	switch t {
	case MatchEqual, MatchNotEqual:
	case MatchRegexp, MatchNotRegexp:
		re, err := regexp.Compile("^(?:" + value + ")$")
		if err != nil {
			return nil, fmt.Errorf("matcher %s%s%q: %w", name, t, value, err)
		}
		m.re = re
	default:
		return nil, fmt.Errorf("matcher on %q: unknown match type %d", name, t)
	}
	return m, nil
}

// MustMatcher is NewMatcher for constants in code and tests; it panics on error.
func MustMatcher(t MatchType, name, value string) *Matcher {
	m, err := NewMatcher(t, name, value)
	if err != nil {
		panic("BUG: " + err.Error())
	}
	return m
}

// Matches reports whether a label value (or "" when absent) satisfies m.
func (m *Matcher) Matches(v string) bool {
	switch m.Type {
	case MatchEqual:
		return v == m.Value
	case MatchNotEqual:
		return v != m.Value
	case MatchRegexp:
		return m.re.MatchString(v)
	case MatchNotRegexp:
		return !m.re.MatchString(v)
	}
	return false
}

// String renders the matcher as in a PromQL selector.
func (m *Matcher) String() string {
	return m.Name + m.Type.String() + strconv.Quote(m.Value)
}

// MatchLabels reports whether ls satisfies every matcher.
func MatchLabels(ms []*Matcher, ls Labels) bool {
	for _, m := range ms {
		if !m.Matches(ls.Get(m.Name)) {
			return false
		}
	}
	return true
}

// ParseSelector parses a series selector such as
// `water_level_m{station=~"HN-.*",province!="HCM"}` or `{__name__="x"}`.
// Errors name the position and what was expected.
func ParseSelector(s string) ([]*Matcher, error) {
	p := selectorParser{s: s}
	ms, err := p.parse()
	if err != nil {
		return nil, fmt.Errorf("selector %q: %w", s, err)
	}
	return ms, nil
}

type selectorParser struct {
	s   string
	pos int
}

func (p *selectorParser) skipSpace() {
	for p.pos < len(p.s) && (p.s[p.pos] == ' ' || p.s[p.pos] == '\t' || p.s[p.pos] == '\n') {
		p.pos++
	}
}

func (p *selectorParser) ident(allowColon bool) string {
	start := p.pos
	for p.pos < len(p.s) {
		c := p.s[p.pos]
		ok := c == '_' || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (p.pos > start && c >= '0' && c <= '9') || (allowColon && c == ':')
		if !ok {
			break
		}
		p.pos++
	}
	return p.s[start:p.pos]
}

func (p *selectorParser) parse() ([]*Matcher, error) {
	var ms []*Matcher
	p.skipSpace()
	if name := p.ident(true); name != "" {
		ms = append(ms, MustMatcher(MatchEqual, MetricName, name))
	}
	p.skipSpace()
	if p.pos == len(p.s) {
		if len(ms) == 0 {
			return nil, fmt.Errorf("empty selector")
		}
		return ms, nil
	}
	if p.s[p.pos] != '{' {
		return nil, fmt.Errorf("at offset %d: want '{' or end, got %q", p.pos, p.s[p.pos:p.pos+1])
	}
	p.pos++
	for {
		p.skipSpace()
		if p.pos < len(p.s) && p.s[p.pos] == '}' {
			p.pos++
			break
		}
		name := p.ident(false)
		if name == "" {
			return nil, fmt.Errorf("at offset %d: want a label name", p.pos)
		}
		p.skipSpace()
		var t MatchType
		switch {
		case strings.HasPrefix(p.s[p.pos:], "=~"):
			t, p.pos = MatchRegexp, p.pos+2
		case strings.HasPrefix(p.s[p.pos:], "!~"):
			t, p.pos = MatchNotRegexp, p.pos+2
		case strings.HasPrefix(p.s[p.pos:], "!="):
			t, p.pos = MatchNotEqual, p.pos+2
		case strings.HasPrefix(p.s[p.pos:], "="):
			t, p.pos = MatchEqual, p.pos+1
		default:
			return nil, fmt.Errorf("at offset %d: want =, !=, =~ or !~ after %q", p.pos, name)
		}
		p.skipSpace()
		if p.pos >= len(p.s) || (p.s[p.pos] != '"' && p.s[p.pos] != '\'' && p.s[p.pos] != '`') {
			return nil, fmt.Errorf("at offset %d: want a quoted value for %q", p.pos, name)
		}
		quoted, err := strconv.QuotedPrefix(p.s[p.pos:])
		if err != nil {
			if p.s[p.pos] != '\'' {
				return nil, fmt.Errorf("at offset %d: bad quoted value for %q: %w", p.pos, name, err)
			}
			end := strings.IndexByte(p.s[p.pos+1:], '\'')
			if end < 0 {
				return nil, fmt.Errorf("at offset %d: unterminated value for %q", p.pos, name)
			}
			quoted = "\"" + p.s[p.pos+1:p.pos+1+end] + "\""
			p.pos += end + 2
		} else {
			p.pos += len(quoted)
		}
		value, err := strconv.Unquote(quoted)
		if err != nil {
			return nil, fmt.Errorf("bad quoted value for %q: %w", name, err)
		}
		m, err := NewMatcher(t, name, value)
		if err != nil {
			return nil, err
		}
		ms = append(ms, m)
		p.skipSpace()
		if p.pos < len(p.s) && p.s[p.pos] == ',' {
			p.pos++
			continue
		}
		if p.pos < len(p.s) && p.s[p.pos] == '}' {
			p.pos++
			break
		}
		return nil, fmt.Errorf("at offset %d: want ',' or '}'", p.pos)
	}
	p.skipSpace()
	if p.pos != len(p.s) {
		return nil, fmt.Errorf("at offset %d: unexpected %q after '}'", p.pos, p.s[p.pos:])
	}
	if len(ms) == 0 {
		return nil, fmt.Errorf("selector has no matcher")
	}
	return ms, nil
}
