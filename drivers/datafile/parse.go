package datafile

import (
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/quantrac/quantrac/model"
)

// Column names of Format.Columns.
const (
	ColParameter = "parameter"
	ColValue     = "value"
	ColUnit      = "unit"
	ColTime      = "time"
	ColStatus    = "status"
	ColSkip      = "-" // a column to ignore
)

// DefaultColumns is the column order of Circular 10/2021 files.
var DefaultColumns = []string{ColParameter, ColValue, ColUnit, ColTime, ColStatus}

// Format says how the lines of a file are laid out.
type Format struct {
	// Separator between fields: "tab" (default), "space" (runs of spaces
	// and tabs), or any literal string such as ";" or ",".
	Separator string `yaml:"separator,omitempty" json:"separator,omitempty"`
	// Columns in file order, from parameter, value, unit, time, status and
	// "-" (ignored). parameter and value are required; without time the
	// file name's time is used, without status 00.
	Columns []string `yaml:"columns,omitempty" json:"columns,omitempty"`
}

// layout is a checked Format.
type layout struct {
	sep                                         string // "" = whitespace runs
	param, value, unit, time, status, minFields int
}

func (f Format) compile() (layout, error) {
	l := layout{param: -1, value: -1, unit: -1, time: -1, status: -1}
	switch f.Separator {
	case "", "tab", "\t":
		l.sep = "\t"
	case "space", "whitespace":
		l.sep = ""
	default:
		l.sep = f.Separator
	}
	cols := f.Columns
	if len(cols) == 0 {
		cols = DefaultColumns
	}
	for i, c := range cols {
		var p *int
		switch strings.ToLower(strings.TrimSpace(c)) {
		case ColParameter:
			p = &l.param
		case ColValue:
			p = &l.value
		case ColUnit:
			p = &l.unit
		case ColTime:
			p = &l.time
		case ColStatus:
			p = &l.status
		case ColSkip, "":
			continue
		default:
			return l, fmt.Errorf("datafile format: unknown column %q: want parameter, value, unit, time, status or -", c)
		}
		if *p >= 0 {
			return l, fmt.Errorf("datafile format: column %q twice", c)
		}
		*p = i
		if i+1 > l.minFields {
			l.minFields = i + 1
		}
	}
	if l.param < 0 || l.value < 0 {
		return l, fmt.Errorf("datafile format: columns need parameter and value")
	}
	return l, nil
}

func (l *layout) split(line string) []string {
	if l.sep == "" {
		return strings.Fields(line)
	}
	fields := strings.Split(line, l.sep)
	for i := range fields {
		fields[i] = strings.TrimSpace(fields[i])
	}
	return fields
}

// LineError is one line that could not be read.
type LineError struct {
	Line int    // 1-based
	Text string // the line, shortened
	Err  error
}

func (e LineError) Error() string {
	return fmt.Sprintf("line %d %q: %v", e.Line, e.Text, e.Err)
}

// Parsed is the result of parsing one file.
type Parsed struct {
	Name     FileName
	Encoding Encoding
	Samples  []model.Sample
	Errors   []LineError
	Lines    int // data lines (not blank, not the header)
}

// parseConfig is what Parse needs besides the bytes.
type parseConfig struct {
	layout layout
	params map[string]Parameter
	loc    *time.Location
	kind   string // the station's kind
}

const maxLineExcerpt = 120

// parse reads the lines of a file. Bad lines are reported one by one; the
// good lines still give samples.
func parse(data []byte, name FileName, cfg *parseConfig) Parsed {
	text, enc := decodeText(data)
	p := Parsed{Name: name, Encoding: enc}
	base := model.New("", model.LabelStation, name.Station, model.LabelProvince, name.Province, model.LabelKind, cfg.kind)
	lines := strings.Split(text, "\n")
	for i, line := range lines {
		line = strings.TrimRight(line, "\r")
		if strings.TrimSpace(line) == "" || strings.HasPrefix(strings.TrimSpace(line), "#") {
			continue
		}
		fields := cfg.layout.split(line)
		if p.Lines == 0 && isHeader(fields, &cfg.layout) {
			continue
		}
		p.Lines++
		s, err := parseLine(fields, name, base, cfg)
		if err != nil {
			text := line
			if len(text) > maxLineExcerpt {
				text = text[:maxLineExcerpt] + "..."
			}
			p.Errors = append(p.Errors, LineError{Line: i + 1, Text: text, Err: err})
			continue
		}
		p.Samples = append(p.Samples, s)
	}
	return p
}

