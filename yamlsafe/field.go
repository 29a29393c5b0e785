package yamlsafe

import (
	"errors"
	"fmt"
	"strings"

	"github.com/goccy/go-yaml"
)

// FieldError is a validation problem at a YAML path such as
// $.registers[2].data_type, found after decoding. Describe turns it into a
// message with the line of the path.
type FieldError struct {
	// Path is the YAML path of the offending node, "$" for the root.
	Path string
	// Msg says what is wrong.
	Msg string
}

// FieldErrorf returns a *FieldError at path with a formatted message.
func FieldErrorf(path, format string, args ...any) error {
	return &FieldError{Path: path, Msg: fmt.Sprintf(format, args...)}
}

// Error renders "key: message".
func (e *FieldError) Error() string { return e.Key() + ": " + e.Msg }

// Key renders the path without the root marker: registers[2].data_type.
func (e *FieldError) Key() string {
	return strings.TrimPrefix(strings.TrimPrefix(e.Path, "$"), ".")
}

// LineOf returns the line of a YAML path in data (see Line), or 0 when data
// does not parse or nothing matches.
func LineOf(data []byte, path string) int {
	f, err := Parse(data, 0)
	if err != nil {
		return 0
	}
	return Line(f, path)
}

// Describe renders an error met while decoding or validating data, read
// from the file name, with the place it points at:
//
//   - an error of the YAML library carrying a token: "name:line:col: message"
//   - a *FieldError: "name:line: key: message", or "name: key: message" when
//     the path is not found in data
//
// ok is false for any other error (the caller words those itself).
func Describe(name string, data []byte, err error) (desc string, ok bool) {
	var ye yaml.Error
	if errors.As(err, &ye) && ye.GetToken() != nil && ye.GetToken().Position != nil {
		p := ye.GetToken().Position
		return fmt.Sprintf("%s:%d:%d: %s", name, p.Line, p.Column, ye.GetMessage()), true
	}
	var fe *FieldError
	if errors.As(err, &fe) {
		if line := LineOf(data, fe.Path); line > 0 {
			return fmt.Sprintf("%s:%d: %s: %s", name, line, fe.Key(), fe.Msg), true
		}
		return fmt.Sprintf("%s: %s: %s", name, fe.Key(), fe.Msg), true
	}
	return "", false
}
