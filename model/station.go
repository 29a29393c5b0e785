package model

// Station kinds.
const (
	KindHydrological = "hydrological"
	KindAir          = "air"
	KindWeather      = "weather"
)

// Label names every driver sets on the series it produces, so that the api,
// alerting and dashboard can group by them.
const (
	LabelStation  = "station"
	LabelProvince = "province"
	LabelKind     = "kind"
)

// Station describes one monitoring station.
type Station struct {
	ID         string   `json:"id" yaml:"id"`
	Name       string   `json:"name" yaml:"name"` // Vietnamese, UTF-8
	Kind       string   `json:"kind" yaml:"kind"` // KindHydrological, KindAir or KindWeather
	Province   string   `json:"province" yaml:"province"`
	Lat        float64  `json:"lat" yaml:"lat"`
	Lon        float64  `json:"lon" yaml:"lon"`
	Parameters []string `json:"parameters,omitempty" yaml:"parameters,omitempty"` // metric names it reports
}
