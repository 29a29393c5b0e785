package collector

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/quantrac/quantrac/drivers/modbus"
	"github.com/quantrac/quantrac/model"
)

// groundValues are plausible readings for every series name.
var groundValues = map[string]float64{
	"water_level_m": 3.25, "rainfall_mm": 1.5, "water_temperature_c": 24.5, "ph": 7.25, "do_mgl": 6.5,
	"tss_mgl": 40, "cod_mgl": 12, "nh4_mgl": 0.5, "pm25_ugm3": 35, "pm10_ugm3": 60, "co_ugm3": 1200,
	"no2_ugm3": 40, "so2_ugm3": 20, "o3_ugm3": 80, "temperature_c": 28.5, "humidity_percent": 75,
	"pressure_hpa": 1008, "wind_speed_ms": 3.5, "wind_direction_deg": 120, "dew_point_c": 22.5,
}

// expected returns what the driver must read back for values under map m.
func expected(t testing.TB, m *modbus.RegisterMap, values map[string]float64) map[string]float64 {
	out := map[string]float64{}
	for i := range m.Registers {
		r := &m.Registers[i]
		v, ok := values[r.Metric]
		if !ok || r.Type.IsBit() {
			continue
		}
		w, err := r.Encode(v)
		if err != nil {
			t.Fatal(err)
		}
		d, err := r.Decode(w)
		if err != nil {
			t.Fatal(err)
		}
		out[r.Metric] = d
	}
	return out
}

