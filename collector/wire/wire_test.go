package wire_test

import (
	"context"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/quantrac/quantrac/collector"
	"github.com/quantrac/quantrac/collector/wire"
	"github.com/quantrac/quantrac/model"
	"github.com/quantrac/quantrac/simulator"
	"github.com/quantrac/quantrac/tsdb"
)

const scenario = `
seed: 7
interval: 1s
modbus: {maps: %q, units_per_port: 2}
stations:
  - {id: HN-MB1, name: "Long Biên", kind: hydrological, province: HN, transport: modbus, map: hydro-float-cdab}
  - {id: HN-MB2, kind: air, province: HN, transport: modbus, map: air-int16-scaled}
  - {id: HN-MB3, kind: air, province: HP, transport: modbus, map: air-int16-scaled}
  - {id: HN-MQ1, kind: air, province: HN, transport: mqtt, format: json}
  - {id: HN-MQ2, kind: weather, province: HN, transport: mqtt, format: number}
  - {id: HN-MQ3, kind: air, province: HP, transport: mqtt, format: senml}
  - {id: HN-TX1, kind: hydrological, province: HN, transport: txt}
`

// TestSimulatorGroundTruth runs the real drivers against the simulator's
// Modbus TCP servers and MQTT broker, into the embedded tsdb: every stored
// value equals the simulator's ground truth at its timestamp.
func TestSimulatorGroundTruth(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the simulator for several seconds; skipped with -short")
	}
	maps, _ := filepath.Abs(filepath.Join("..", "testdata", "maps"))
	sc, err := simulator.ParseScenario([]byte(fmt.Sprintf(scenario, maps)), t.Name(), t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	sc.Modbus.BasePort = 0
	sc.MQTT.Listen = "127.0.0.1:0"
	sc.Control.Listen = ""
	sc.TXT.Spool = t.TempDir()
	sim, err := simulator.Start(context.Background(), sc, simulator.DefaultOptions())
	if err != nil {
		t.Fatal(err)
	}
	defer sim.Stop()

	dir := t.TempDir()
	path := filepath.Join(dir, "collector.yaml")
	if err := sim.WriteCollectorConfig(simulator.CollectorConfigOptions{Path: path, DataDir: filepath.Join(dir, "queue"), Timeout: 500 * time.Millisecond}); err != nil {
		t.Fatal(err)
	}
	cfg, err := collector.LoadConfig(path)
	if err != nil {
		t.Fatal(err)
	}
	cfg.Sink = collector.SinkConfig{Type: collector.SinkTSDB, Dir: filepath.Join(dir, "tsdb")}

	db, err := tsdb.Open(cfg.Sink.Dir, tsdb.DefaultOptions())
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	log := zerolog.New(zerolog.NewTestWriter(t)).Level(zerolog.WarnLevel)
	c, err := collector.New(cfg, collector.Options{
		Logger:      log,
		Drivers:     wire.Drivers(),
		OpenStorage: func(string) (model.Writer, func() error, error) { return db, nil, nil },
	})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- c.Run(ctx) }()
	defer func() {
		cancel()
		<-done
		c.Close()
	}()

	stations := []string{"HN-MB1", "HN-MB2", "HN-MB3", "HN-MQ1", "HN-MQ2", "HN-MQ3", "HN-TX1"}
	read := func() map[string][]model.Point {
		out := map[string][]model.Point{}
		m := model.MustMatcher(model.MatchRegexp, model.LabelStation, "HN-.*")
		err := db.Select(context.Background(), model.SelectQuery{Matchers: []*model.Matcher{m}, From: 0, To: model.MaxTime - 1, IncludeBad: true},
			func(ls model.Labels, pts []model.Point) error {
				out[ls.String()] = append([]model.Point(nil), pts...)
				return nil
			})
		if err != nil {
			t.Fatal(err)
		}
		return out
	}
	var got map[string][]model.Point
	deadline := time.Now().Add(60 * time.Second)
	for {
		got = read()
		perStation := map[string]int{}
		for k, pts := range got {
			for _, id := range stations {
				if strings.Contains(k, `station="`+id+`"`) && len(pts) >= 3 {
					perStation[id]++
				}
			}
		}
		if len(perStation) == len(stations) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("stations with 3+ points per series after 60s: %v", perStation)
		}
		time.Sleep(200 * time.Millisecond)
	}
	checked := 0
	for k, pts := range got {
		ls := seriesLabels(t, k)
		id, metric := ls.Get(model.LabelStation), ls.Metric()
		info, ok := sim.Station(id)
		if !ok {
			t.Fatalf("series %s from a station the simulator does not run", k)
		}
		if ls.Get(model.LabelProvince) != info.Province || ls.Get(model.LabelKind) != info.Kind {
			t.Fatalf("series %s: labels do not match station %+v", k, info)
		}
		for _, p := range pts {
			r, err := sim.Truth(id, metric, time.UnixMilli(p.T))
			if err != nil {
				t.Fatalf("truth %s %s: %v", id, metric, err)
			}
			if !r.OK || r.V == nil {
				t.Fatalf("%s at %d: stored %v but the simulator delivered nothing (%s)", k, p.T, p.V, r.Reason)
			}
			// Bare numbers carry no time: the driver stamps them on receipt.
			if r.T != p.T && id != "HN-MQ2" {
				t.Fatalf("%s: sample time %d is not the step start %d", k, p.T, r.T)
			}
			if math.Abs(*r.V-p.V) > 1e-9*math.Max(1, math.Abs(*r.V)) {
				// A bare number stamped on receipt may land in the step after
				// the one it was published for.
				prev, err := sim.Truth(id, metric, time.UnixMilli(r.T-1))
				if id != "HN-MQ2" || err != nil || prev.V == nil || math.Abs(*prev.V-p.V) > 1e-9*math.Max(1, math.Abs(*prev.V)) {
					t.Fatalf("%s at %d: stored %v, ground truth %v", k, p.T, p.V, *r.V)
				}
				checked++
				continue
			}
			if want, _ := model.ParseStatus(r.Status); p.Q.Status() != want {
				t.Fatalf("%s at %d: status %s, ground truth %s", k, p.T, p.Q, r.Status)
			}
			checked++
		}
	}
	t.Logf("%d series, %d samples equal to the ground truth", len(got), checked)
	if os.Getenv("QUANTRAC_DEBUG") != "" {
		fmt.Println(c.Status())
	}
}

func seriesLabels(t *testing.T, key string) model.Labels {
	ms, err := model.ParseSelector(key)
	if err != nil {
		t.Fatalf("parse %s: %v", key, err)
	}
	m := map[string]string{}
	for _, x := range ms {
		m[x.Name] = x.Value
	}
	return model.FromMap(m)
}
