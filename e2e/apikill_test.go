package e2e

import (
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/quantrac/quantrac/simulator"
	"time"
)

// TestFaultAPIKill kills the api with SIGKILL under ingest, again and
// again: every sample the api acknowledged to the collector is in the
// store afterwards, the store opens, and every sample the stations
// delivered arrives (the collector buffers while the api is down).
func TestFaultAPIKill(t *testing.T) {
	n := cycles(3, 25)
	sim := startSim(t, "")
	apiDir := t.TempDir()
	a := newAPI(t, "api", apiDir, "")
	a.start()
	rec := newRecorder(t, a.URL())
	c := newCollector(t, "collector", collectorSpec{
		SinkType: "api", SinkURL: rec.URL(), SinkToken: a.ingest,
		Broker: sim.BrokerURL(), ClientID: "e2e-apikill", Stations: sim.Stations(),
	})
	c.start()
	start := time.Now()
	rng := rand.New(rand.NewPCG(1, 2))
	waitAllStations(t, sim, rec)
	for i := 0; i < n; i++ {
		// Let the api ingest for a while, then kill it mid-stream.
		time.Sleep(time.Duration(500+rng.IntN(2000)) * time.Millisecond)
		a.p.kill9()
		time.Sleep(time.Duration(200+rng.IntN(1500)) * time.Millisecond)
		a.start()
	}
	exp := expectAll(t, sim, rec, start, time.Now().Add(-2*time.Second))
	excused := excuse(t, exp, c)
	waitFor(t, 60*time.Second, "the collector to deliver what the stations served", func() bool { return rec.covers(exp) == 0 })
	if err := c.p.stop(); err != nil {
		t.Errorf("collector stop: %v", err)
	}
	if err := a.p.stop(); err != nil {
		t.Errorf("api stop: %v", err)
	}
	checkAPIFiles(t, apiDir)
	st, stats := readTSDB(t, filepath.Join(apiDir, "tsdb"))
	tl := count(sim, exp, rec, st)
	tl.check(t)
	_, _, statuses := rec.snapshot()
	report(row{Scenario: "api kill -9 under ingest", Cycles: n, tally: tl,
		Note: fmt.Sprintf("ingest answers %v (0 = api unreachable); WAL segments repaired at open: %d", statuses, stats.WALRepairs.Load()) + excused})
}

// expectAll is the truth of every station of the simulator from the
// first sample the api acknowledged for it (and not before from) until to.
func expectAll(t *testing.T, sim *simulator.Simulator, rec *recorder, from, to time.Time) expectation {
	t.Helper()
	waitAllStations(t, sim, rec)
	first := rec.firstAcked()
	windows := map[string][]window{}
	ids := stationIDs(sim.Stations())
	for _, id := range ids {
		f, ok := first[id]
		if !ok {
			t.Errorf("station %s: nothing acknowledged at all", id)
			continue
		}
		windows[id] = []window{{max(f, from.UnixMilli()), to.UnixMilli()}}
	}
	return expectFromTruth(t, sim, ids, windows)
}

// waitAllStations waits until the api acknowledged samples of every
// station of the simulator.
func waitAllStations(t *testing.T, sim *simulator.Simulator, rec *recorder) {
	t.Helper()
	ids := stationIDs(sim.Stations())
	waitFor(t, 60*time.Second, "samples of every station", func() bool { return len(rec.firstAcked()) >= len(ids) })
}

// checkAPIFiles checks that the api's own JSON files parse.
func checkAPIFiles(t *testing.T, dir string) {
	t.Helper()
	for _, name := range []string{"tokens.json", "stations.json"} {
		b, err := os.ReadFile(filepath.Join(dir, name))
		if os.IsNotExist(err) {
			continue
		}
		if err != nil {
			t.Errorf("read %s: %v", name, err)
			continue
		}
		if s := strings.TrimSpace(string(b)); s == "" || (s[0] != '{' && s[0] != '[') {
			t.Errorf("%s is damaged: %.80q", name, s)
		}
	}
}
