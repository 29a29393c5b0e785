package standards

import (
	"bytes"
	"errors"
	"fmt"
	"math"
	"os"
	"sort"

	"github.com/quantrac/quantrac/yamlsafe"
)

const decision05 = "Decision 05/2020/QĐ-TTg"

// FloodStation holds the water levels of the three flood alarm levels
// (cấp báo động I, II, III) at one hydrological station.
type FloodStation struct {
	Station  string     `yaml:"station"`            // quantrac station id
	Name     string     `yaml:"name"`               // gauge name, Vietnamese
	River    string     `yaml:"river"`              // river name, Vietnamese
	Province string     `yaml:"province,omitempty"` // province code
	Levels   [3]float64 `yaml:"levels"`             // alarm I, II, III in metres, gauge datum
	Source   string     `yaml:"source"`             // clause cited
	Note     string     `yaml:"note,omitempty"`     // what is not confirmed
}

// Level returns the alarm level reached by a water level: 0 below alarm I,
// else 1, 2 or 3 (a level is reached when the water is at or above it).
func (s FloodStation) Level(waterLevel float64) int {
	n := 0
	for k, l := range s.Levels {
		if waterLevel >= l {
			n = k + 1
		}
	}
	return n
}

// Validate checks the levels rise strictly and the station is named.
func (s FloodStation) Validate() error {
	if s.Station == "" {
		return errors.New("station id is empty")
	}
	for k, l := range s.Levels {
		if math.IsNaN(l) || math.IsInf(l, 0) {
			return fmt.Errorf("station %s: alarm level %s is not a number", s.Station, roman(k+1))
		}
		if k > 0 && l <= s.Levels[k-1] {
			return fmt.Errorf("station %s: alarm level %s (%v m) is not above level %s (%v m)",
				s.Station, roman(k+1), l, roman(k), s.Levels[k-1])
		}
	}
	return nil
}

func roman(k int) string { return [...]string{"", "I", "II", "III"}[k] }

// FloodStations are the alarm levels built into quantrac. Water levels are
// in metres in the gauge's datum as the decision states them (the national
// elevation datum for these gauges); a station's water_level_m series must
// report in the same datum.
//
// Long Biên (9.5 / 10.5 / 11.5 m) is as the decision's appendix gives it and
// matches 2024 bulletins; Kim Long matches flood bulletins of 2020-2025 for
// all three levels. For Tân Châu and Châu Đốc, level I matches a 2020
// bulletin and levels II and III match bulletins from before the decision
// (Note says so): check them against the appendix of Decision
// 05/2020/QĐ-TTg before relying on them.
var FloodStations = []FloodStation{
	{
		Station: "HN-LongBien", Name: "Long Biên", River: "Sông Hồng", Province: "HN",
		Levels: [3]float64{9.5, 10.5, 11.5},
		Source: decision05 + ", appendix (Bắc Bộ, sông Hồng tại Hà Nội)",
	},
	{
		Station: "AG-TanChau", Name: "Tân Châu", River: "Sông Tiền", Province: "AG",
		Levels: [3]float64{3.5, 4.0, 4.5},
		Source: decision05 + ", appendix (Nam Bộ, sông Tiền tại Tân Châu)",
		Note:   "I (3.5 m) matches a bulletin of 28 Sep 2020; II (4.0 m) and III (4.5 m) match bulletins issued before 2020, under the previous decision",
	},
	{
		Station: "AG-ChauDoc", Name: "Châu Đốc", River: "Sông Hậu", Province: "AG",
		Levels: [3]float64{3.0, 3.5, 4.0},
		Source: decision05 + ", appendix (Nam Bộ, sông Hậu tại Châu Đốc)",
		Note:   "I (3.0 m) matches a bulletin of 28 Sep 2020; II (3.5 m) and III (4.0 m) match bulletins issued before 2020, under the previous decision",
	},
	{
		Station: "HUE-KimLong", Name: "Kim Long", River: "Sông Hương", Province: "HUE",
		Levels: [3]float64{1.0, 2.0, 3.5},
		Source: decision05 + ", appendix (Trung Bộ, sông Hương tại Kim Long)",
	},
}

// FloodTable looks up alarm levels by station id.
type FloodTable struct {
	byID map[string]FloodStation
}

// NewFloodTable returns the built-in stations plus extra ones; an extra
// entry with the id of a built-in replaces it.
func NewFloodTable(extra ...FloodStation) (*FloodTable, error) {
	t := &FloodTable{byID: make(map[string]FloodStation)}
	for _, s := range FloodStations {
		t.byID[s.Station] = s
	}
	for i, s := range extra {
		if err := s.Validate(); err != nil {
			return nil, fmt.Errorf("flood station %d: %w", i, err)
		}
		t.byID[s.Station] = s
	}
	return t, nil
}

// Station returns the alarm levels of a station.
func (t *FloodTable) Station(id string) (FloodStation, bool) {
	s, ok := t.byID[id]
	return s, ok
}

// Level returns the alarm level (0-3) of a water level at a station; ok is
// false for a station without alarm levels.
func (t *FloodTable) Level(id string, waterLevel float64) (level int, ok bool) {
	s, ok := t.byID[id]
	if !ok {
		return 0, false
	}
	return s.Level(waterLevel), true
}

// Stations lists every station, sorted by id.
func (t *FloodTable) Stations() []FloodStation {
	out := make([]FloodStation, 0, len(t.byID))
	for _, s := range t.byID {
		out = append(out, s)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Station < out[j].Station })
	return out
}

// floodFile is the YAML shape of a flood levels file.
type floodFile struct {
	Stations []FloodStation `yaml:"stations"`
}

// ParseFloodStations reads extra stations from YAML:
//
//	stations:
//	  - station: QB-LeThuy
//	    name: Lệ Thủy
//	    river: Sông Kiến Giang
//	    province: QB
//	    levels: [1.2, 2.2, 2.7]   # alarm I, II, III, metres
//	    source: Decision 05/2020/QĐ-TTg, appendix
//
// Unknown keys are errors; name is used in messages.
func ParseFloodStations(data []byte, name string) ([]FloodStation, error) {
	var f floodFile
	if len(bytes.TrimSpace(data)) == 0 {
		return nil, fmt.Errorf("flood levels %s: file is empty", name)
	}
	if err := yamlsafe.UnmarshalStrict(data, &f); err != nil {
		return nil, fmt.Errorf("flood levels %s: %w", name, err)
	}
	seen := map[string]bool{}
	for i, s := range f.Stations {
		if err := s.Validate(); err != nil {
			return nil, fmt.Errorf("flood levels %s: stations[%d]: %w", name, i, err)
		}
		if seen[s.Station] {
			return nil, fmt.Errorf("flood levels %s: stations[%d]: station %s listed twice", name, i, s.Station)
		}
		seen[s.Station] = true
	}
	return f.Stations, nil
}

// LoadFloodTable builds a table from the built-in stations plus those of a
// YAML file (path "" means built-ins only).
func LoadFloodTable(path string) (*FloodTable, error) {
	if path == "" {
		return NewFloodTable()
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("flood levels: %w", err)
	}
	extra, err := ParseFloodStations(data, path)
	if err != nil {
		return nil, err
	}
	return NewFloodTable(extra...)
}
