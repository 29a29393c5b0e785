package mqtt

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/goccy/go-yaml"
)

// exampleConfig is the shape of the `mqtt:` section of the collector
// config, as far as the example files use it.
type exampleConfig struct {
	MQTT struct {
		Broker        string         `yaml:"broker"`
		Username      string         `yaml:"username"`
		Password      string         `yaml:"password"`
		ClientID      string         `yaml:"client_id"`
		QoS           *byte          `yaml:"qos"`
		MaxInFlight   int            `yaml:"max_in_flight"`
		Subscriptions []Subscription `yaml:"subscriptions"`
	} `yaml:"mqtt"`
}

// TestExampleConfigs parses the documented examples in configs/mqtt and
// builds a subscriber from each, so they cannot rot.
func TestExampleConfigs(t *testing.T) {
	files, err := filepath.Glob(filepath.Join("..", "..", "configs", "mqtt", "*.yaml"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no example configs: %v", err)
	}
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		var c exampleConfig
		if err := yaml.UnmarshalWithOptions(data, &c, yaml.Strict()); err != nil {
			t.Errorf("%s: %v", f, err)
			continue
		}
		m := c.MQTT
		if _, err := New(Options{Brokers: []string{m.Broker}, ClientID: m.ClientID, Username: m.Username, Password: m.Password,
			QoS: m.QoS, MaxInFlight: m.MaxInFlight, Subscriptions: m.Subscriptions}, newCollector(false).handle); err != nil {
			t.Errorf("%s: %v", f, err)
		}
	}
}

// TestExampleJSONPath decodes the payload shown in hydro-station.yaml.
func TestExampleJSONPath(t *testing.T) {
	data, err := os.ReadFile(filepath.Join("..", "..", "configs", "mqtt", "hydro-station.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var c exampleConfig
	if err := yaml.Unmarshal(data, &c); err != nil {
		t.Fatal(err)
	}
	pm := c.MQTT.Subscriptions[1].Mapping
	got, err := pm.Decode(nil, []byte(`{"device":"HP-CauRao","ts":1795568400000,"state":{"code":"00"},"data":{"wl":2.35,"rain":0.4,"temp":24.3}}`), testMeta())
	checkDecode(t, "example", got, err,
		`rainfall_mm{station="HP-CauRao"}@2026-11-25T01:00:00Z=0.4/00 water_level_m{station="HP-CauRao"}@2026-11-25T01:00:00Z=2.35/00 water_temperature_c{station="HP-CauRao"}@2026-11-25T01:00:00Z=24.3/00`, "")
}
