package alerting

import (
	"strings"
	"testing"
)

func TestParseRulesValid(t *testing.T) {
	src := `
rules:
  - name: longbien-flood
    kind: levels
    select: water_level_m{station="HN-LongBien"}
    unit: m
    levels:
      - {name: "Báo động I", above: 9.5, clear: 9.4, severity: warning}
      - {name: "Báo động II", above: 10.5, clear: 10.4, severity: critical}
      - {name: "Báo động III", above: 11.5, clear: 11.4, severity: critical}
  - name: pm25-high
    kind: threshold
    select: pm25_ugm3
    above: 50
    clear: 45
    for: 5m
    message: "{{.StationName}} PM2.5 {{num .Value}} > {{num .Limit}} lúc {{.Time}}"
  - name: offline
    kind: nodata
    select: '{station=~".+"}'
    nodata: 15m
    group_by: [station]
  - name: pm25-24h
    kind: window
    select: pm25_ugm3
    window: 24h
    above: 50
  - name: rising
    kind: rate
    select: water_level_m
    rise: 0.3
  - name: device
    kind: quality
    select: '{station=~".+"}'
  - name: expr
    kind: promql
    expr: avg_over_time(pm25_ugm3[1h]) > 50
`
	rules, err := ParseRules("demo.yaml", []byte(src))
	if err != nil {
		t.Fatal(err)
	}
	if len(rules) != 7 {
		t.Fatalf("got %d rules", len(rules))
	}
	if rules[0].metric != "water_level_m" || len(rules[0].Levels) != 3 || rules[0].Line() != 3 {
		t.Fatalf("rule 0: %+v line %d", rules[0], rules[0].Line())
	}
	if rules[1].forDur.Minutes() != 5 || rules[1].clearLevel() != 45 {
		t.Fatalf("rule 1: %+v", rules[1])
	}
	if rules[4].over.Hours() != 1 || rules[3].window.Hours() != 24 || rules[2].nodata.Minutes() != 15 {
		t.Fatal("durations not parsed")
	}
}

func TestParseRulesErrors(t *testing.T) {
	f := func(src string, want ...string) {
		t.Helper()
		_, err := ParseRules("bad.yaml", []byte(src))
		if err == nil {
			t.Fatalf("no error for\n%s", src)
		}
		for _, w := range want {
			if !strings.Contains(err.Error(), w) {
				t.Fatalf("error %q does not contain %q", err, w)
			}
		}
	}
	f("rules:\n  - name: a\n    kind: thresold\n    select: x\n", "bad.yaml:3: rules[0].kind: unknown kind \"thresold\"")
	f("rules:\n  - name: a\n    kind: threshold\n    select: x\n    above: 5\n    clear: 6\n", "bad.yaml:6: rules[0].clear: clear 6 must be <= above 5")
	f("rules:\n  - name: a\n    kind: threshold\n    select: 'x{a=}'\n    above: 1\n", "bad.yaml:4: rules[0].select")
	f("rules:\n  - name: a\n    kind: threshold\n    select: x\n    abov: 1\n", "bad.yaml:5", "abov")
	f("rules:\n  - name: a\n    kind: threshold\n    select: x\n    above: 1\n    for: 5 minutes\n", "bad.yaml:6: rules[0].for: bad duration")
	f("rules:\n  - name: a\n    kind: levels\n    select: x\n    levels:\n      - {name: I, above: 2}\n      - {name: II, above: 1}\n",
		"bad.yaml:7: rules[0].levels[1].above: levels must go from mildest")
	f("rules:\n  - name: a\n    kind: threshold\n    select: x\n    above: 1\n  - name: a\n    kind: threshold\n    select: y\n    above: 1\n",
		"bad.yaml:6: rules[1].name: rule \"a\" already defined")
	f("rules:\n  - name: a\n    kind: threshold\n    select: x\n    above: 1\n    message: '{{.Nope}}'\n", "bad.yaml:6: rules[0].message: bad template")
	f("rules:\n  - name: a\n    kind: nodata\n    select: x\n", "bad.yaml:2: rules[0].nodata: required")
	f("rules:\n  - name: a\n    kind: window\n    select: x\n    above: 1\n    window: 90m\n", "rules[0].window: must be a whole number of hours")
	f("rules:\n  - name: a\n    kind: threshold\n    select: x\n    above: 1\n    rise: 2\n", "bad.yaml:6: rules[0].rise: not used by kind threshold")
	f("rules: [", "bad.yaml")
	// goccy/go-yaml v1.19.2 panics on a tagged empty node where a sequence belongs.
	f("rules:\n  ! 0\n0000000008:", `bad.yaml: yaml parser failed on malformed input near line 2 "  ! 0"`)
	f("rules:\n !0 #0000000000000000000000000000000000000000000000000000000000000", "bad.yaml: yaml parser failed on malformed input")
	f("", "no rules")
}
