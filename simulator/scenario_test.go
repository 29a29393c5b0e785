package simulator

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/goccy/go-yaml"
)

func TestDemoScenarioStarts(t *testing.T) {
	sc, err := LoadScenario("../configs/demo/scenario.yaml")
	if err != nil {
		t.Fatal(err)
	}
	sc.Modbus.BasePort = 0
	sc.MQTT.Listen = "127.0.0.1:0"
	sc.Control.Listen = "127.0.0.1:0"
	sc.TXT.Spool = t.TempDir()
	opts := DefaultOptions()
	opts.BeijingDir = "testdata/beijing" // every air station replays the test slice
	t0 := time.Now()
	sim, err := Start(context.Background(), sc, opts)
	if err != nil {
		t.Fatal(err)
	}
	defer sim.Stop()
	took := time.Since(t0)
	st := sim.Stats()
	t.Logf("demo scenario: %d stations (%d modbus, %d mqtt, %d txt) started in %s", st.Stations, st.ModbusStations, st.MQTTStations, st.TXTStations, took)
	if st.Stations < 20 || st.ModbusStations == 0 || st.MQTTStations == 0 || st.TXTStations == 0 {
		t.Errorf("demo: %+v, want 20+ stations on all three transports", st)
	}
	replayed := 0
	for _, s := range sim.Stations() {
		if s.Replay != "" {
			replayed++
		}
		for _, rd := range mustTruthAll(t, sim, s.ID) {
			if !rd.OK && rd.Reason != "no data" {
				t.Errorf("%s %s: no value at start (%s)", s.ID, rd.Param, rd.Reason)
			}
		}
	}
	if replayed == 0 {
		t.Error("no air station replays the Beijing slice")
	}

	// The collector config lists every station with its address.
	path := filepath.Join(t.TempDir(), "collector", "collector.yaml")
	if err := sim.WriteCollectorConfig(CollectorConfigOptions{Path: path, SinkToken: "tok"}); err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var cc collectorConfig
	if err := yaml.Unmarshal(data, &cc); err != nil {
		t.Fatalf("collector config does not parse: %v\n%s", err, data)
	}
	if len(cc.Stations) != st.Stations || cc.MQTT == nil || cc.MQTT.Broker != sim.BrokerURL() || cc.Datafile == nil || len(cc.MQTT.Subscriptions) != 3 || cc.Sink.Token != "tok" {
		t.Errorf("collector config: %d stations, mqtt %+v, datafile %+v", len(cc.Stations), cc.MQTT, cc.Datafile)
	}
	for _, s := range cc.Stations {
		if s.Driver == "modbus" {
			if s.Modbus == nil || !strings.HasPrefix(s.Modbus.Address, "tcp://127.0.0.1:") || s.Modbus.SlaveID != 1 {
				t.Errorf("%s: %+v", s.ID, s.Modbus)
				continue
			}
			if _, err := os.Stat(filepath.Join(filepath.Dir(path), s.Modbus.Map)); err != nil {
				t.Errorf("%s: map %s not found relative to the config: %v", s.ID, s.Modbus.Map, err)
			}
		}
	}
}

