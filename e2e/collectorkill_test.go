package e2e

import (
	"fmt"
	"math/rand/v2"
	"path/filepath"
	"testing"
	"time"

	"github.com/quantrac/quantrac/simulator"
)

// TestFaultCollectorKill kills the collector with SIGKILL again and again.
// Nothing it acknowledged to the MQTT broker may be lost (the broker keeps
// the persistent session's messages while it is down, so every message the
// stations published counts), and nothing it polled from a Modbus
// datalogger may be lost (every time step while it was up counts).
func TestFaultCollectorKill(t *testing.T) {
	n := cycles(3, 25)
	sim := startSim(t, "")
	apiDir := t.TempDir()
	a := newAPI(t, "api", apiDir, "")
	a.start()
	rec := newRecorder(t, a.URL())
	c := newCollector(t, "collector", collectorSpec{
		SinkType: "api", SinkURL: rec.URL(), SinkToken: a.ingest,
		Broker: sim.BrokerURL(), ClientID: "e2e-collectorkill", Stations: sim.Stations(),
	})
	rng := rand.New(rand.NewPCG(3, 4))
	const margin = 2 * time.Second // a poll slot is stored once it is this old
	var alive []window             // when every Modbus slot was polled
	start := time.Now()
	c.start()
	up := time.Now()
	waitAllStations(t, sim, rec)
	for i := 0; i < n; i++ {
		time.Sleep(time.Duration(3000+rng.IntN(3000)) * time.Millisecond)
		down := time.Now()
		c.p.kill9()
		alive = append(alive, window{up.Add(margin).UnixMilli(), down.Add(-margin).UnixMilli()})
		time.Sleep(time.Duration(200+rng.IntN(1500)) * time.Millisecond)
		c.start()
		up = time.Now()
	}
	time.Sleep(4 * time.Second)
	end := time.Now().Add(-margin)
	alive = append(alive, window{up.Add(margin).UnixMilli(), end.UnixMilli()})

	first := rec.firstAcked()
	windows := map[string][]window{}
	for _, st := range sim.Stations() {
		switch st.Transport {
		case simulator.TransportModbus:
			windows[st.ID] = alive
		case simulator.TransportMQTT:
			windows[st.ID] = []window{{max(first[st.ID], start.UnixMilli()), end.UnixMilli()}}
		}
	}
	exp := expectFromTruth(t, sim, stationIDs(sim.Stations()), windows)
	excused := excuse(t, exp, c)
	waitFor(t, 60*time.Second, "the collector to deliver what it acknowledged and polled", func() bool { return rec.covers(exp) == 0 })
	if err := c.p.stop(); err != nil {
		t.Errorf("collector stop: %v", err)
	}
	if err := a.p.stop(); err != nil {
		t.Errorf("api stop: %v", err)
	}
	st, _ := readTSDB(t, filepath.Join(apiDir, "tsdb"))
	tl := count(sim, exp, rec, st)
	tl.check(t)
	report(row{Scenario: "collector kill -9", Cycles: n, tally: tl,
		Note: fmt.Sprintf("Modbus steps counted only while the collector was up (%d windows); MQTT steps all, from the first one stored", len(alive)) + excused})
}
