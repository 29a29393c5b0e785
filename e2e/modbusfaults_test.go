package e2e

import (
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/quantrac/quantrac/simulator"
)

// modbusFaultScenario adds four faulty dataloggers to healthy ones.
const modbusFaultScenario = `
seed: 13
interval: 1s
modbus: {maps: %q}
stations:
  - {id: HN-LongBien, kind: hydrological, province: HN, transport: modbus, map: hydro-float-cdab}
  - {id: HN-HangDau, kind: air, province: HN, transport: modbus, map: air-int16-scaled}
  - {id: HN-KimLien, kind: air, province: HN, transport: mqtt, format: json}
  - {id: HN-Flap, kind: hydrological, province: HN, transport: modbus, map: hydro-float-cdab}
  - {id: HN-Slow, kind: air, province: HN, transport: modbus, map: air-int16-scaled}
  - {id: HN-Wrong, kind: hydrological, province: HN, transport: modbus, map: hydro-float-cdab}
  - {id: HN-DevErr, kind: air, province: HN, transport: modbus, map: air-int16-scaled}
`

// TestFaultModbusDevices makes Modbus dataloggers flap (connection
// dropped, then offline, on and off), answer slower than the poll timeout,
// answer with exceptions, and report device error: the other stations lose
// nothing, the faulty ones are reported in the collector's /status, and
// the device-error readings are stored with status 02.
func TestFaultModbusDevices(t *testing.T) {
	span := dur(12*time.Second, 2*time.Minute)
	sim := startSim(t, fmt.Sprintf(modbusFaultScenario, filepath.Join(repoRoot, "configs", "maps")))
	apiDir := t.TempDir()
	a := newAPI(t, "api", apiDir, "")
	a.start()
	rec := newRecorder(t, a.URL())
	c := newCollector(t, "collector", collectorSpec{
		SinkType: "api", SinkURL: rec.URL(), SinkToken: a.ingest,
		Broker: sim.BrokerURL(), ClientID: "e2e-modbusfaults", Stations: sim.Stations(),
	})
	c.start()
	waitAllStations(t, sim, rec)
	start := time.Now()
	mustFault := func(f simulator.Fault) {
		if _, err := sim.AddFault(f, 0); err != nil {
			t.Fatal(err)
		}
	}
	mustFault(simulator.Fault{Station: "HN-Slow", Kind: simulator.FaultSlow, Delay: 3 * time.Second})
	mustFault(simulator.Fault{Station: "HN-Wrong", Kind: simulator.FaultException, Code: 2})
	mustFault(simulator.Fault{Station: "HN-DevErr", Kind: simulator.FaultDeviceError})
	flaps := 0
	for time.Since(start) < span {
		kind := simulator.FaultDrop
		if flaps%2 == 1 {
			kind = simulator.FaultOffline
		}
		mustFault(simulator.Fault{Station: "HN-Flap", Kind: kind})
		time.Sleep(1500 * time.Millisecond)
		sim.StopFault("HN-Flap", "", 0)
		time.Sleep(1500 * time.Millisecond)
		flaps++
	}
	end := time.Now()
	st, err := c.status()
	if err != nil {
		t.Fatalf("collector /status: %v", err)
	}
	var notes []string
	for _, s := range st.Stations {
		switch s.ID {
		case "HN-Flap", "HN-Slow", "HN-Wrong":
			if s.Errors == 0 || s.LastError == "" {
				t.Errorf("collector /status does not report the faulty station %s: %+v", s.ID, s)
			}
			notes = append(notes, fmt.Sprintf("%s %d errors of %d polls (%.60s...)", s.ID, s.Errors, s.Polls, s.LastError))
		case "HN-LongBien", "HN-HangDau", "HN-DevErr":
			if s.Errors != 0 {
				t.Errorf("healthy station %s has %d errors: %s", s.ID, s.Errors, s.LastError)
			}
		}
	}
	if len(notes) != 3 {
		t.Errorf("collector /status lists %d of the 3 faulty stations", len(notes))
	}
	// The healthy stations and the device-error one (its readings flow,
	// with status 02) must be complete from the start of the faults.
	ids := []string{"HN-LongBien", "HN-HangDau", "HN-KimLien", "HN-DevErr"}
	windows := map[string][]window{}
	for _, id := range ids {
		windows[id] = []window{{start.Add(2 * time.Second).UnixMilli(), end.Add(-2 * time.Second).UnixMilli()}}
	}
	exp := expectFromTruth(t, sim, ids, windows)
	waitFor(t, 60*time.Second, "the healthy stations' samples", func() bool { return rec.covers(exp) == 0 })
	if err := c.p.stop(); err != nil {
		t.Errorf("collector stop: %v", err)
	}
	if err := a.p.stop(); err != nil {
		t.Errorf("api stop: %v", err)
	}
	stored, _ := readTSDB(t, filepath.Join(apiDir, "tsdb"))
	tl := count(sim, exp, rec, stored)
	// Informative: how much of the flapping station's fault-free time
	// made it (a reconnect costs polls).
	flapExp := expectFromTruth(t, sim, []string{"HN-Flap"}, map[string][]window{"HN-Flap": {{start.UnixMilli(), end.Add(-2 * time.Second).UnixMilli()}}})
	flapOK, flapGot := 0, 0
	for k, r := range flapExp.truth {
		if len(r.Faults) == 0 {
			flapOK++
			if _, ok := stored.points[k]; ok {
				flapGot++
			}
		}
	}
	notes = append(notes, fmt.Sprintf("HN-Flap stored %d of %d samples of its fault-free steps", flapGot, flapOK))
	tl.check(t)
	bad := 0
	for k := range exp.keys {
		if k.Station == "HN-DevErr" {
			if p, ok := stored.points[k]; ok && p.Q.Status().String() != "02" {
				bad++
			}
		}
	}
	if bad > 0 {
		t.Errorf("%d device-error readings stored without status 02", bad)
	}
	report(row{Scenario: "Modbus flapping, slow, exceptions, device error", Cycles: flaps, tally: tl,
		Note: "healthy stations and status-02 readings counted; " + strings.Join(notes, "; ")})
}
