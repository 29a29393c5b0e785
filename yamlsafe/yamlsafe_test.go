package yamlsafe

import (
	"errors"
	"strings"
	"testing"

	"github.com/goccy/go-yaml"
)

// crasher made goccy/go-yaml v1.19.2 panic with a nil pointer dereference
// while decoding into a slice (found by fuzzing the Modbus register maps).
const crasher = "registers:\n  ! 0\n0000000008:"

type registerMap struct {
	Registers []struct {
		Metric  string `yaml:"metric"`
		Address int    `yaml:"address"`
	} `yaml:"registers"`
}

func TestUnmarshalCrasher(t *testing.T) {
	var m registerMap
	err := UnmarshalStrict([]byte(crasher), &m)
	if err == nil {
		t.Fatal("no error for malformed input")
	}
	if !errors.Is(err, ErrMalformed) {
		t.Fatalf("error %v is not ErrMalformed", err)
	}
	var pe *PanicError
	if !errors.As(err, &pe) {
		t.Fatalf("error %T is not *PanicError", err)
	}
	if pe.Line < 1 || pe.Line > 3 {
		t.Errorf("line %d, want 1..3", pe.Line)
	}
	if !strings.HasPrefix(err.Error(), "yaml parser failed on malformed input near line ") {
		t.Errorf("message %q", err)
	}
	t.Log(err)
}

func TestUnmarshalGood(t *testing.T) {
	var m registerMap
	if err := UnmarshalStrict([]byte("registers:\n  - metric: ph\n    address: 3\n"), &m); err != nil {
		t.Fatal(err)
	}
	if len(m.Registers) != 1 || m.Registers[0].Metric != "ph" || m.Registers[0].Address != 3 {
		t.Fatalf("decoded %+v", m)
	}
}

func TestUnmarshalErrorsPassThrough(t *testing.T) {
	f := func(in string) {
		t.Helper()
		var m registerMap
		err := UnmarshalStrict([]byte(in), &m)
		if err == nil {
			t.Fatalf("%q: no error", in)
		}
		if errors.Is(err, ErrMalformed) {
			t.Fatalf("%q: ordinary error reported as parser failure: %v", in, err)
		}
		var ye yaml.Error
		if !errors.As(err, &ye) {
			t.Fatalf("%q: error %T lost the library's yaml.Error", in, err)
		}
	}
	f("registers:\n  - metric: ph\n    colour: red\n")
	f("registers: [\n")
	f("registers:\n  - address: ten\n")
}

func TestUnmarshalEmpty(t *testing.T) {
	m := registerMap{}
	if err := Unmarshal(nil, &m); err != nil {
		t.Fatal(err)
	}
}

func TestParse(t *testing.T) {
	f, err := Parse([]byte("a:\n  b: 1\n"), 0)
	if err != nil || f == nil || len(f.Docs) != 1 {
		t.Fatalf("parse: %v, %v", f, err)
	}
	if _, err := Parse([]byte("a: [\n"), 0); err == nil || errors.Is(err, ErrMalformed) {
		t.Fatalf("syntax error: got %v", err)
	}
	if _, err := Parse([]byte(crasher), 0); err != nil && !errors.Is(err, ErrMalformed) {
		t.Logf("crasher: %v", err)
	}
}

func TestLocate(t *testing.T) {
	// A fake parser that fails once line 4 is present.
	data := []byte("a\nb\nc\nBAD\ne\n")
	err := locate(data, "boom", func(p []byte) bool { return strings.Contains(string(p), "BAD") })
	var pe *PanicError
	if !errors.As(err, &pe) || pe.Line != 4 || pe.Text != "BAD" {
		t.Fatalf("got %#v", err)
	}
	if got, want := err.Error(), `yaml parser failed on malformed input near line 4 "BAD": boom`; got != want {
		t.Fatalf("message %q, want %q", got, want)
	}
	if err := locate(nil, "boom", func([]byte) bool { return true }); err.Error() != "yaml parser failed on malformed input: boom" {
		t.Fatalf("empty input: %v", err)
	}
	long := strings.Repeat("é", 40)
	if s := snippet([]byte(long)); len(s) > 63 || !strings.HasSuffix(s, "...") {
		t.Fatalf("snippet %q", s)
	}
}

// FuzzUnmarshal decodes arbitrary bytes into a config-shaped struct and a
// generic map: errors are fine, panics are not.
func FuzzUnmarshal(f *testing.F) {
	f.Add([]byte(crasher))
	f.Add([]byte("registers:\n  - metric: ph\n    address: 3\n"))
	f.Add([]byte("stations:\n  - id: A\n    lat: 21.0\n    labels: {a: b}\n"))
	f.Add([]byte("a: &x [1, 2]\nb: *x\nc: !!str 3\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		var m registerMap
		_ = UnmarshalStrict(data, &m)
		var g map[string]any
		_ = Unmarshal(data, &g)
		_, _ = Parse(data, 0)
	})
}

func TestLine(t *testing.T) {
	data := []byte("stations:\n  - id: A\n    modbus:\n      map: x.yaml\n  - id: B\n")
	f, err := Parse(data, 0)
	if err != nil {
		t.Fatal(err)
	}
	check := func(path string, want int) {
		t.Helper()
		if got := Line(f, path); got != want {
			t.Errorf("Line(%q) = %d, want %d", path, got, want)
		}
	}
	check("$.stations[0].modbus.map", 4)
	check("stations[0].modbus.map", 4)
	check("stations[1].modbus.map", 5) // missing: its mapping
	check("stations[1].id", 5)
	check("nothing", 0)
	check("$", 0)
	if Line(nil, "$.a") != 0 {
		t.Error("nil file")
	}
}
