package wire_test

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"net/http"
	"path/filepath"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/quantrac/quantrac/collector"
	"github.com/quantrac/quantrac/collector/wire"
	"github.com/quantrac/quantrac/model"
	"github.com/quantrac/quantrac/simulator"
	"github.com/quantrac/quantrac/vmstore"
	"github.com/quantrac/quantrac/vmstore/vmtest"
)

// TestVMClusterTenants sends the simulator's stations of two provinces
// through a VictoriaMetrics cluster, one tenant per province, and reads
// them back through vmstore (the api's scale-out backend): every value and
// quality equals the ground truth, and each tenant holds only its province.
func TestVMClusterTenants(t *testing.T) {
	if testing.Short() {
		t.Skip("runs a VictoriaMetrics cluster and the simulator; skipped with -short")
	}
	cluster := vmtest.StartCluster(t)
	maps, _ := filepath.Abs(filepath.Join("..", "testdata", "maps"))
	sc, err := simulator.ParseScenario([]byte(fmt.Sprintf(`
seed: 5
interval: 1s
modbus: {maps: %q}
stations:
  - {id: HN-V1, kind: air, province: HN, transport: modbus, map: air-int16-scaled}
  - {id: HN-V2, kind: air, province: HN, transport: mqtt, format: json}
  - {id: HP-V3, kind: hydrological, province: HP, transport: modbus, map: hydro-float-cdab}
  - {id: HP-V4, kind: weather, province: HP, transport: mqtt, format: senml}
`, maps)), t.Name(), t.TempDir())
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
	tenants := map[string]int{"HN": 11, "HP": 12}
	cfg.Sink = collector.SinkConfig{Type: collector.SinkVictoriaMetrics, URL: cluster.InsertURL, Tenants: tenants, MinBackoff: 50 * time.Millisecond}
	log := zerolog.New(zerolog.NewTestWriter(t)).Level(zerolog.ErrorLevel)
	c, err := collector.New(cfg, collector.Options{Logger: log, Drivers: wire.Drivers()})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- c.Run(ctx) }()
	time.Sleep(4 * time.Second)
	sim.Stop()
	for deadline := time.Now().Add(30 * time.Second); c.Queue().Stats().PendingBytes > 0; time.Sleep(50 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("queue did not drain")
		}
	}
	cancel()
	<-done
	c.Close()
	vmtest.Flush(t, cluster.Storage)

	store, err := vmstore.New(vmstore.Options{Cluster: true, InsertURL: cluster.InsertURL, SelectURL: cluster.SelectURL, Tenants: tenants})
	if err != nil {
		t.Fatal(err)
	}
	perStation := map[string]int{}
	m := model.MustMatcher(model.MatchRegexp, model.LabelStation, "H.-V.")
	for _, prov := range []string{"HN", "HP"} {
		pm := model.MustMatcher(model.MatchEqual, model.LabelProvince, prov)
		err = store.Select(context.Background(), model.SelectQuery{Matchers: []*model.Matcher{m, pm}, From: 0, To: time.Now().Add(time.Hour).UnixMilli(), IncludeBad: true},
			func(ls model.Labels, pts []model.Point) error {
				id := ls.Get(model.LabelStation)
				for _, p := range pts {
					r, err := sim.Truth(id, ls.Metric(), time.UnixMilli(p.T))
					if err != nil || r.V == nil {
						return fmt.Errorf("%s at %d: no ground truth (%v)", ls, p.T, err)
					}
					if math.Abs(*r.V-p.V) > 1e-9*math.Max(1, math.Abs(*r.V)) {
						return fmt.Errorf("%s at %d: VictoriaMetrics has %v, ground truth %v", ls, p.T, p.V, *r.V)
					}
					if want, _ := model.ParseStatus(r.Status); p.Q.Status() != want {
						return fmt.Errorf("%s at %d: status %s, ground truth %s", ls, p.T, p.Q, r.Status)
					}
				}
				perStation[id] += len(pts)
				return nil
			})
		if err != nil {
			t.Fatal(err)
		}
	}
	for _, id := range []string{"HN-V1", "HN-V2", "HP-V3", "HP-V4"} {
		if perStation[id] == 0 {
			t.Fatalf("no samples of %s in VictoriaMetrics: %v", id, perStation)
		}
	}
	// Tenant 12 holds HP only.
	resp, err := http.Get(cluster.SelectURL + "/select/12/prometheus/api/v1/label/station/values")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var lv struct{ Data []string }
	json.NewDecoder(resp.Body).Decode(&lv)
	for _, s := range lv.Data {
		if s != "HP-V3" && s != "HP-V4" {
			t.Fatalf("tenant 12 (HP) holds station %s: %v", s, lv.Data)
		}
	}
	if len(lv.Data) != 2 {
		t.Fatalf("tenant 12 stations: %v", lv.Data)
	}
	t.Logf("samples per station read back through vmstore: %v", perStation)
}
