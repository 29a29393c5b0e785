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
	// goccy/go-yaml v1.19.2 panics on a tagged empty node where a sequence belongs.
	f("cors:\n  allow_origins:\n    ! 0\n0000000008:", `api config test.yaml: yaml parser failed on malformed input near line 3 "    ! 0"`)
	for _, empty := range []string{"", "# nothing set\n"} {
		if _, err := ParseConfig([]byte(empty), "test.yaml"); err != nil {
			t.Fatalf("config %q: %v", empty, err)
		}
	}
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

// FuzzParseConfig: no input makes the config parser panic, and every error
// names the file.
func FuzzParseConfig(f *testing.F) {
	f.Add([]byte("http: 127.0.0.1:8080\nstorage: tsdb\n"))
	f.Add([]byte("cors:\n  allow_origins:\n    ! 0\n0000000008:"))
	if data, err := os.ReadFile("../configs/api.yaml"); err == nil {
		f.Add(data)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		if _, err := ParseConfig(data, "fuzz.yaml"); err != nil && !strings.Contains(err.Error(), "fuzz.yaml") {
			t.Fatalf("error does not name the file: %v", err)
		}
	})
}

// alerting.late_after reaches the engine options as a duration.
func TestConfigAlertingLateAfter(t *testing.T) {
	cfg, err := ParseConfig([]byte("alerting:\n  late_after: 3m\n"), "late.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Alerting.LateAfter != 3*time.Minute {
		t.Fatalf("late_after = %v, want 3m", cfg.Alerting.LateAfter)
	}
	if _, err := ParseConfig([]byte("alerting:\n  late_after: soon\n"), "late.yaml"); err == nil || !strings.Contains(err.Error(), "late.yaml") {
		t.Fatalf("bad late_after: err = %v, want an error naming the file", err)
	}
}
