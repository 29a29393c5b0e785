package main

import (
	"io"
	"path/filepath"
	"strings"
	"testing"
)

// TestBadInput: a flood file given without -flood, a missing flood file and
// an unknown flag are errors that name what is wrong, and nothing is written.
func TestBadInput(t *testing.T) {
	out := t.TempDir()
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"-out", out, "my-flood.yaml"}, `unexpected argument "my-flood.yaml"`},
		{[]string{"-out", out, "-flood", filepath.Join(out, "missing.yaml")}, "-flood: open"},
		{[]string{"-out", out, "-floods", "x.yaml"}, "-floods"},
	} {
		err := runArgs(tc.args, io.Discard)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%v: got %v, want an error containing %q", tc.args, err, tc.want)
		}
	}
	if m, _ := filepath.Glob(filepath.Join(out, "*.yaml")); len(m) > 0 {
		t.Errorf("bad input wrote %v", m)
	}
}
