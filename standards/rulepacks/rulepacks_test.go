package rulepacks

import (
	"bytes"
	"math"
	"os"
	"path/filepath"
	"testing"

	"github.com/quantrac/quantrac/alerting"
	"github.com/quantrac/quantrac/standards"
)

// rulesDir is the repository's rules directory, relative to this package.
var rulesDir = filepath.Join("..", "..", "configs", "rules")

// Every pack loads through the alerting parser without an error.
func TestPacksParse(t *testing.T) {
	want := map[string]int{
		AirFile:   13, // Bảng 1 without the 5 annual limits
		WaterFile: 10, // 9 parameters, pH as two rules
		FloodFile: len(standards.FloodStations),
		AQIFile:   2,
	}
	for _, p := range Packs() {
		rules, err := alerting.ParseRules(p.Name, p.Data)
		if err != nil {
			t.Errorf("%s: %v", p.Name, err)
			continue
		}
		if len(rules) != want[p.Name] {
			t.Errorf("%s: %d rules; want %d", p.Name, len(rules), want[p.Name])
		}
	}
}

// The packs load together (names unique across files) through LoadRules.
func TestPacksLoadTogether(t *testing.T) {
	dir := t.TempDir()
	if err := Write(dir, Packs()); err != nil {
		t.Fatal(err)
	}
	rules, err := alerting.LoadRules(dir)
	if err != nil {
		t.Fatal(err)
	}
	byName := map[string]*alerting.Rule{}
	for _, r := range rules {
		byName[r.Name] = r
	}
	// Limits survive the YAML round trip exactly: the PM2.5 24 h limit of
	// 2026 fires strictly above 45 µg/m³, and the old one is disabled.
	r := byName["qcvn05_2023_pm25_ugm3_24h_from2026"]
	if r == nil || r.Above == nil || *r.Above != math.Nextafter(45, 100) || r.Disabled || r.Window != "24h" {
		t.Errorf("PM2.5 2026 rule: %+v", r)
	}
	if r := byName["qcvn05_2023_pm25_ugm3_24h_until2026"]; r == nil || !r.Disabled || *r.Above != math.Nextafter(50, 100) {
		t.Errorf("PM2.5 until 2026 rule: %+v", r)
	}
	// Long Biên: 9.5 / 10.5 / 11.5 m.
	f := byName["flood_hn_longbien"]
	if f == nil || len(f.Levels) != 3 || *f.Levels[0].Above != 9.5 || *f.Levels[1].Above != 10.5 || *f.Levels[2].Above != 11.5 {
		t.Errorf("Long Biên rule: %+v", f)
	}
	// DO falls to class D strictly below 4.0 mg/L.
	d := byName["qcvn08_2023_do_mgl"]
	if d == nil || len(d.Levels) != 3 || d.Levels[2].Below == nil || *d.Levels[2].Below != math.Nextafter(4, 0) {
		t.Errorf("DO rule: %+v", d)
	}
}

// The committed files are what the tables give; regenerate with
// `go run ./cmd/rulepacks` (or go generate ./standards/rulepacks).
func TestPacksUpToDate(t *testing.T) {
	for _, p := range Packs() {
		have, err := os.ReadFile(filepath.Join(rulesDir, p.Name))
		if err != nil {
			t.Errorf("%v: run go run ./cmd/rulepacks", err)
			continue
		}
		if !bytes.Equal(have, p.Data) {
			t.Errorf("%s is stale: run go run ./cmd/rulepacks", p.Name)
		}
	}
}

func TestFloodLocalPack(t *testing.T) {
	extra := []standards.FloodStation{{Station: "QB-LeThuy", Name: "Lệ Thủy", River: "Sông Kiến Giang", Levels: [3]float64{1.2, 2.2, 2.7}, Source: "test"}}
	rules, err := alerting.ParseRules(FloodLocalFile, FloodPack(extra, true))
	if err != nil || len(rules) != 1 || rules[0].Name != "flood_qb_lethuy" {
		t.Fatalf("%v %+v", err, rules)
	}
}

// Water-quality rules wait before firing and clear back inside the limit:
// without both, a reading hovering at a class limit sent an SMS at every
// crossing (found in the demo: COD at 10 mg/L fired and resolved every 5 s).
func TestWaterPackNoStorm(t *testing.T) {
	rules, err := alerting.ParseRules(WaterFile, WaterPack())
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range rules {
		if r.For != waterFor {
			t.Errorf("%s: for %q, want %q", r.Name, r.For, waterFor)
		}
		check := func(what string, limit, clear *float64, upper bool) {
			if limit == nil {
				return
			}
			if clear == nil {
				t.Errorf("%s %s: no clear level", r.Name, what)
				return
			}
			if upper && !(*clear < *limit) || !upper && !(*clear > *limit) {
				t.Errorf("%s %s: clear %v is not inside limit %v", r.Name, what, *clear, *limit)
			}
		}
		check("above", r.Above, r.Clear, true)
		check("below", r.Below, r.Clear, false)
		for _, l := range r.Levels {
			check(l.Name+" above", l.Above, l.Clear, true)
			check(l.Name+" below", l.Below, l.Clear, false)
		}
	}
}
