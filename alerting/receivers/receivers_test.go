package receivers

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/quantrac/quantrac/yamlsafe"
)

func TestParse(t *testing.T) {
	t.Setenv("SMPP_PASSWORD", "s3cret")
	src := `
receivers:
  - name: sms
    type: smpp
    smpp:
      addr: 127.0.0.1:2775
      user: quantrac
      password: ${SMPP_PASSWORD}
      source: QUANTRAC
      bind_interval: 5s
  - name: ioc
    type: webhook
    webhook: {url: "http://127.0.0.1:9/alerts"}
  - name: log
    type: file
    sms: true
    file: {path: "-"}
`
	set, err := Parse("r.yaml", []byte(src), zerolog.Nop())
	if err != nil {
		t.Fatal(err)
	}
	defer set.Close()
	if len(set.Receivers) != 3 || !set.Receivers[0].SMS || set.Receivers[1].SMS || !set.Receivers[2].SMS {
		t.Fatalf("receivers %+v", set.Receivers)
	}
	if set.smpp[0].Config().Password != "s3cret" || set.smpp[0].Config().BindInterval != 5*time.Second {
		t.Fatal("env or duration not applied")
	}
	f := func(src, want string) {
		t.Helper()
		_, err := Parse("r.yaml", []byte(src), zerolog.Nop())
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Fatalf("want %q, got %v", want, err)
		}
	}
	f("receivers:\n  - name: a\n    type: pager\n", "r.yaml: receivers[0] (a).type: unknown \"pager\"")
	f("receivers:\n  - name: a\n    type: smpp\n", "receivers[0] (a).smpp: required")
	f("receivers:\n  - name: a\n    type: smpp\n    smpp: {addr: x}\n", "source required")
	f("receivers:\n  - name: a\n    type: webhook\n    webhok: {}\n", "r.yaml:4")
	f("receivers:\n  - name: a\n    type: webhook\n    webhook: {url: \"${NOPE_NOT_SET}\"}\n", "NOPE_NOT_SET")
	// goccy/go-yaml v1.19.2 panics on a tagged empty node where a sequence belongs.
	f("receivers:\n  ! 0\n0000000008:", `r.yaml: yaml parser failed on malformed input near line 2 "  ! 0"`)
}

// FuzzParse: no input makes the receivers parser panic, and every error
// names the file. Parse only builds receivers (nothing connects), but a file
// receiver opens its path, so inputs that could name one are skipped.
func FuzzParse(f *testing.F) {
	f.Add([]byte("receivers:\n  - name: log\n    type: file\n    file: {path: \"-\"}\n"))
	f.Add([]byte("receivers:\n  - name: ioc\n    type: webhook\n    webhook: {url: \"http://127.0.0.1:9/alerts\"}\n"))
	f.Add([]byte("receivers:\n  ! 0\n0000000008:"))
	f.Fuzz(func(t *testing.T, data []byte) {
		if bytes.Contains(data, []byte("$")) {
			t.Skip("environment expansion could name a file")
		}
		var pre File
		if yamlsafe.UnmarshalStrict(data, &pre) == nil {
			for _, c := range pre.Receivers {
				if c != nil && c.File != nil && c.File.Path != "" && c.File.Path != "-" {
					t.Skip("would open a file")
				}
			}
		}
		set, err := Parse("fuzz.yaml", data, zerolog.Nop())
		if err != nil {
			if !strings.Contains(err.Error(), "fuzz.yaml") {
				t.Fatalf("error does not name the file: %v", err)
			}
			return
		}
		set.Close()
	})
}

func TestShippedReceivers(t *testing.T) {
	set, err := Load("../../configs/alerting-receivers.yaml", zerolog.Nop())
	if err != nil {
		t.Fatal(err)
	}
	defer set.Close()
	if len(set.Receivers) == 0 || !set.Receivers[0].SMS {
		t.Fatalf("receivers %+v", set.Receivers)
	}
}
