package yamlsafe

import (
	"errors"
	"fmt"
	"testing"
)

func TestDescribe(t *testing.T) {
	data := []byte("registers:\n  - metric: a\n    address: 1\n  - metric: b\n    data_type: nope\n")
	f := func(err error, want string, wantOK bool) {
		t.Helper()
		got, ok := Describe("maps/x.yaml", data, err)
		if got != want || ok != wantOK {
			t.Fatalf("Describe(%v) = %q, %v; want %q, %v", err, got, ok, want, wantOK)
		}
	}
	f(FieldErrorf("$.registers[1].data_type", "unknown data_type %q", "nope"),
		`maps/x.yaml:5: registers[1].data_type: unknown data_type "nope"`, true)
	// A missing key is reported where its mapping starts.
	f(FieldErrorf("$.registers[1].unit", "missing"), "maps/x.yaml:4: registers[1].unit: missing", true)
	f(fmt.Errorf("validate: %w", FieldErrorf("$.nothing", "missing")), "maps/x.yaml: nothing: missing", true)
	f(errors.New("plain"), "", false)

	var v struct {
		Registers []struct {
			Address int `yaml:"address"`
		} `yaml:"registers"`
	}
	err := UnmarshalStrict([]byte("registers:\n  - address: x\n"), &v)
	if err == nil {
		t.Fatal("decoding a string into an int succeeded")
	}
	desc, ok := Describe("m.yaml", nil, err)
	if !ok || desc[:len("m.yaml:2:")] != "m.yaml:2:" {
		t.Fatalf("Describe(%v) = %q, %v; want m.yaml:2:...", err, desc, ok)
	}
}

func TestLineOfBadYAML(t *testing.T) {
	if n := LineOf([]byte("a: [1,\n"), "$.a"); n != 0 {
		t.Fatalf("LineOf(unparsable) = %d, want 0", n)
	}
	LineOf([]byte(crasher), "$.registers[0]") // must not panic
	if n := LineOf([]byte("a:\n  b: 1\n"), "a.b"); n != 2 {
		t.Fatalf("LineOf = %d, want 2", n)
	}
}
