package alerting

import (
	"testing"
	"time"
)

// The shipped configuration loads: every rule file (ours and the generated
// packs), the demo roster.
func TestShippedConfigs(t *testing.T) {
	rules, err := LoadRules("../configs/rules")
	if err != nil {
		t.Fatal(err)
	}
	names := map[string]bool{}
	for _, r := range rules {
		names[r.Name] = true
	}
	for _, n := range []string{"demo_longbien_rising", "demo_pm25_peak", "demo_station_offline", "demo_device_error"} {
		if !names[n] {
			t.Fatalf("rule %s missing", n)
		}
	}
	r, err := LoadRoster("../configs/oncall.yaml")
	if err != nil {
		t.Fatal(err)
	}
	at := time.Date(2027, 1, 1, 10, 0, 0, 0, r.Location())
	if d := r.OnDuty("thuy-van", at); len(d.People) != 2 || d.Reason == "" {
		t.Fatalf("holiday override: %+v", d)
	}
	if got := r.Route(map[string]string{"__name__": "water_level_m", "kind": "weather"}); got != "thuy-van" {
		t.Fatalf("route rainfall: %s", got)
	}
}
