package wire_test

import (
	"context"
	"fmt"
	"math"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/quantrac/quantrac/api"
	"github.com/quantrac/quantrac/collector"
	"github.com/quantrac/quantrac/collector/wire"
	"github.com/quantrac/quantrac/model"
	"github.com/quantrac/quantrac/simulator"
)

func startAPI(t *testing.T, dir, addr string) *api.Server {
	t.Helper()
	cfg := api.DefaultConfig()
	cfg.HTTP = addr
	cfg.DataDir = dir
	var srv *api.Server
	var err error
	for i := 0; i < 100; i++ {
		if srv, err = api.New(cfg); err == nil {
			if err = srv.Start(); err == nil {
				return srv
			}
			srv.Shutdown(context.Background())
		}
		time.Sleep(50 * time.Millisecond) // the port or the tsdb lock is still held
	}
	t.Fatalf("start api: %v", err)
	return nil
}

// TestRealAPIDownAndBack runs the simulator's stations through the real
// drivers into the real api, shuts the api down for a while and starts it
// again on the same address and data: every sample the collector queued is
// stored once, with the ground-truth value.
func TestRealAPIDownAndBack(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the simulator and the api for several seconds; skipped with -short")
	}
	maps, _ := filepath.Abs(filepath.Join("..", "testdata", "maps"))
	sc, err := simulator.ParseScenario([]byte(fmt.Sprintf(`
seed: 3
interval: 1s
modbus: {maps: %q}
stations:
  - {id: QN-MB1, kind: hydrological, province: QN, transport: modbus, map: hydro-float-cdab}
  - {id: QN-MB2, kind: air, province: QN, transport: modbus, map: air-int16-scaled}
  - {id: QN-MQ1, kind: air, province: QN, transport: mqtt, format: json}
  - {id: QN-MQ2, kind: weather, province: QN, transport: mqtt, format: senml}
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

	apiDir := t.TempDir()
	srv := startAPI(t, apiDir, "127.0.0.1:0")
	addr := srv.Addr()
	token, err := srv.Tokens().Create("collector", "ingest", "")
	if err != nil {
		t.Fatal(err)
	}
	defer func() { srv.Shutdown(context.Background()) }()

	dir := t.TempDir()
	path := filepath.Join(dir, "collector.yaml")
	if err := sim.WriteCollectorConfig(simulator.CollectorConfigOptions{Path: path, DataDir: filepath.Join(dir, "queue"),
		SinkType: "api", SinkURL: "http://" + addr, SinkToken: token, Timeout: 500 * time.Millisecond}); err != nil {
		t.Fatal(err)
	}
	cfg, err := collector.LoadConfig(path)
	if err != nil {
		t.Fatal(err)
	}
	cfg.Sink.MinBackoff, cfg.Sink.MaxBackoff = 50*time.Millisecond, 300*time.Millisecond
	log := zerolog.New(zerolog.NewTestWriter(t)).Level(zerolog.ErrorLevel)
	c, err := collector.New(cfg, collector.Options{Logger: log, Drivers: wire.Drivers()})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- c.Run(ctx) }()
	stopCollector := func() {
		if cancel != nil {
			cancel()
			<-done
			c.Close()
			cancel = nil
		}
	}
	defer stopCollector()

	queued := func() uint64 {
		var n uint64
		for _, st := range c.Status() {
			n += uint64(len(st.Values))
		}
		return n
	}
	wait := func(what string, cond func() bool) {
		t.Helper()
		deadline := time.Now().Add(60 * time.Second)
		for !cond() {
			if time.Now().After(deadline) {
				t.Fatalf("timed out waiting for %s", what)
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
	wait("readings from every station", func() bool { return queued() > 0 && len(c.Status()) == 4 && c.Queue().Stats().WriterOffset > 0 })
	time.Sleep(2 * time.Second)
	if err := srv.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
	grown := c.Queue().Stats().PendingBytes
	wait("the queue to grow while the api is down", func() bool {
		p := c.Queue().Stats().PendingBytes
		return p > grown && p > 2000
	})
	srv = startAPI(t, apiDir, addr)
	time.Sleep(2 * time.Second)
	sim.Stop()
	wait("the queue to drain", func() bool { return c.Queue().Stats().PendingBytes == 0 })
	stopCollector()

	// What the collector queued, per station (from its metrics).
	sent := map[string]float64{}
	for _, line := range strings.Split(metricsText(c), "\n") {
		if rest, ok := strings.CutPrefix(line, `quantrac_collector_samples_total{station="`); ok {
			var id string
			var n float64
			if i := strings.Index(rest, `"} `); i > 0 {
				id = rest[:i]
				fmt.Sscan(rest[i+3:], &n)
				sent[id] = n
			}
		}
	}
	stored := map[string]float64{}
	m := model.MustMatcher(model.MatchRegexp, model.LabelStation, "QN-.*")
	err = srv.Store().Select(context.Background(), model.SelectQuery{Matchers: []*model.Matcher{m}, From: 0, To: model.MaxTime - 1, IncludeBad: true},
		func(ls model.Labels, pts []model.Point) error {
			id := ls.Get(model.LabelStation)
			stored[id] += float64(len(pts))
			for _, p := range pts {
				r, err := sim.Truth(id, ls.Metric(), time.UnixMilli(p.T))
				if err != nil || r.V == nil {
					return fmt.Errorf("%s at %d: no ground truth (%v)", ls, p.T, err)
				}
				if math.Abs(*r.V-p.V) > 1e-9*math.Max(1, math.Abs(*r.V)) {
					return fmt.Errorf("%s at %d: stored %v, ground truth %v", ls, p.T, p.V, *r.V)
				}
			}
			return nil
		})
	if err != nil {
		t.Fatal(err)
	}
	for id, n := range sent {
		if stored[id] != n {
			t.Fatalf("station %s: collector queued %v samples, api stored %v", id, n, stored[id])
		}
	}
	if len(sent) != 4 {
		t.Fatalf("stations with samples: %v", sent)
	}
	t.Logf("queued = stored per station: %v", sent)
}

func metricsText(c *collector.Collector) string {
	rec := &recorder{}
	req, _ := httpNewRequest("/metrics")
	c.Handler().ServeHTTP(rec, req)
	return rec.b.String()
}

type recorder struct {
	b strings.Builder
	h http.Header
}

func (r *recorder) Header() http.Header {
	if r.h == nil {
		r.h = http.Header{}
	}
	return r.h
}
func (r *recorder) Write(p []byte) (int, error) { return r.b.Write(p) }
func (r *recorder) WriteHeader(int)             {}

func httpNewRequest(path string) (*http.Request, error) { return http.NewRequest("GET", path, nil) }
