package main

import (
	"bytes"
	"strings"
	"testing"

	"github.com/quantrac/quantrac/api"
)

func TestTokenCommands(t *testing.T) {
	dir := t.TempDir()
	var out bytes.Buffer
	if err := run([]string{"token", "create", "-role", "viewer", "-name", "ioc", "-province", "HN", "-data", dir}, &out, &out); err != nil {
		t.Fatal(err)
	}
	tok := strings.TrimSpace(out.String())
	if !strings.HasPrefix(tok, "qt_") || len(tok) < 40 {
		t.Fatalf("token %q", tok)
	}
	ts, err := api.OpenTokenStore(dir)
	if err != nil {
		t.Fatal(err)
	}
	if info, ok := ts.Lookup(tok); !ok || info.Role != "viewer" || info.Province != "HN" {
		t.Fatalf("lookup: %+v %v", info, ok)
	}
	out.Reset()
	if err := run([]string{"token", "list", "-data", dir}, &out, &out); err != nil || !strings.Contains(out.String(), "ioc") || strings.Contains(out.String(), tok) {
		t.Fatalf("list: %v %s", err, out.String())
	}
	if err := run([]string{"token", "create", "-role", "king", "-name", "x", "-data", dir}, &out, &out); err == nil || !strings.Contains(err.Error(), "king") {
		t.Fatalf("bad role: %v", err)
	}
	if err := run([]string{"token", "revoke", "-name", "ioc", "-data", dir}, &out, &out); err != nil {
		t.Fatal(err)
	}
	if err := run([]string{"token", "revoke", "-name", "ioc", "-data", dir}, &out, &out); err == nil {
		t.Fatal("revoking twice succeeded")
	}
	if err := run([]string{"-config", "/nonexistent.yaml"}, &out, &out); err == nil || !strings.Contains(err.Error(), "nonexistent") {
		t.Fatalf("missing config: %v", err)
	}
}
