package simulator

import (
	"fmt"
	"strings"
)

// Generated station ids: GEN-<transport>-<number>.
const (
	genModbusPrefix = "GEN-MB-"
	genMQTTPrefix   = "GEN-MQ-"
	genTXTPrefix    = "GEN-TX-"
)

func isGeneratedID(id string) bool {
	return strings.HasPrefix(id, genModbusPrefix) || strings.HasPrefix(id, genMQTTPrefix) || strings.HasPrefix(id, genTXTPrefix)
}

// province is a province with the approximate centre of its monitoring
// network.
type province struct {
	Code, Name string
	Lat, Lon   float64
}

// provinces used for generated stations.
var provinces = []province{
	{"HN", "Hà Nội", 21.028, 105.834},
	{"HP", "Hải Phòng", 20.845, 106.688},
	{"QN", "Quảng Ninh", 20.951, 107.080},
	{"BN", "Bắc Ninh", 21.186, 106.076},
	{"HD", "Hải Dương", 20.938, 106.330},
	{"TB", "Thái Bình", 20.446, 106.342},
	{"ND", "Nam Định", 20.434, 106.177},
	{"NB", "Ninh Bình", 20.251, 105.975},
	{"VP", "Vĩnh Phúc", 21.309, 105.604},
	{"PT", "Phú Thọ", 21.322, 105.402},
	{"TN", "Thái Nguyên", 21.594, 105.848},
	{"TH", "Thanh Hóa", 19.807, 105.776},
	{"DN", "Đà Nẵng", 16.054, 108.202},
	{"CT", "Cần Thơ", 10.045, 105.747},
	{"HCM", "TP. Hồ Chí Minh", 10.776, 106.701},
}

var genKinds = []string{"hydrological", "air", "weather"}

var kindNames = map[string]string{
	"hydrological": "Trạm thủy văn",
	"air":          "Trạm quan trắc không khí",
	"weather":      "Trạm khí tượng",
}

// kindForMetrics guesses a station kind from the metrics of a map.
func kindForMetrics(metrics []string) string {
	for _, m := range metrics {
		switch m {
		case "water_level_m", "ph", "do_mgl", "tss_mgl", "cod_mgl", "nh4_mgl", "water_temperature_c":
			return "hydrological"
		case "pm25_ugm3", "pm10_ugm3", "co_ugm3", "no2_ugm3", "so2_ugm3", "o3_ugm3":
			return "air"
		}
	}
	return "weather"
}

// generated returns the stations of cfg. mapNames are the maps to cycle
// through, mapMetrics the metrics of each (to pick a kind).
func generated(seed int64, cfg GenerateConfig, mapNames []string, mapMetrics map[string][]string) ([]StationConfig, error) {
	var out []StationConfig
	if cfg.Modbus > 0 && len(mapNames) == 0 {
		return nil, fmt.Errorf("generate: %d modbus stations but no register map", cfg.Modbus)
	}
	formats := cfg.Formats
	if len(formats) == 0 {
		formats = []string{FormatJSON, FormatNumber, FormatSenML}
	}
	timeFormats := []string{TimeRFC3339, TimeUnix, TimeUnixMs}
	key := newNoiseKey(seed, "generate")
	place := func(i int, id string) (province, float64, float64) {
		p := provinces[i%len(provinces)]
		k := int64(hashString(id))
		return p, round(p.Lat+(key.unit(k)-0.5)*0.6, 4), round(p.Lon+(key.unit(k+1)-0.5)*0.6, 4)
	}
	for i := 0; i < cfg.Modbus; i++ {
		id := fmt.Sprintf("%s%04d", genModbusPrefix, i+1)
		m := mapNames[i%len(mapNames)]
		kind := kindForMetrics(mapMetrics[m])
		p, lat, lon := place(i, id)
		out = append(out, StationConfig{
			ID: id, Name: fmt.Sprintf("%s %s %d", kindNames[kind], p.Name, i+1), Kind: kind, Province: p.Code,
			Lat: lat, Lon: lon, Transport: TransportModbus, Map: m,
		})
	}
	for i := 0; i < cfg.MQTT; i++ {
		id := fmt.Sprintf("%s%04d", genMQTTPrefix, i+1)
		kind := genKinds[i%len(genKinds)]
		p, lat, lon := place(i, id)
		out = append(out, StationConfig{
			ID: id, Name: fmt.Sprintf("%s %s %d", kindNames[kind], p.Name, i+1), Kind: kind, Province: p.Code,
			Lat: lat, Lon: lon, Transport: TransportMQTT, Format: formats[i%len(formats)],
			TimeFormat: timeFormats[(i/len(formats))%len(timeFormats)],
		})
	}
	for i := 0; i < cfg.TXT; i++ {
		id := fmt.Sprintf("%s%04d", genTXTPrefix, i+1)
		kind := genKinds[i%len(genKinds)]
		p, lat, lon := place(i, id)
		out = append(out, StationConfig{
			ID: id, Name: fmt.Sprintf("%s %s %d", kindNames[kind], p.Name, i+1), Kind: kind, Province: p.Code,
			Lat: lat, Lon: lon, Transport: TransportTXT,
		})
	}
	for i := range out {
		if err := out[i].normalize(); err != nil {
			return nil, fmt.Errorf("generated station %s: %w", out[i].ID, err)
		}
	}
	return out, nil
}
