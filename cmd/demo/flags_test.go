package main

import (
	"context"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestBadInput: wrong flags are refused before anything starts, with an
// error naming the flag and what is wrong.
func TestBadInput(t *testing.T) {
	notDir := filepath.Join(t.TempDir(), "file.csv")
	if err := os.WriteFile(notDir, []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"-log-level", "loud"}, `-log-level "loud": want debug, info, warn or error`},
		{[]string{"-scenario", "nope.yaml"}, "-scenario: scenario: open"},
		{[]string{"-scenario", "configs/collector.yaml"}, `unknown field`},
		{[]string{"-beijing", filepath.Join(t.TempDir(), "missing")}, "-beijing: stat"},
		{[]string{"-beijing", notDir}, "not a directory"},
		{[]string{"-repo", t.TempDir()}, "run the demo from the repository root or pass -repo DIR"},
		{[]string{"stray"}, `unexpected argument "stray"`},
	} {
		args := append([]string{"-repo", repoRoot, "-http", "127.0.0.1:0"}, tc.args...)
		err := run(context.Background(), args, io.Discard, io.Discard)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%v: got %v, want an error containing %q", tc.args, err, tc.want)
		}
	}
}