// writeConfig writes a config file beside copies of the test maps.
func writeConfig(t testing.TB, dir, body string) string {
	t.Helper()
	os.MkdirAll(filepath.Join(dir, "maps"), 0o755)
	for _, m := range []string{"hydro-float-cdab.yaml", "air-int16-scaled.yaml"} {
		data, err := os.ReadFile(filepath.Join("testdata", "maps", m))
		if err != nil {
			t.Fatal(err)
		}
		os.WriteFile(filepath.Join(dir, "maps", m), data, 0o644)
	}
	path := filepath.Join(dir, "collector.yaml")
	if err := os.WriteFile(path, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

func loadMap(t testing.TB, name string) *modbus.RegisterMap {
	m, err := modbus.LoadRegisterMap(filepath.Join("testdata", "maps", name))
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// modbusDrivers builds real drivers/modbus devices (as collector/wire does;
// wire cannot be imported from here).
func modbusDrivers(pool *modbus.Pool) Drivers {
	return Drivers{Modbus: func(st *StationConfig, mapPath string, log zerolog.Logger) (Poller, error) {
		mc := st.Modbus
		return modbus.New(st.Station(), modbus.Config{Address: mc.Address, SlaveID: mc.SlaveID, Map: mapPath, Interval: mc.Interval, Timeout: mc.Timeout}, modbus.Options{Pool: pool, Logger: &log})
	}}
}

type running struct {
	c      *Collector
	cancel context.CancelFunc
	done   chan error
}

func startCollector(t testing.TB, cfg *Config, opts Options) *running {
	t.Helper()
	c, err := New(cfg, opts)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	r := &running{c: c, cancel: cancel, done: make(chan error, 1)}
	go func() { r.done <- c.Run(ctx) }()
	t.Cleanup(r.stop)
	return r
}

func (r *running) stop() {
	if r.cancel == nil {
		return
	}
	r.cancel()
	<-r.done
	r.c.Close()
	r.cancel = nil
}

// TestModbusGroundTruth polls real Modbus TCP servers through the real
// driver: every value collected equals what the server holds, stamped with
// the aligned slot; a station that never answers in time misses polls and
// does not hold up the others.
func TestModbusGroundTruth(t *testing.T) {
	api := newIngestServer(t)
	fast := newMBServer(t)
	slow := newMBServer(t)
	hydro, air := loadMap(t, "hydro-float-cdab.yaml"), loadMap(t, "air-int16-scaled.yaml")
	fast.load(t, 1, hydro, groundValues)
	fast.load(t, 2, air, groundValues)
	slow.load(t, 1, air, groundValues)
	slow.delay[1] = 2 * time.Second

	dir := t.TempDir()
	path := writeConfig(t, dir, fmt.Sprintf(`data_dir: %s
sink: {type: api, url: %q, min_backoff: 50ms, max_backoff: 200ms}
stations:
  - {id: HN-LongBien, name: "Long Biên", kind: hydrological, province: HN, lat: 21.04, lon: 105.86, driver: modbus,
     modbus: {address: "tcp://%s", slave_id: 1, map: maps/hydro-float-cdab.yaml, interval: 200ms, timeout: 150ms}}
  - {id: HN-AnKhanh, kind: air, province: HN, driver: modbus, labels: {site: roof},
     modbus: {address: "tcp://%s", slave_id: 2, map: maps/air-int16-scaled.yaml, interval: 300ms, timeout: 200ms}}
  - {id: HN-Slow, kind: air, province: HN, driver: modbus,
     modbus: {address: "tcp://%s", slave_id: 1, map: maps/air-int16-scaled.yaml, interval: 200ms, timeout: 200ms, jitter: 0s}}
`, filepath.Join(dir, "queue"), api.url(), fast.addr, fast.addr, slow.addr))
	cfg, err := LoadConfig(path)
	if err != nil {
		t.Fatal(err)
	}
	pool := modbus.NewPool(modbus.PoolOptions{ReconnectMin: 10 * time.Millisecond, ReconnectMax: 50 * time.Millisecond})
	defer pool.Close()
	r := startCollector(t, cfg, Options{Logger: testLog(t), Drivers: modbusDrivers(pool)})

	check := func(station string, m *modbus.RegisterMap, values map[string]float64, iv time.Duration, extra map[string]string) {
		t.Helper()
		want := expected(t, m, values)
		waitFor(t, station+" values", 30*time.Second, func() bool {
			got := api.snapshot()
			for metric, v := range want {
				found := false
				for k, pts := range got {
					if strings.HasPrefix(k, metric+"{") && strings.Contains(k, `station="`+station+`"`) && len(pts) > 0 && pts[len(pts)-1].V == v {
						found = true
					}
				}
				if !found {
					return false
				}
			}
			return true
		})
		for k, pts := range api.snapshot() {
			if !strings.Contains(k, `station="`+station+`"`) {
				continue
			}
			for name, val := range extra {
				if !strings.Contains(k, name+`="`+val+`"`) {
					t.Fatalf("series %s lacks label %s=%q", k, name, val)
				}
			}
			for i, p := range pts {
				if p.T%iv.Milliseconds() != 0 {
					t.Fatalf("series %s: timestamp %d not aligned to %v", k, p.T, iv)
				}
				if i > 0 && p.T <= pts[i-1].T {
					t.Fatalf("series %s: timestamps not increasing", k)
				}
			}
		}
	}
	check("HN-LongBien", hydro, groundValues, 200*time.Millisecond, map[string]string{"province": "HN", "kind": "hydrological"})
	check("HN-AnKhanh", air, groundValues, 300*time.Millisecond, map[string]string{"kind": "air", "site": "roof"})

	// New readings on the server are what the collector reports next.
	changed := map[string]float64{}
	for k, v := range groundValues {
		changed[k] = math.Round(v*1.1*100) / 100
	}
	fast.load(t, 2, air, changed)
	check("HN-AnKhanh", air, changed, 300*time.Millisecond, nil)

	waitFor(t, "missed polls of the slow station", 20*time.Second, func() bool {
		for _, st := range r.c.Status() {
			if st.ID == "HN-Slow" && st.MissedPolls > 0 && st.Errors > 0 {
				return true
			}
		}
		return false
	})
	api.mu.Lock()
	announced := len(api.stations)
	api.mu.Unlock()
	if announced != 3 {
		t.Fatalf("stations announced: %d, want 3", announced)
	}

	// /status shows last values and the slow station's error; /metrics has the per-station series.
	rec := httptest.NewRecorder()
	r.c.Handler().ServeHTTP(rec, httptest.NewRequest("GET", "/status", nil))
	var status struct{ Stations []StationStatus }
	if err := json.Unmarshal(rec.Body.Bytes(), &status); err != nil {
		t.Fatal(err)
	}
	for _, st := range status.Stations {
		switch st.ID {
		case "HN-Slow":
			if st.LastError == "" {
				t.Fatalf("slow station shows no error: %+v", st)
			}
		case "HN-LongBien":
			if st.Values["water_level_m"].V != expected(t, hydro, groundValues)["water_level_m"] || st.LastSuccess == 0 {
				t.Fatalf("status of HN-LongBien: %+v", st)
			}
		}
	}
	rec = httptest.NewRecorder()
	r.c.Handler().ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	for _, want := range []string{`quantrac_collector_missed_polls_total{station="HN-Slow"}`, `quantrac_collector_last_success_timestamp_seconds{station="HN-LongBien"}`, `quantrac_queue_pending_bytes`, `quantrac_collector_poll_duration_seconds_bucket{station="HN-AnKhanh"`} {
		if !strings.Contains(rec.Body.String(), want) {
			t.Fatalf("/metrics lacks %s", want)
		}
	}
}

func pushConfig(t testing.TB, dir, url, extra string) *Config {
	path := writeConfig(t, dir, fmt.Sprintf(`data_dir: %s
sink: {type: api, url: %q, min_backoff: 20ms, max_backoff: 100ms, batch_samples: 50}
mqtt: {broker: "tcp://127.0.0.1:1", client_id: c1, subscriptions: [{topic: "stations/{province}/{station}", format: json}]}
stations:
  - {id: P1, kind: air, province: HN, driver: mqtt}
  - {id: P2, kind: air, province: HN, driver: mqtt}
%s`, filepath.Join(dir, "queue"), url, extra))
	cfg, err := LoadConfig(path)
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}

func pushDrivers(src *pushSource) Drivers {
	return Drivers{MQTT: func(cfg *MQTTConfig, _ []model.Station, h PushHandler, log zerolog.Logger) (Runner, error) {
		return runnerFunc(func(ctx context.Context) error { return src.Run(ctx, h) }), nil
	}}
}

// checkComplete fails unless every acknowledged batch of src arrived.
func checkComplete(t testing.TB, src *pushSource, got map[string][]model.Point) {
	t.Helper()
	src.mu.Lock()
	acked := append([]int64(nil), src.acked...)
	src.mu.Unlock()
	for _, st := range src.stations {
		for i := 0; i < src.perBatch; i++ {
			k := model.New(pushMetrics[i%len(pushMetrics)], "station", st, "province", "HN", "kind", "air").String()
			have := map[int64]bool{}
			for _, p := range got[k] {
				have[p.T] = true
			}
			for _, seq := range acked {
				if !have[src.base+seq*1000] {
					t.Fatalf("series %s: acknowledged batch %d never arrived (%d of %d points there)", k, seq, len(got[k]), len(acked))
				}
			}
		}
	}
}

// TestSinkDownThenBack stops the receiving server for a while: the queue
// grows, and once the server is back every acknowledged sample arrives,
// once, in order per series.
func TestSinkDownThenBack(t *testing.T) {
	api := newIngestServer(t)
	src := &pushSource{stations: []string{"P1", "P2"}, every: 5 * time.Millisecond, perBatch: 3, base: time.Now().Add(-time.Hour).UnixMilli() / 1000 * 1000}
	cfg := pushConfig(t, t.TempDir(), api.url(), "")
	r := startCollector(t, cfg, Options{Logger: testLog(t), Drivers: pushDrivers(src)})

	waitFor(t, "first samples", 20*time.Second, func() bool { return api.total() > 30 })
	api.stop()
	src.mu.Lock()
	downAt := len(src.acked)
	src.mu.Unlock()
	waitFor(t, "queue to grow while the sink is down", 20*time.Second, func() bool {
		src.mu.Lock()
		n := len(src.acked)
		src.mu.Unlock()
		return n > downAt+100 && r.c.Queue().Stats().PendingBytes > 0
	})
	api.start()
	src.mu.Lock()
	src.limit = src.next + 20
	src.mu.Unlock()
	waitFor(t, "every batch delivered", 60*time.Second, func() bool {
		src.mu.Lock()
		n := int64(len(src.acked))
		done := src.next >= src.limit && n == src.limit
		src.mu.Unlock()
		return done && api.total() == int(n)*6
	})
	got := api.snapshot()
	checkComplete(t, src, got)
	checkOrdered(t, got)
	api.mu.Lock()
	dups := api.dups
	api.mu.Unlock()
	// At-least-once: a request cut by the shutdown may be resent, no more.
	if dups > 50*2 {
		t.Fatalf("%d duplicate samples", dups)
	}
	waitFor(t, "queue drained", 10*time.Second, func() bool { return r.c.Queue().Stats().PendingBytes == 0 })
}

// TestReloadKeepsQueue reloads onto a new sink while the old one is down:
// nothing buffered is lost.
func TestReloadKeepsQueue(t *testing.T) {
	down := newIngestServer(t)
	down.stop()
	up := newIngestServer(t)
	src := &pushSource{stations: []string{"P1"}, every: 5 * time.Millisecond, perBatch: 2, base: time.Now().Add(-time.Hour).UnixMilli() / 1000 * 1000, limit: 60}
	dir := t.TempDir()
	cfg := pushConfig(t, dir, down.url(), "")
	r := startCollector(t, cfg, Options{Logger: testLog(t), Drivers: pushDrivers(src)})
	waitFor(t, "all batches queued", 20*time.Second, func() bool {
		src.mu.Lock()
		defer src.mu.Unlock()
		return len(src.acked) == 60
	})
	cfg2 := pushConfig(t, dir, up.url(), "")
	cfg2.Stations = cfg2.Stations[:1] // P2 removed: gone from /status
	if err := r.c.Reload(cfg2); err != nil {
		t.Fatal(err)
	}
	for _, st := range r.c.Status() {
		if st.ID == "P2" {
			t.Fatal("removed station still in the status")
		}
	}
	waitFor(t, "delivery after reload", 20*time.Second, func() bool { return up.total() == 120 })
	checkComplete(t, src, up.snapshot())
	checkOrdered(t, up.snapshot())

	bad := *cfg2
	bad.DataDir = filepath.Join(dir, "elsewhere")
	if err := r.c.Reload(&bad); err == nil {
		t.Fatal("reload to another data_dir accepted")
	}
}

// TestQueueFullDropsOldestCounted bounds the queue while the sink is down:
// the oldest blocks are dropped and counted, the newest all arrive.
func TestQueueFullDropsOldestCounted(t *testing.T) {
	api := newIngestServer(t)
	api.stop()
	src := &pushSource{stations: []string{"P1"}, every: 2 * time.Millisecond, perBatch: 2, base: time.Now().Add(-time.Hour).UnixMilli() / 1000 * 1000, limit: 300}
	dir := t.TempDir()
	cfg := pushConfig(t, dir, api.url(), "")
	cfg.Queue.MaxBytes = 8 << 10
	cfg.Queue.ChunkBytes = 2 << 10
	r := startCollector(t, cfg, Options{Logger: testLog(t), Drivers: pushDrivers(src)})
	waitFor(t, "all batches queued", 30*time.Second, func() bool {
		src.mu.Lock()
		defer src.mu.Unlock()
		return len(src.acked) == 300
	})
	st := r.c.Queue().Stats()
	if st.DroppedBlocks == 0 || st.PendingBytes > 8<<10 {
		t.Fatalf("queue over its bound without drops: %+v", st)
	}
	api.start()
	kept := 300 - int(st.DroppedBlocks)
	waitFor(t, "the newest block and an empty queue", 20*time.Second, func() bool {
		for _, pts := range api.snapshot() {
			if len(pts) > 0 && pts[len(pts)-1].T == src.base+299*1000 {
				return r.c.Queue().Stats().PendingBytes == 0
			}
		}
		return false
	})
	got := api.snapshot()
	checkOrdered(t, got)
	for k, pts := range got {
		// The newest `kept` batches all arrive, contiguous; besides them only
		// the batch the sender was holding when the drop happened.
		n := len(pts)
		if n < kept || n > kept+50 {
			t.Fatalf("series %s: %d points, want %d kept (+ at most one in-flight batch)", k, n, kept)
		}
		for i := 0; i < kept; i++ {
			if want := src.base + int64(299-i)*1000; pts[n-1-i].T != want {
				t.Fatalf("series %s: point %d from the end at %d, want %d", k, i, pts[n-1-i].T, want)
			}
		}
	}
	if st := r.c.Queue().Stats(); st.Corrupt != 0 {
		t.Fatalf("corrupt frames: %d", st.Corrupt)
	}
}
