package standards

import (
	"fmt"
	"strings"
)

// Pollutant is one of the six parameters VN_AQI is computed from
// (Decision 1459/QĐ-TCMT, section 2.1.b): PM2.5, PM10, O3, CO, SO2, NO2.
type Pollutant uint8

// The VN_AQI pollutants, in the order used to break ties for the dominant one.
const (
	PM25 Pollutant = iota
	PM10
	O3
	CO
	SO2
	NO2
	numPollutants
)

// OverallLabel is the value of the pollutant label on the overall index series.
const OverallLabel = "overall"

var pollutantInfo = [numPollutants]struct {
	label  string // value of the pollutant label on aqi_vn series
	metric string // input series name (µg/m³)
	name   string // display name
}{
	PM25: {"pm25", "pm25_ugm3", "PM2.5"},
	PM10: {"pm10", "pm10_ugm3", "PM10"},
	O3:   {"o3", "o3_ugm3", "O3"},
	CO:   {"co", "co_ugm3", "CO"},
	SO2:  {"so2", "so2_ugm3", "SO2"},
	NO2:  {"no2", "no2_ugm3", "NO2"},
}

// Pollutants lists every VN_AQI pollutant in tie-break order.
func Pollutants() []Pollutant {
	return []Pollutant{PM25, PM10, O3, CO, SO2, NO2}
}

// String returns the label value used on derived series ("pm25", "o3", ...).
func (p Pollutant) String() string {
	if p < numPollutants {
		return pollutantInfo[p].label
	}
	return fmt.Sprintf("Pollutant(%d)", uint8(p))
}

// Metric returns the name of the input series, in µg/m³ ("pm25_ugm3", ...).
func (p Pollutant) Metric() string {
	if p < numPollutants {
		return pollutantInfo[p].metric
	}
	return ""
}

// Name returns the display name ("PM2.5", "O3", ...).
func (p Pollutant) Name() string {
	if p < numPollutants {
		return pollutantInfo[p].name
	}
	return p.String()
}

// IsPM reports whether p is PM2.5 or PM10, the parameters VN_AQI cannot do without.
func (p Pollutant) IsPM() bool { return p == PM25 || p == PM10 }

// ParsePollutant accepts a label ("pm25"), a metric ("pm25_ugm3") or a display
// name ("PM2.5"), case-insensitively.
func ParsePollutant(s string) (Pollutant, error) {
	t := strings.ToLower(strings.TrimSpace(s))
	for p := Pollutant(0); p < numPollutants; p++ {
		in := pollutantInfo[p]
		if t == in.label || t == in.metric || t == strings.ToLower(in.name) {
			return p, nil
		}
	}
	return 0, fmt.Errorf("unknown pollutant %q: want one of pm25, pm10, o3, co, so2, no2", s)
}

// PollutantForMetric maps an input series name to its pollutant.
func PollutantForMetric(metric string) (Pollutant, bool) {
	for p := Pollutant(0); p < numPollutants; p++ {
		if pollutantInfo[p].metric == metric {
			return p, true
		}
	}
	return 0, false
}
