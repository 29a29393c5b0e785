package datafile

import (
	"fmt"
	"sort"
	"strings"

	"github.com/quantrac/quantrac/model"
)

// Unit is a unit accepted for a metric and the factor that converts a value
// in it to the metric's own unit.
type Unit struct {
	Name   string
	Factor float64
}

// Parameter says which metric a file's parameter name stands for.
type Parameter struct {
	// Metric is the series name, e.g. pm25_ugm3.
	Metric string
	// HydroMetric, when set, replaces Metric for hydrological stations
	// (a "Temp" line of a river station is the water temperature).
	HydroMetric string
}

// metricUnits lists the units accepted per metric (names normalised by
// normUnit); the first has factor 1. An empty unit field means the first.
var metricUnits = map[string][]Unit{}

func init() {
	mgl := []Unit{{"mg/l", 1}, {"g/m3", 1}, {"ug/l", 0.001}}
	ugm3 := []Unit{{"ug/m3", 1}, {"ug/nm3", 1}, {"mg/m3", 1000}, {"mg/nm3", 1000}}
	degC := []Unit{{"c", 1}}
	for _, m := range []string{"do_mgl", "tss_mgl", "cod_mgl", "nh4_mgl"} {
		metricUnits[m] = mgl
	}
	for _, m := range []string{"pm25_ugm3", "pm10_ugm3", "co_ugm3", "no2_ugm3", "so2_ugm3", "o3_ugm3"} {
		metricUnits[m] = ugm3
	}
	for _, m := range []string{"temperature_c", "water_temperature_c", "dew_point_c"} {
		metricUnits[m] = degC
	}
	metricUnits["ph"] = []Unit{{"ph", 1}, {"-", 1}}
	metricUnits["humidity_percent"] = []Unit{{"%", 1}, {"%rh", 1}}
	metricUnits["pressure_hpa"] = []Unit{{"hpa", 1}, {"mbar", 1}, {"kpa", 10}, {"pa", 0.01}, {"mmhg", 1.333223684}}
	metricUnits["wind_speed_ms"] = []Unit{{"m/s", 1}, {"km/h", 1 / 3.6}}
	metricUnits["wind_direction_deg"] = []Unit{{"deg", 1}}
	metricUnits["water_level_m"] = []Unit{{"m", 1}, {"cm", 0.01}, {"mm", 0.001}}
	metricUnits["rainfall_mm"] = []Unit{{"mm", 1}, {"cm", 10}}
}

// DefaultParameters maps parameter names seen in datalogger files
// (normalised by normParam: lower case, without spaces, '-', '_' and '.')
// to metrics. Every metric name is also accepted as itself.
var DefaultParameters = map[string]Parameter{
	"ph":            {Metric: "ph"},
	"do":            {Metric: "do_mgl"},
	"tss":           {Metric: "tss_mgl"},
	"cod":           {Metric: "cod_mgl"},
	"nh4":           {Metric: "nh4_mgl"},
	"nh4+":          {Metric: "nh4_mgl"},
	"nnh4":          {Metric: "nh4_mgl"},
	"nnh4+":         {Metric: "nh4_mgl"},
	"amoni":         {Metric: "nh4_mgl"},
	"pm25":          {Metric: "pm25_ugm3"},
	"pm10":          {Metric: "pm10_ugm3"},
	"co":            {Metric: "co_ugm3"},
	"no2":           {Metric: "no2_ugm3"},
	"so2":           {Metric: "so2_ugm3"},
	"o3":            {Metric: "o3_ugm3"},
	"temp":          {Metric: "temperature_c", HydroMetric: "water_temperature_c"},
	"temperature":   {Metric: "temperature_c", HydroMetric: "water_temperature_c"},
	"nhiệtđộ":       {Metric: "temperature_c", HydroMetric: "water_temperature_c"},
	"watertemp":     {Metric: "water_temperature_c"},
	"tempwater":     {Metric: "water_temperature_c"},
	"rh":            {Metric: "humidity_percent"},
	"humidity":      {Metric: "humidity_percent"},
	"độẩm":          {Metric: "humidity_percent"},
	"pressure":      {Metric: "pressure_hpa"},
	"press":         {Metric: "pressure_hpa"},
	"ápsuất":        {Metric: "pressure_hpa"},
	"ws":            {Metric: "wind_speed_ms"},
	"windspeed":     {Metric: "wind_speed_ms"},
	"wd":            {Metric: "wind_direction_deg"},
	"winddir":       {Metric: "wind_direction_deg"},
	"winddirection": {Metric: "wind_direction_deg"},
	"dewpoint":      {Metric: "dew_point_c"},
	"waterlevel":    {Metric: "water_level_m"},
	"level":         {Metric: "water_level_m"},
	"h":             {Metric: "water_level_m"},
	"mựcnước":       {Metric: "water_level_m"},
	"mucnuoc":       {Metric: "water_level_m"},
	"rain":          {Metric: "rainfall_mm"},
	"rainfall":      {Metric: "rainfall_mm"},
	"lượngmưa":      {Metric: "rainfall_mm"},
	"luongmua":      {Metric: "rainfall_mm"},
}

func init() {
	for m := range metricUnits {
		DefaultParameters[normParam(m)] = Parameter{Metric: m}
	}
}

// normParam normalises a parameter name for lookup.
func normParam(s string) string {
	s = strings.ToLower(strings.TrimSpace(s))
	return strings.Map(func(r rune) rune {
		switch r {
		case ' ', '-', '_', '.', '\t':
			return -1
		}
		return r
	}, s)
}

// normUnit normalises a unit for comparison: lower case, no spaces, µ as u,
// ³ as 3, degrees Celsius as "c" and degrees as "deg".
func normUnit(s string) string {
	s = strings.ToLower(strings.TrimSpace(s))
	s = strings.Map(func(r rune) rune {
		switch r {
		case ' ', '\t':
			return -1
		case 'µ', 'μ':
			return 'u'
		case '³':
			return '3'
		case 'º':
			return '°'
		}
		return r
	}, s)
	switch s {
	case "°c", "oc", "degc", "độc", "celsius":
		return "c"
	case "°", "độ", "degree", "degrees":
		return "deg"
	case "ph", "-", "":
		return s
	}
	return s
}

// resolveParam finds the metric and the unit factor of one reading.
func resolveParam(params map[string]Parameter, name, unit, kind string) (metric string, factor float64, err error) {
	p, ok := params[normParam(name)]
	if !ok {
		return "", 0, fmt.Errorf("unknown parameter %q", name)
	}
	metric = p.Metric
	if kind == model.KindHydrological && p.HydroMetric != "" {
		metric = p.HydroMetric
	}
	units, ok := metricUnits[metric]
	if !ok { // a metric configured by the caller without a unit table: any unit
		return metric, 1, nil
	}
	u := normUnit(unit)
	if u == "" {
		return metric, 1, nil
	}
	for _, cand := range units {
		if cand.Name == u {
			return metric, cand.Factor, nil
		}
	}
	var names []string
	for _, cand := range units {
		names = append(names, cand.Name)
	}
	sort.Strings(names)
	return "", 0, fmt.Errorf("unit %q for %s (%s): want one of %s", unit, name, metric, strings.Join(names, ", "))
}
