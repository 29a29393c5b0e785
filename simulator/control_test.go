package simulator

import (
	"bytes"
	"encoding/json"
	"net/http"
	"strconv"
	"testing"
	"time"
)

func getJSON(t *testing.T, url string, code int, v any) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != code {
		t.Fatalf("GET %s: %d, want %d", url, resp.StatusCode, code)
	}
	if v != nil {
		if err := json.NewDecoder(resp.Body).Decode(v); err != nil {
			t.Fatalf("GET %s: %v", url, err)
		}
	}
}

func postJSON(t *testing.T, url, body string, code int, v any) {
	t.Helper()
	resp, err := http.Post(url, "application/json", bytes.NewBufferString(body))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != code {
		t.Fatalf("POST %s %s: %d, want %d", url, body, resp.StatusCode, code)
	}
	if v != nil {
		json.NewDecoder(resp.Body).Decode(v)
	}
}

func TestControlEndpoint(t *testing.T) {
	sim := startTest(t, `
seed: 2
interval: 1s
control: {listen: "127.0.0.1:0"}
stations:
  - {id: C-1, kind: hydrological, province: HN, transport: modbus, map: ../configs/maps/hydro-float-cdab.yaml, flood: {start: 1m, rise: 1h, fall: 1h, peak: 12, levels: [9.5, 10.5, 11.5]}}
  - {id: C-2, kind: air, province: HN, transport: mqtt, format: senml}
`)
	base := "http://" + sim.ControlAddr()

	var sts []StationInfo
	getJSON(t, base+"/stations", 200, &sts)
	if len(sts) != 2 || sts[0].Address == "" || sts[1].Topic != "senml/HN/C-2" || sts[0].Flood == nil ||
		sts[0].Interval != time.Second || sts[0].Flood.Rise != time.Hour || sts[0].Name != "C-1" {
		t.Fatalf("stations: %+v", sts)
	}
	raw, _ := json.Marshal(sts[0])
	if !bytes.Contains(raw, []byte(`"interval":"1s"`)) || !bytes.Contains(raw, []byte(`"rise":"1h0m0s"`)) || !bytes.Contains(raw, []byte(`"province":"HN"`)) {
		t.Errorf("station JSON: %s", raw)
	}

	var all struct {
		T        int64                         `json:"t"`
		Stations map[string]map[string]Reading `json:"stations"`
	}
	getJSON(t, base+"/truth", 200, &all)
	if len(all.Stations) != 2 || !all.Stations["C-1"]["ph"].OK || !all.Stations["C-2"]["pm25_ugm3"].OK {
		t.Fatalf("truth: %+v", all)
	}

	// A given time, and a range of steps.
	at := time.Now().Add(-10 * time.Second)
	var one Reading
	getJSON(t, base+"/truth?station=C-1&param=water_level_m&t="+strconv.FormatInt(at.UnixMilli(), 10), 200, &one)
	want, _ := sim.Truth("C-1", "water_level_m", at)
	if !one.OK || *one.V != *want.V || one.T != want.T {
		t.Errorf("truth at t: %+v, want %+v", one, want)
	}
	var series []Reading
	getJSON(t, base+"/truth?station=C-1&param=ph&from="+at.Format(time.RFC3339Nano)+"&to="+at.Add(4*time.Second).Format(time.RFC3339Nano), 200, &series)
	if len(series) < 4 || len(series) > 6 {
		t.Errorf("truth range: %d steps, want 4-6", len(series))
	}

	// Faults on and off.
	var w FaultWindow
	postJSON(t, base+"/faults", `{"station":"C-1","kind":"stuck","for":"1m"}`, 200, &w)
	if w.ID == 0 || w.Kind != FaultStuck || w.To.Sub(w.From) != time.Minute || w.Station != "C-1" {
		t.Errorf("fault window: %+v", w)
	}
	getJSON(t, base+"/truth?station=C-1&param=ph", 200, &one)
	if len(one.Faults) != 1 || one.Faults[0] != FaultStuck {
		t.Errorf("truth faults: %+v", one.Faults)
	}
	var stopped map[string]int
	postJSON(t, base+"/faults", `{"station":"C-1","kind":"stuck","on":false}`, 200, &stopped)
	if stopped["stopped"] != 1 {
		t.Errorf("stop: %v", stopped)
	}
	var windows []FaultWindow
	getJSON(t, base+"/faults", 200, &windows)
	if len(windows) != 1 || windows[0].To.IsZero() {
		t.Errorf("timeline: %+v", windows)
	}

	// Bad requests say what is wrong.
	postJSON(t, base+"/faults", `{"station":"nope","kind":"stuck"}`, 404, nil)
	postJSON(t, base+"/faults", `{"station":"C-1","kind":"melt"}`, 400, nil)
	postJSON(t, base+"/faults", `{"station":"C-1","kind":"slow","delay":"soon"}`, 400, nil)
	postJSON(t, base+"/faults", `{"station":"C-1","kind":"exception","code":7}`, 400, nil)
	postJSON(t, base+"/faults", `{"station":"C-1","kind":"slow","extra":1}`, 400, nil)
	getJSON(t, base+"/truth?station=C-1&param=pm25_ugm3", 404, nil)
	getJSON(t, base+"/truth?station=C-1&param=ph&t=yesterday", 400, nil)
	getJSON(t, base+"/truth?station=C-9", 404, nil)

	var stats Stats
	getJSON(t, base+"/stats", 200, &stats)
	if stats.Stations != 2 || stats.ModbusStations != 1 || stats.MQTTStations != 1 {
		t.Errorf("stats: %+v", stats)
	}
}

func TestMatch(t *testing.T) {
	sim := startTest(t, `
interval: 1s
speed: 3600
stations:
  - {id: C-1, kind: hydrological, province: HN, transport: modbus, map: ../configs/maps/hydro-float-cdab.yaml}
`)
	at := time.Now().Truncate(time.Second).Add(-3 * time.Second)
	next, _ := sim.Truth("C-1", "ph", at.Add(time.Second))
	if _, ok, err := sim.Match("C-1", "ph", at.Add(900*time.Millisecond), *next.V, 200*time.Millisecond); !ok || err != nil {
		t.Errorf("value of the next step within the slack: no match (%v)", err)
	}
	if _, ok, _ := sim.Match("C-1", "ph", at, -1, time.Second); ok {
		t.Error("-1 matched")
	}
	if _, _, err := sim.Match("C-1", "nope", at, 1, 0); err == nil {
		t.Error("unknown parameter: no error")
	}
}
