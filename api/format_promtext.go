package api

import (
	"bytes"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/quantrac/quantrac/model"
)

// promTextParser parses the Prometheus text exposition format with
// timestamps (what VictoriaMetrics' /api/v1/import/prometheus takes):
//
//	metric{label="value",...} value [timestamp_ms]
//
// Comment and blank lines are skipped. The labels of a series are parsed
// once per request and shared by all its samples.
type promTextParser struct {
	now    int64
	extra  model.Labels
	series map[string]model.Labels
	names  map[string]string // interned label names and values
}

func newPromTextParser(now int64, extra model.Labels) *promTextParser {
	return &promTextParser{now: now, extra: extra, series: map[string]model.Labels{}, names: map[string]string{}}
}

func (p *promTextParser) intern(b []byte) string {
	if s, ok := p.names[string(b)]; ok {
		return s
	}
	s := string(b)
	p.names[s] = s
	return s
}

// parse appends the samples of data to batch (src gets the 1-based line of
// each) and rejects bad lines into res.
func (p *promTextParser) parse(data []byte, batch []model.Sample, src []int, res *model.AppendResult) ([]model.Sample, []int) {
	line := 0
	for len(data) > 0 {
		line++
		var l []byte
		l, data, _ = bytes.Cut(data, []byte{'\n'})
		l = trimSpace(l)
		if len(l) == 0 || l[0] == '#' {
			continue
		}
		smp, err := p.parseLine(l)
		if err != nil {
			res.Reject(line, fmt.Errorf("line %d: %w", line, err))
			continue
		}
		batch = append(batch, smp)
		src = append(src, line)
	}
	return batch, src
}

func trimSpace(b []byte) []byte {
	for len(b) > 0 && (b[0] == ' ' || b[0] == '\t') {
		b = b[1:]
	}
	for len(b) > 0 && (b[len(b)-1] == ' ' || b[len(b)-1] == '\t' || b[len(b)-1] == '\r') {
		b = b[:len(b)-1]
	}
	return b
}

func (p *promTextParser) parseLine(l []byte) (model.Sample, error) {
	// The series part ends at the first space or tab outside braces.
	end := 0
	inBraces, inQuote := false, false
	for end < len(l) {
		c := l[end]
		if inQuote {
			if c == '\\' {
				end += 2
				continue
			}
			if c == '"' {
				inQuote = false
			}
		} else if c == '"' && inBraces {
			inQuote = true
		} else if c == '{' {
			inBraces = true
		} else if c == '}' {
			inBraces = false
		} else if (c == ' ' || c == '\t') && !inBraces {
			break
		}
		end++
	}
	if end > len(l) {
		end = len(l)
	}
	if inQuote || inBraces {
		return model.Sample{}, errors.New("unterminated label set")
	}
	key := l[:end]
	ls, ok := p.series[string(key)]
	if !ok {
		var err error
		ls, err = p.parseSeries(key)
		if err != nil {
			return model.Sample{}, err
		}
		p.series[string(key)] = ls
	}
	rest := trimSpace(l[end:])
	if len(rest) == 0 {
		return model.Sample{}, fmt.Errorf("series %s: missing value", ls)
	}
	vEnd := bytes.IndexAny(rest, " \t")
	vb := rest
	var tb []byte
	if vEnd >= 0 {
		vb, tb = rest[:vEnd], trimSpace(rest[vEnd+1:])
	}
	v, err := strconv.ParseFloat(string(vb), 64)
	if err != nil {
		return model.Sample{}, fmt.Errorf("series %s: value %q is not a number", ls, vb)
	}
	t := p.now
	if len(tb) > 0 {
		if bytes.IndexAny(tb, " \t") >= 0 {
			return model.Sample{}, fmt.Errorf("series %s: unexpected text after timestamp: %q", ls, tb)
		}
		ts, err := strconv.ParseInt(string(tb), 10, 64)
		if err != nil {
			f, ferr := strconv.ParseFloat(string(tb), 64)
			if ferr != nil {
				return model.Sample{}, fmt.Errorf("series %s: timestamp %q is not milliseconds", ls, tb)
			}
			ts = int64(f)
		}
		t = ts
	}
	return model.Sample{Labels: ls, T: t, V: v}, nil
}

// parseSeries parses metric{a="b",...} into sorted labels with the extra
// labels applied.
func (p *promTextParser) parseSeries(b []byte) (model.Labels, error) {
	i := bytes.IndexByte(b, '{')
	name := b
	if i >= 0 {
		name = b[:i]
	}
	ls := make(model.Labels, 0, 8)
	if len(name) > 0 {
		ls = append(ls, model.Label{Name: model.MetricName, Value: p.intern(name)})
	}
	if i >= 0 {
		body := b[i+1:]
		if len(body) == 0 || body[len(body)-1] != '}' {
			return nil, fmt.Errorf("series %q: missing '}'", b)
		}
		body = body[:len(body)-1]
		for {
			body = trimSpace(body)
			if len(body) > 0 && body[0] == ',' {
				body = trimSpace(body[1:])
			}
			if len(body) == 0 {
				break
			}
			eq := bytes.IndexByte(body, '=')
			if eq < 0 {
				return nil, fmt.Errorf("series %q: label without '='", b)
			}
			ln := trimSpace(body[:eq])
			body = trimSpace(body[eq+1:])
			if len(body) == 0 || body[0] != '"' {
				return nil, fmt.Errorf("series %q: label %q: value must be quoted", b, ln)
			}
			val, n, err := unquoteLabel(body)
			if err != nil {
				return nil, fmt.Errorf("series %q: label %q: %w", b, ln, err)
			}
			body = body[n:]
			ls = append(ls, model.Label{Name: p.intern(ln), Value: val})
		}
	}
	for _, e := range p.extra {
		ls = setLabel(ls, e.Name, e.Value)
	}
	ls.Sort()
	return ls, nil
}

// setLabel replaces or appends a label (unsorted).
func setLabel(ls model.Labels, name, value string) model.Labels {
	for i := range ls {
		if ls[i].Name == name {
			ls[i].Value = value
			return ls
		}
	}
	return append(ls, model.Label{Name: name, Value: value})
}

// unquoteLabel reads a double-quoted label value with \\, \" and \n escapes
// from the start of b; it returns the value and the bytes consumed.
func unquoteLabel(b []byte) (string, int, error) {
	if j := bytes.IndexByte(b[1:], '"'); j >= 0 && bytes.IndexByte(b[1:j+1], '\\') < 0 {
		return string(b[1 : j+1]), j + 2, nil
	}
	var sb strings.Builder
	for i := 1; i < len(b); i++ {
		c := b[i]
		switch c {
		case '"':
			return sb.String(), i + 1, nil
		case '\\':
			i++
			if i >= len(b) {
				return "", 0, errors.New("unterminated escape")
			}
			switch b[i] {
			case 'n':
				sb.WriteByte('\n')
			case '\\', '"':
				sb.WriteByte(b[i])
			default:
				sb.WriteByte('\\')
				sb.WriteByte(b[i])
			}
		default:
			sb.WriteByte(c)
		}
	}
	return "", 0, errors.New("unterminated quoted value")
}
