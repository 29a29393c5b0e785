// Package yamlsafe decodes YAML with github.com/goccy/go-yaml and turns a
// panic of the library on malformed input into an error, so that no
// configuration file or payload can crash a quantrac process.
//
// goccy/go-yaml v1.19.2 panics on some malformed documents, for example a
// tagged empty node where a sequence belongs:
//
//	registers:
//	  ! 0
//	0000000008:
//
// Every YAML entry point in the repository decodes through this package.
package yamlsafe

import (
	"bytes"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"unicode/utf8"

	"github.com/goccy/go-yaml"
	"github.com/goccy/go-yaml/ast"
	"github.com/goccy/go-yaml/parser"
)

// ErrMalformed is matched (errors.Is) by every error that stands for a panic
// of the YAML library.
var ErrMalformed = errors.New("yaml parser failed on malformed input")

// PanicError is returned when the YAML library panicked on the input.
type PanicError struct {
	// Line is the 1-based line near which the parser failed: the first line
	// whose addition to the document makes it fail. 0 when unknown.
	Line int
	// Text is the start of that line (at most 60 bytes).
	Text string
	// Value is what the library panicked with.
	Value any
}

// Error reads `yaml parser failed on malformed input near line 2 "  ! 0": <panic value>`.
func (e *PanicError) Error() string {
	if e.Line > 0 {
		return fmt.Sprintf("%s near line %d %q: %v", ErrMalformed, e.Line, e.Text, e.Value)
	}
	return fmt.Sprintf("%s: %v", ErrMalformed, e.Value)
}

// Is makes errors.Is(err, ErrMalformed) true.
func (e *PanicError) Is(target error) bool { return target == ErrMalformed }

// maxLocate bounds the input size for which the failing line is searched
// (each probe decodes a prefix again).
const maxLocate = 1 << 20

// Unmarshal decodes the first document of data into v like
// yaml.UnmarshalWithOptions (empty input leaves v unchanged and returns nil).
// A panic of the library becomes a *PanicError naming the line near which
// the parser failed; to find it, prefixes of data are decoded again into
// fresh values of v's type (only after a panic, never on the normal path).
// v may be partly filled when an error is returned.
func Unmarshal(data []byte, v any, opts ...yaml.DecodeOption) (err error) {
	defer func() {
		if p := recover(); p != nil {
			err = locate(data, p, func(prefix []byte) bool {
				return panics(func() { probe(prefix, v, opts) })
			})
		}
	}()
	return yaml.UnmarshalWithOptions(data, v, opts...)
}

// UnmarshalStrict is Unmarshal with unknown keys reported as errors
// (yaml.DisallowUnknownField), the mode of every quantrac config file.
func UnmarshalStrict(data []byte, v any, opts ...yaml.DecodeOption) error {
	return Unmarshal(data, v, append([]yaml.DecodeOption{yaml.DisallowUnknownField()}, opts...)...)
}

// Parse parses data into a syntax tree like parser.ParseBytes, turning a
// panic into a *PanicError. Callers use the tree to find lines of keys.
func Parse(data []byte, mode parser.Mode) (f *ast.File, err error) {
	defer func() {
		if p := recover(); p != nil {
			f = nil
			err = locate(data, p, func(prefix []byte) bool {
				return panics(func() { _, _ = parser.ParseBytes(prefix, mode) })
			})
		}
	}()
	return parser.ParseBytes(data, mode)
}

// probe decodes prefix into a fresh value of v's type.
func probe(prefix []byte, v any, opts []yaml.DecodeOption) {
	t := reflect.TypeOf(v)
	if t == nil || t.Kind() != reflect.Pointer {
		_ = yaml.UnmarshalWithOptions(prefix, v, opts...)
		return
	}
	_ = yaml.UnmarshalWithOptions(prefix, reflect.New(t.Elem()).Interface(), opts...)
}

func panics(fn func()) (p bool) {
	defer func() {
		if recover() != nil {
			p = true
		}
	}()
	fn()
	return false
}

// locate builds the error for panic value p, searching the first line at
// which fails(prefix) turns true. The search is a bisection over line
// counts: it keeps a prefix that does not fail and one that does, so the
// line it reports is one whose addition makes the input fail.
func locate(data []byte, p any, fails func(prefix []byte) bool) error {
	e := &PanicError{Value: p}
	if len(data) > maxLocate {
		return e
	}
	ends := lineEnds(data)
	if len(ends) == 0 || !fails(data) { // the panic depended on something besides the bytes
		return e
	}
	lo, hi := 0, len(ends) // prefix of lo lines does not fail, of hi lines fails
	for hi-lo > 1 {
		mid := (lo + hi) / 2
		if fails(data[:ends[mid-1]]) {
			hi = mid
		} else {
			lo = mid
		}
	}
	start := 0
	if hi > 1 {
		start = ends[hi-2]
	}
	e.Line = hi
	e.Text = snippet(data[start:ends[hi-1]])
	return e
}

// lineEnds returns the end offset (after the newline) of every line.
func lineEnds(data []byte) []int {
	var ends []int
	for off := 0; off < len(data); {
		i := bytes.IndexByte(data[off:], '\n')
		if i < 0 {
			ends = append(ends, len(data))
			break
		}
		off += i + 1
		ends = append(ends, off)
	}
	return ends
}

// snippet trims a line to at most 60 bytes without cutting a UTF-8 rune.
func snippet(line []byte) string {
	line = bytes.TrimRight(line, "\r\n")
	const limit = 60
	if len(line) <= limit {
		return string(line)
	}
	cut := limit
	for cut > 0 && !utf8.RuneStart(line[cut]) {
		cut--
	}
	return string(line[:cut]) + "..."
}

// Line returns the line of the node at a YAML path such as
// "$.stations[2].modbus.map" (the "$." prefix is optional) in f, falling
// back to the nearest parent present (a missing key is reported where its
// mapping starts). It returns 0 when nothing matches or f is nil, and never
// panics.
func Line(f *ast.File, path string) (line int) {
	if f == nil {
		return 0
	}
	defer func() {
		if recover() != nil {
			line = 0
		}
	}()
	if !strings.HasPrefix(path, "$") {
		path = "$." + path
	}
	for p := path; p != "" && p != "$"; {
		yp, err := yaml.PathString(p)
		if err == nil {
			if n, err := yp.FilterFile(f); err == nil && n != nil {
				if tk := n.GetToken(); tk != nil && tk.Position != nil {
					return tk.Position.Line
				}
			}
		}
		i := strings.LastIndexAny(p, ".[")
		if i <= 0 {
			break
		}
		p = p[:i]
	}
	return 0
}
