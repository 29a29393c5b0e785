package standards

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestFloodLevels(t *testing.T) {
	tab, err := NewFloodTable()
	if err != nil {
		t.Fatal(err)
	}
	f := func(id string, v float64, want int) {
		t.Helper()
		got, ok := tab.Level(id, v)
		if !ok || got != want {
			t.Errorf("%s at %v m: level %d, %v; want %d", id, v, got, ok, want)
		}
	}
	f("HN-LongBien", 9.49, 0)
	f("HN-LongBien", 9.5, 1)
	f("HN-LongBien", 10.49, 1)
	f("HN-LongBien", 10.5, 2)
	f("HN-LongBien", 11.5, 3)
	f("HN-LongBien", 14, 3)
	f("AG-TanChau", 3.65, 1)
	f("AG-ChauDoc", 2.8, 0)
	f("HUE-KimLong", 2.56, 2)
	f("HUE-KimLong", 3.5, 3)
	if _, ok := tab.Level("nowhere", 1); ok {
		t.Error("unknown station must not have levels")
	}
	for _, s := range FloodStations {
		if err := s.Validate(); err != nil || s.Source == "" {
			t.Errorf("%s: %v, source %q", s.Station, err, s.Source)
		}
	}
}

func TestParseFloodStations(t *testing.T) {
	good := `
stations:
  - station: QB-LeThuy
    name: Lệ Thủy
    river: Sông Kiến Giang
    province: QB
    levels: [1.2, 2.2, 2.7]
    source: Decision 05/2020/QĐ-TTg, appendix
  - station: HN-LongBien
    name: Long Biên
    river: Sông Hồng
    levels: [9.6, 10.6, 11.6]
    source: local override
`
	dir := t.TempDir()
	p := filepath.Join(dir, "flood.yaml")
	if err := os.WriteFile(p, []byte(good), 0o644); err != nil {
		t.Fatal(err)
	}
	tab, err := LoadFloodTable(p)
	if err != nil {
		t.Fatal(err)
	}
	if l, _ := tab.Level("QB-LeThuy", 2.3); l != 2 {
		t.Errorf("Lệ Thủy 2.3 m: %d", l)
	}
	if l, _ := tab.Level("HN-LongBien", 9.55); l != 0 {
		t.Errorf("override not applied: %d", l)
	}
	if n := len(tab.Stations()); n != len(FloodStations)+1 {
		t.Errorf("%d stations", n)
	}

	bad := map[string]string{
		"not rising":  "stations:\n  - station: X\n    levels: [2, 1, 3]\n",
		"no id":       "stations:\n  - levels: [1, 2, 3]\n",
		"unknown key": "stations:\n  - station: X\n    levels: [1, 2, 3]\n    level4: 5\n",
		"duplicate":   "stations:\n  - station: X\n    levels: [1, 2, 3]\n  - station: X\n    levels: [1, 2, 3]\n",
		"syntax":      "stations: [",
		"empty":       "",
		// goccy/go-yaml v1.19.2 panics on a tagged empty node where a sequence belongs.
		"parser panic": "stations:\n  ! 0\n0000000008:",
		"levels panic": "stations:\n  - station: X\n    levels:\n      ! 0\n0000000008:",
	}
	for name, text := range bad {
		_, err := ParseFloodStations([]byte(text), "bad.yaml")
		if err == nil || !strings.Contains(err.Error(), "bad.yaml") {
			t.Errorf("%s: err = %v; want an error naming the file", name, err)
		}
	}
	if _, err := ParseFloodStations([]byte(bad["parser panic"]), "bad.yaml"); err == nil ||
		!strings.Contains(err.Error(), `flood levels bad.yaml: yaml parser failed on malformed input near line 2 "  ! 0"`) {
		t.Errorf("parser panic: %v", err)
	}
	if _, err := LoadFloodTable(filepath.Join(dir, "missing.yaml")); err == nil {
		t.Error("missing file must fail")
	}
}

// FuzzParseFloodStations: no input makes the flood file parser panic, and
// every error names the file.
func FuzzParseFloodStations(f *testing.F) {
	f.Add([]byte("stations:\n  - station: X\n    levels: [1, 2, 3]\n"))
	f.Add([]byte("stations:\n  ! 0\n0000000008:"))
	if data, err := os.ReadFile(filepath.Join("..", "configs", "standards-flood-stations.example.yaml")); err == nil {
		f.Add(data)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		if _, err := ParseFloodStations(data, "fuzz.yaml"); err != nil && !strings.Contains(err.Error(), "fuzz.yaml") {
			t.Fatalf("error does not name the file: %v", err)
		}
	})
}

// The example config shipped in configs/ parses.
func TestFloodExampleConfig(t *testing.T) {
	tab, err := LoadFloodTable(filepath.Join("..", "configs", "standards-flood-stations.example.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := tab.Station("XX-Example"); !ok {
		t.Error("example station missing")
	}
}
