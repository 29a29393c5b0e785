package e2e

import (
	"fmt"
	"path/filepath"
	"testing"
	"time"
)

// TestFaultAPIDown stops the api for a long stretch while the stations
// keep reporting: the collector buffers on disk, and once the api is back
// every sample arrives, once.
func TestFaultAPIDown(t *testing.T) {
	outage := dur(15*time.Second, 3*time.Minute)
	sim := startSim(t, "")
	apiDir := t.TempDir()
	a := newAPI(t, "api", apiDir, "")
	a.start()
	rec := newRecorder(t, a.URL())
	c := newCollector(t, "collector", collectorSpec{
		SinkType: "api", SinkURL: rec.URL(), SinkToken: a.ingest,
		Broker: sim.BrokerURL(), ClientID: "e2e-apidown", Stations: sim.Stations(),
	})
	c.start()
	start := time.Now()
	waitAllStations(t, sim, rec)
	if err := a.p.stop(); err != nil {
		t.Fatalf("api stop: %v", err)
	}
	down := time.Now()
	time.Sleep(outage)
	cs, err := c.status()
	if err != nil {
		t.Fatalf("collector status during the outage: %v", err)
	}
	buffered := cs.Queue.PendingBytes
	if buffered == 0 {
		t.Errorf("the collector buffered nothing while the api was down")
	}
	a.start()
	back := time.Now()
	exp := expectAll(t, sim, rec, start, time.Now().Add(-2*time.Second))
	excused := excuse(t, exp, c)
	waitFor(t, 90*time.Second, "the collector to deliver its backlog", func() bool { return rec.covers(exp) == 0 })
	drained := time.Since(back)
	if err := c.p.stop(); err != nil {
		t.Errorf("collector stop: %v", err)
	}
	if err := a.p.stop(); err != nil {
		t.Errorf("api stop: %v", err)
	}
	st, _ := readTSDB(t, filepath.Join(apiDir, "tsdb"))
	tl := count(sim, exp, rec, st)
	tl.check(t)
	if tl.Resent > 0 {
		t.Errorf("%d samples were acknowledged more than once: the backlog was sent twice", tl.Resent)
	}
	report(row{Scenario: "api down (long outage)", Cycles: 1, tally: tl,
		Note: fmt.Sprintf("api down %s, collector queue held %d bytes, backlog delivered %s after the api returned",
			time.Since(down).Round(time.Second)-drained.Round(time.Second), buffered, drained.Round(100*time.Millisecond)) + excused})
}