// isHeader recognises a first line that names the columns.
func isHeader(fields []string, l *layout) bool {
	if l.value >= len(fields) {
		return false
	}
	switch strings.ToLower(fields[l.value]) {
	case "value", "giá trị", "gia tri", "giatri", "giá_trị":
		return true
	}
	return false
}

func parseLine(fields []string, name FileName, base model.Labels, cfg *parseConfig) (model.Sample, error) {
	l := &cfg.layout
	if len(fields) < l.minFields {
		return model.Sample{}, fmt.Errorf("%d fields, want %d", len(fields), l.minFields)
	}
	unit := ""
	if l.unit >= 0 {
		unit = fields[l.unit]
	}
	metric, factor, err := resolveParam(cfg.params, fields[l.param], unit, cfg.kind)
	if err != nil {
		return model.Sample{}, err
	}
	raw := fields[l.value]
	if l.sep != "," {
		raw = strings.Replace(raw, ",", ".", 1) // decimal comma
	}
	v, err := strconv.ParseFloat(raw, 64)
	if err != nil || math.IsNaN(v) || math.IsInf(v, 0) {
		return model.Sample{}, fmt.Errorf("value %q is not a number", fields[l.value])
	}
	v *= factor
	t := name.T
	if l.time >= 0 {
		t, err = parseLocalTime(fields[l.time], cfg.loc)
		if err != nil {
			return model.Sample{}, fmt.Errorf("time %q: %w", fields[l.time], err)
		}
	}
	q := model.QualityGood
	if l.status >= 0 {
		q, err = model.ParseStatus(fields[l.status])
		if err != nil {
			return model.Sample{}, err
		}
	}
	ls := make(model.Labels, 0, len(base)+1)
	ls = append(ls, model.Label{Name: model.MetricName, Value: metric})
	ls = append(ls, base...)
	ls.Sort()
	s := model.Sample{Labels: ls, T: t, V: v, Q: q}
	if err := s.Validate(); err != nil {
		return model.Sample{}, err
	}
	return s, nil
}

// ParseOptions configure Parse.
type ParseOptions struct {
	Format Format
	// Parameters add to (or override) DefaultParameters; keys are
	// parameter names as written in files.
	Parameters map[string]Parameter
	// Location of the times in the file; default Asia/Ho_Chi_Minh.
	Location *time.Location
	// Kind of the station (label kind; hydrological also picks water
	// temperature for "Temp"). Required.
	Kind string
}

func (o ParseOptions) config() (*parseConfig, error) {
	l, err := o.Format.compile()
	if err != nil {
		return nil, err
	}
	loc := o.Location
	if loc == nil {
		loc = LocalZone
	}
	params := DefaultParameters
	if len(o.Parameters) > 0 {
		params = make(map[string]Parameter, len(DefaultParameters)+len(o.Parameters))
		for k, v := range DefaultParameters {
			params[k] = v
		}
		for k, v := range o.Parameters {
			if !model.ValidMetricName(v.Metric) || (v.HydroMetric != "" && !model.ValidMetricName(v.HydroMetric)) {
				return nil, fmt.Errorf("datafile parameters: %q: invalid metric name %q", k, v.Metric)
			}
			params[normParam(k)] = v
		}
	}
	return &parseConfig{layout: l, params: params, loc: loc, kind: o.Kind}, nil
}

// Parse reads one file: fileName gives province, station and time, data the
// readings. It returns an error only when the file as a whole cannot be
// used (bad name, bad options); bad lines are listed in Parsed.Errors while
// the good lines give samples.
func Parse(data []byte, fileName string, opts ParseOptions) (Parsed, error) {
	cfg, err := opts.config()
	if err != nil {
		return Parsed{}, err
	}
	if opts.Kind == "" {
		return Parsed{}, fmt.Errorf("datafile: the station's kind is required")
	}
	name, err := ParseName(fileName, cfg.loc)
	if err != nil {
		return Parsed{}, err
	}
	return parse(data, name, cfg), nil
}

// LocalZone is Asia/Ho_Chi_Minh (UTC+7 without daylight saving since 1975,
// used when the zone database is missing).
var LocalZone = func() *time.Location {
	if loc, err := time.LoadLocation("Asia/Ho_Chi_Minh"); err == nil {
		return loc
	}
	return time.FixedZone("ICT", 7*3600)
}()
