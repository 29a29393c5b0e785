package api

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

const testRule = `rules:
  - name: pm25_peak
    kind: threshold
    select: pm25_ugm3{kind="air"}
    above: 100
    clear: 80
    unit: µg/m³
    severity: warning
    message: "{{.StationName}}: PM2.5 {{num .Value}} vượt {{num .Limit}}"
`

// alertingServer runs a server hosting the alert engine with one rule.
func alertingServer(t *testing.T) *testServer {
	rules := t.TempDir()
	if err := os.WriteFile(filepath.Join(rules, "test.yaml"), []byte(testRule), 0o644); err != nil {
		t.Fatal(err)
	}
	return startServer(t, func(c *Config) {
		c.Alerting.Enabled = true
		c.Alerting.RulesDir = rules
	})
}

func TestAlertingWired(t *testing.T) {
	ts := alertingServer(t)
	ts.mustDo(200, "POST", "/api/v1/stations", "", []byte(`[{"id":"HN-01","name":"Trạm Hoàn Kiếm","kind":"air","province":"HN","lat":21,"lon":105}]`))
	now := time.Now().UnixMilli()
	ts.mustDo(200, "POST", "/api/v1/ingest", "", []byte(fmt.Sprintf(
		`{"series":[{"labels":{"__name__":"pm25_ugm3","station":"HN-01","province":"HN","kind":"air"},"t":[%d],"v":[150]}]}`, now)))
	var list struct {
		Alerts []struct {
			ID      uint64 `json:"id"`
			State   string `json:"state"`
			Message string `json:"message"`
		} `json:"alerts"`
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		r := ts.mustDo(200, "GET", "/api/v1/alerts?state=firing", "", nil)
		list.Alerts = nil
		if err := json.Unmarshal(r.body, &list); err != nil {
			t.Fatal(err)
		}
		if len(list.Alerts) == 1 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no firing alert after a stored batch crossed the rule: %s", r.body)
		}
		time.Sleep(50 * time.Millisecond)
	}
	// The station was registered after the server started: its name, not
	// its id, must be in the message (the engine once knew only the
	// stations of start-up).
	if msg := list.Alerts[0].Message; !strings.Contains(msg, "Trạm Hoàn Kiếm") {
		t.Errorf("alert message %q lacks the station name registered after start", msg)
	}
	id := list.Alerts[0].ID
	r := ts.mustDo(200, "POST", fmt.Sprintf("/api/v1/alerts/%d/ack", id), "", []byte(`{"by":"trực ban","note":"đã gọi trạm"}`), "Content-Type", "application/json")
	if !strings.Contains(string(r.body), "acknowledged") {
		t.Fatalf("ack: %s", r.body)
	}
	ts.mustDo(200, "GET", "/api/v1/oncall/now", "", nil)
	ts.mustDo(200, "GET", "/api/v1/rules", "", nil)
	// Each alerting metric once: the engine writes its own.
	m := ts.mustDo(200, "GET", "/metrics", "", nil)
	for _, name := range []string{"quantrac_alerting_evaluations_total ", "quantrac_alerting_dropped_samples_total "} {
		if n := strings.Count(string(m.body), "\n"+name); n != 1 {
			t.Errorf("/metrics has %s %d times, want once", name, n)
		}
	}
}

func TestAQIJobWired(t *testing.T) {
	ts := startServer(t, func(c *Config) { c.AQI.Enabled = true; c.AQI.Interval = 100 * time.Millisecond })
	// Three hours of PM2.5 ending now; the job writes aqi_vn for the station.
	now := time.Now().Truncate(time.Hour)
	var tsv, vs []string
	for i := 0; i < 4; i++ {
		tsv = append(tsv, fmt.Sprint(now.Add(-time.Duration(3-i)*time.Hour).UnixMilli()))
		vs = append(vs, "60")
	}
	ts.mustDo(200, "POST", "/api/v1/ingest", "", []byte(`{"series":[{"labels":{"__name__":"pm25_ugm3","station":"HN-01","province":"HN","kind":"air"},"t":[`+
		strings.Join(tsv, ",")+`],"v":[`+strings.Join(vs, ",")+`]}]}`))
	deadline := time.Now().Add(15 * time.Second)
	for {
		r := ts.mustDo(200, "GET", "/api/v1/label/__name__/values", "", nil)
		if strings.Contains(string(r.body), `"aqi_vn"`) {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("no aqi_vn series written by the AQI job: %s", r.body)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func TestNewFailsCleanlyOnBadAlertingConfig(t *testing.T) {
	cfg := DefaultConfig()
	cfg.HTTP, cfg.DataDir = "127.0.0.1:0", t.TempDir()
	cfg.Alerting.Enabled = true
	cfg.Alerting.RulesDir = t.TempDir()
	cfg.Alerting.Receivers = filepath.Join(t.TempDir(), "missing.yaml")
	if _, err := New(cfg); err == nil || !strings.Contains(err.Error(), "receivers") {
		t.Fatalf("New with a missing receivers file: %v", err)
	}
	// The data directory is free again: a second server opens it.
	cfg.Alerting = AlertingConfig{}
	srv, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if err := srv.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
}
