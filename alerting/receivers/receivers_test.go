package receivers

import (
	"strings"
	"testing"
	"time"

	"github.com/rs/zerolog"
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
