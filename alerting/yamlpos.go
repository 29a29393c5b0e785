package alerting

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/goccy/go-yaml"
	"github.com/goccy/go-yaml/ast"

	"github.com/quantrac/quantrac/yamlsafe"
)

// ConfigError is one problem in a YAML file (rules or roster): the file, the
// line of the offending key (0 when unknown), the field path such as
// rules[3].above, and what is wrong.
type ConfigError struct {
	File  string
	Line  int
	Field string
	Msg   string
}

// Error renders "file:line: field: message".
func (e *ConfigError) Error() string {
	var b strings.Builder
	b.WriteString(e.File)
	if e.Line > 0 {
		fmt.Fprintf(&b, ":%d", e.Line)
	}
	b.WriteString(": ")
	if e.Field != "" {
		b.WriteString(e.Field)
		b.WriteString(": ")
	}
	b.WriteString(e.Msg)
	return b.String()
}

// ConfigErrors is every problem found in one or more files.
type ConfigErrors []*ConfigError

// Error lists the problems, one a line.
func (es ConfigErrors) Error() string {
	parts := make([]string, len(es))
	for i, e := range es {
		parts[i] = e.Error()
	}
	return strings.Join(parts, "\n")
}

// yamlDoc keeps a parsed file so validation errors can point at lines.
type yamlDoc struct {
	file string
	ast  *ast.File
	errs ConfigErrors
}

// decodeYAML strictly decodes data into v (unknown keys are errors) and keeps
// the syntax tree for line lookups. A decode error is returned as a
// ConfigError with the line goccy reports.
func decodeYAML(file string, data []byte, v any) (*yamlDoc, error) {
	// yamlsafe turns a panic of the YAML library on malformed input (unknown
	// tags on sequences) into an error: a broken file must never crash.
	d := &yamlDoc{file: file}
	f, err := yamlsafe.Parse(data, 0)
	if err != nil {
		return nil, yamlError(file, err)
	}
	d.ast = f
	if err := yamlsafe.UnmarshalStrict(data, v); err != nil {
		return nil, yamlError(file, err)
	}
	return d, nil
}

func yamlError(file string, err error) error {
	var ye yaml.Error
	if errors.As(err, &ye) {
		line := 0
		if tk := ye.GetToken(); tk != nil && tk.Position != nil {
			line = tk.Position.Line
		}
		return ConfigErrors{{File: file, Line: line, Msg: ye.GetMessage()}}
	}
	return ConfigErrors{{File: file, Msg: err.Error()}}
}

// line finds the line of a field given as a path like "rules[3].above";
// when the field is absent it walks up to the nearest present parent.
func (d *yamlDoc) line(field string) int {
	if d == nil {
		return 0
	}
	return yamlsafe.Line(d.ast, field)
}

// errorf records a problem with field.
func (d *yamlDoc) errorf(field, format string, args ...any) {
	d.errs = append(d.errs, &ConfigError{File: d.file, Line: d.line(field), Field: field, Msg: fmt.Sprintf(format, args...)})
}

// parseDuration accepts Go durations plus a "d" suffix for days ("7d", "1d12h").
func parseDuration(s string) (time.Duration, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return 0, nil
	}
	if i := strings.IndexByte(s, 'd'); i > 0 {
		var days int
		if _, err := fmt.Sscanf(s[:i], "%d", &days); err != nil || days < 0 || fmt.Sprint(days) != s[:i] {
			return 0, fmt.Errorf("bad duration %q: want e.g. 90s, 10m, 1h30m, 7d", s)
		}
		rest := time.Duration(0)
		if s[i+1:] != "" {
			r, err := time.ParseDuration(s[i+1:])
			if err != nil {
				return 0, fmt.Errorf("bad duration %q: want e.g. 90s, 10m, 1h30m, 7d", s)
			}
			rest = r
		}
		return time.Duration(days)*24*time.Hour + rest, nil
	}
	d, err := time.ParseDuration(s)
	if err != nil {
		return 0, fmt.Errorf("bad duration %q: want e.g. 90s, 10m, 1h30m, 7d", s)
	}
	return d, nil
}

// duration parses a duration field, recording an error when it is malformed
// or negative.
func (d *yamlDoc) duration(field, s string) time.Duration {
	v, err := parseDuration(s)
	if err != nil {
		d.errorf(field, "%v", err)
		return 0
	}
	if v < 0 {
		d.errorf(field, "must not be negative")
		return 0
	}
	return v
}
