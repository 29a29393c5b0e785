package api

import (
	"os"
	"strings"
	"testing"
	"time"

	"github.com/goccy/go-yaml"
)

func TestConfigFileParses(t *testing.T) {
	data, err := os.ReadFile("../configs/api.yaml")
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := ParseConfig(data, "configs/api.yaml")
	if err != nil {
		t.Fatal(err)
	}
	d := DefaultConfig()
	if cfg.HTTP != d.HTTP || cfg.Limits.MaxRawRange != 92*24*time.Hour || cfg.Stations.StaleAfter != 30*time.Minute {
		t.Fatalf("configs/api.yaml differs from the defaults: %+v", cfg)
	}
}

func TestConfigErrors(t *testing.T) {
	f := func(yaml, want string) {
		t.Helper()
		_, err := ParseConfig([]byte(yaml), "test.yaml")
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Fatalf("config %q: got error %v, want one containing %q", yaml, err, want)
		}
	}
	f("htp: x\n", "htp")
	f("storage: mysql\n", "want tsdb or victoriametrics")
	f("storage: victoriametrics\n", "url is required")
	f("timezone: Mars/Base\n", "Mars/Base")
	f("limits: {max_points: -1}\n", "max_points")
	f("tls: {cert_file: a.pem}\n", "both")
	f("stations: {stale_after: 2h, offline_after: 1h}\n", "offline_after")
}

func TestGrafanaProvisioningParses(t *testing.T) {
	data, err := os.ReadFile("../configs/api-grafana-datasource.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var f struct {
		Datasources []struct {
			Type string `yaml:"type"`
			URL  string `yaml:"url"`
		} `yaml:"datasources"`
	}
	if err := yaml.Unmarshal(data, &f); err != nil {
		t.Fatal(err)
	}
	if len(f.Datasources) != 1 || f.Datasources[0].Type != "prometheus" || f.Datasources[0].URL == "" {
		t.Fatalf("datasources: %+v", f.Datasources)
	}
}
