package e2e

import (
	"fmt"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/quantrac/quantrac/simulator"
)

// TestFaultCollectorStall freezes the collector (SIGSTOP, as a suspended
// VM or a long pause of the machine would) for longer than a poll
// interval, several times. Polls that could not happen are missed polls;
// what is stored must still be what the dataloggers served at the stored
// timestamp.
func TestFaultCollectorStall(t *testing.T) {
	n := cycles(3, 10)
	sim := startSim(t, "")
	apiDir := t.TempDir()
	a := newAPI(t, "api", apiDir, "")
	a.start()
	rec := newRecorder(t, a.URL())
	c := newCollector(t, "collector", collectorSpec{
		SinkType: "api", SinkURL: rec.URL(), SinkToken: a.ingest,
		Broker: sim.BrokerURL(), ClientID: "e2e-stall", Stations: sim.Stations(),
	})
	c.start()
	waitAllStations(t, sim, rec)
	start := time.Now()
	for i := 0; i < n; i++ {
		// Freeze just before a slot's poll time and thaw 1.5 intervals later.
		next := time.Now().Truncate(time.Second).Add(time.Second)
		time.Sleep(time.Until(next.Add(-200 * time.Millisecond)))
		if err := c.p.cmd.Process.Signal(syscall.SIGSTOP); err != nil {
			t.Fatal(err)
		}
		time.Sleep(1700 * time.Millisecond)
		if err := c.p.cmd.Process.Signal(syscall.SIGCONT); err != nil {
			t.Fatal(err)
		}
		time.Sleep(2 * time.Second)
	}
	// MQTT messages wait at the broker through a stall: all count.
	end := time.Now().Add(-2 * time.Second)
	windows := map[string][]window{}
	var modbus []string
	for _, st := range sim.Stations() {
		if st.Transport == simulator.TransportMQTT {
			windows[st.ID] = []window{{start.UnixMilli(), end.UnixMilli()}}
		} else {
			modbus = append(modbus, st.ID)
		}
	}
	exp := expectFromTruth(t, sim, stationIDs(sim.Stations()), windows)
	waitFor(t, 60*time.Second, "the MQTT messages and acknowledged samples", func() bool { return rec.covers(exp) == 0 })
	if err := c.p.stop(); err != nil {
		t.Errorf("collector stop: %v", err)
	}
	if err := a.p.stop(); err != nil {
		t.Errorf("api stop: %v", err)
	}
	st, _ := readTSDB(t, filepath.Join(apiDir, "tsdb"))
	tl := count(sim, exp, rec, st)
	// Every stored Modbus point must equal what the station served at its time.
	isModbus := map[string]bool{}
	for _, id := range modbus {
		isModbus[id] = true
	}
	checked, wrong, late := 0, 0, 0
	var examples []string
	for k, p := range st.points {
		if !isModbus[k.Station] || k.T < start.UnixMilli() || k.T > end.UnixMilli() {
			continue
		}
		r, err := sim.Truth(k.Station, k.Metric, time.UnixMilli(k.T))
		if err != nil || !r.OK || r.V == nil {
			continue
		}
		checked++
		if sameValue(*r.V, p.V) {
			continue
		}
		info, _ := sim.Station(k.Station)
		if nx, err := sim.Truth(k.Station, k.Metric, time.UnixMilli(k.T).Add(info.Interval)); err == nil && nx.V != nil && sameValue(*nx.V, p.V) {
			late++
			if len(tl.LateKeys) < 3 {
				tl.LateKeys = append(tl.LateKeys, fmt.Sprintf("%s stored %v = reading of the next step, truth %v", k, p.V, *r.V))
			}
			continue
		}
		wrong++
		if len(examples) < 5 {
			examples = append(examples, fmt.Sprintf("%s stored %v, served %v", k, p.V, *r.V))
		}
	}
	if wrong > 0 {
		t.Errorf("%d of %d stored Modbus samples differ from what the station served, e.g. %v", wrong, checked, examples)
	}
	tl.Late += late
	tl.Wrong += wrong
	tl.check(t)
	report(row{Scenario: "collector frozen (SIGSTOP 1.7 s)", Cycles: n, tally: tl,
		Note: fmt.Sprintf("%d stored Modbus samples compared with what the station served at their timestamp: %d hold the next step's reading", checked, late)})
}