func mustTruthAll(t *testing.T, sim *Simulator, id string) []Reading {
	t.Helper()
	rs, err := sim.TruthAll(id, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	return rs
}

func TestScenarioErrors(t *testing.T) {
	f := func(name, data, want string) {
		t.Helper()
		_, err := ParseScenario([]byte(data), "test.yaml", ".")
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: error %v, want it to mention %q", name, err, want)
		}
	}
	st := func(extra string) string {
		return "stations:\n  - {id: S-1, kind: air, province: HN, transport: mqtt" + extra + "}\n"
	}
	f("empty", "", "empty")
	f("unknown field", "sede: 1\n", "sede")
	f("bad kind", "stations:\n  - {id: S-1, kind: river, province: HN, transport: mqtt}\n", "kind")
	f("bad transport", "stations:\n  - {id: S-1, kind: air, province: HN, transport: lora}\n", "transport")
	f("bad id", "stations:\n  - {id: 'S 1', kind: air, province: HN, transport: mqtt}\n", "id")
	f("underscore id", "stations:\n  - {id: S_1, kind: air, province: HN, transport: mqtt}\n", "id")
	f("duplicate", st("")+"  - {id: S-1, kind: air, province: HN, transport: mqtt}\n", "duplicate")
	f("bad format", st(", format: xml"), "format")
	f("bad param", st(", parameters: [pm1]"), "pm1")
	f("modbus no map", "stations:\n  - {id: S-1, kind: air, province: HN, transport: modbus}\n", "map")
	f("bad flood", st(", flood: {rise: 0s, fall: 1h, peak: 10}"), "flood")
	f("bad speed", "speed: -2\n", "speed")
	f("bad interval", "interval: 1ms\n", "interval")
	f("fault kind", st("")+"faults:\n  - {station: S-1, kind: melt}\n", "melt")
	f("fault station", st("")+"faults:\n  - {station: S-9, kind: stuck}\n", "S-9")
	f("units per port", "modbus: {units_per_port: 300}\n", "units_per_port")
	f("beijing start", "beijing: {start: 2016-13-01}\n", "beijing.start")
	// goccy/go-yaml v1.19.2 panics on a tagged empty node where a sequence belongs.
	f("parser panic", "stations:\n  ! 0\n0000000008:", `scenario test.yaml: yaml parser failed on malformed input near line 2 "  ! 0"`)
	f("parser panic faults", "faults:\n  ! 0\n0000000008:", "scenario test.yaml:")

	// Start-time errors name the thing.
	sc, err := ParseScenario([]byte("stations:\n  - {id: S-1, kind: air, province: HN, transport: modbus, map: nope}\n"), "x", t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	sc.MQTT.Listen = "127.0.0.1:0"
	if _, err := Start(context.Background(), sc, DefaultOptions()); err == nil || !strings.Contains(err.Error(), "S-1") {
		t.Errorf("missing map: %v", err)
	}
	sc, _ = ParseScenario([]byte("interval: 500ms\nstations:\n  - {id: S-1, kind: air, province: HN, transport: txt}\n"), "x", t.TempDir())
	sc.MQTT.Listen = "127.0.0.1:0"
	if _, err := Start(context.Background(), sc, DefaultOptions()); err == nil || !strings.Contains(err.Error(), "whole seconds") {
		t.Errorf("txt interval: %v", err)
	}
}

// FuzzParseScenario: no input makes the scenario parser panic, and every
// error names the file.
func FuzzParseScenario(f *testing.F) {
	f.Add([]byte("stations:\n  - {id: S-1, kind: air, province: HN, transport: mqtt}\n"))
	f.Add([]byte("stations:\n  ! 0\n0000000008:"))
	f.Add([]byte("registers:\n  ! 0\n0000000008:"))
	if data, err := os.ReadFile("../configs/demo/scenario.yaml"); err == nil {
		f.Add(data)
	}
	dir := f.TempDir()
	f.Fuzz(func(t *testing.T, data []byte) {
		if _, err := ParseScenario(data, "fuzz.yaml", dir); err != nil && !strings.Contains(err.Error(), "fuzz.yaml") {
			t.Fatalf("error does not name the file: %v", err)
		}
	})
}

func TestGenerateScale(t *testing.T) {
	sc, err := ParseScenario([]byte(`
seed: 8
interval: 1h
modbus: {maps: ../configs/maps, units_per_port: 10}
generate: {modbus: 25, mqtt: 12, txt: 3}
`), "gen", ".")
	if err != nil {
		t.Fatal(err)
	}
	sc.Modbus.BasePort = 0
	sc.MQTT.Listen = "127.0.0.1:0"
	sc.TXT.Spool = t.TempDir()
	sim, err := Start(context.Background(), sc, DefaultOptions())
	if err != nil {
		t.Fatal(err)
	}
	defer sim.Stop()
	st := sim.Stats()
	if st.ModbusStations != 25 || st.MQTTStations != 12 || st.TXTStations != 3 || st.ModbusPorts != 3 {
		t.Errorf("generated: %+v", st)
	}
	kinds := map[string]int{}
	for _, s := range sim.Stations() {
		kinds[s.Kind]++
		if s.Lat < 8 || s.Lat > 24 || s.Lon < 102 || s.Lon > 110 {
			t.Errorf("%s at %g,%g: outside Việt Nam", s.ID, s.Lat, s.Lon)
		}
	}
	if len(kinds) != 3 {
		t.Errorf("kinds %v", kinds)
	}
}

func TestShippedScenariosParse(t *testing.T) {
	for _, p := range []string{"../configs/scenarios/scale-2000.yaml", "../configs/scenarios/chaos.yaml"} {
		sc, err := LoadScenario(p)
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(p, "chaos") {
			continue
		}
		sc.Modbus.BasePort = 0
		sc.MQTT.Listen = "127.0.0.1:0"
		sc.Control.Listen = ""
		sc.TXT.Spool = t.TempDir()
		sim, err := Start(context.Background(), sc, DefaultOptions())
		if err != nil {
			t.Fatal(err)
		}
		kinds := map[FaultKind]bool{}
		for _, w := range sim.Faults() {
			kinds[w.Kind] = true
			if w.Kind == FaultSlow && w.Station == "CH-MB-Air" && (w.Delay != 4*time.Second || w.To.Sub(w.From) != 40*time.Second) {
				t.Errorf("slow fault: delay %s, window %s; want 4s, 40s", w.Delay, w.To.Sub(w.From))
			}
			if w.Kind == FaultClockSkew && w.Station == "CH-MQ-Json" && w.Skew != -2*time.Hour {
				t.Errorf("clock skew %s, want -2h", w.Skew)
			}
		}
		sim.Stop()
		if len(kinds) != len(FaultKinds) {
			t.Errorf("chaos scenario covers %d of %d fault kinds", len(kinds), len(FaultKinds))
		}
	}
}
