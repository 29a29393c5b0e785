package collector

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestExampleConfig(t *testing.T) {
	c, err := LoadConfig(filepath.Join("..", "configs", "collector.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	if c.Sink.Type != SinkAPI || len(c.Stations) != 4 || c.Stations[0].Modbus.Interval != 10*time.Second {
		t.Fatalf("unexpected example config: %+v", c)
	}
}

const baseConfig = `data_dir: data
sink: {type: api, url: "http://127.0.0.1:8080"}
stations:
  - id: A
    kind: air
    province: HN
    driver: modbus
    modbus: {address: "tcp://127.0.0.1:1502", slave_id: 1, map: maps/air-int16-scaled.yaml, interval: 10s}
`

func TestConfigErrors(t *testing.T) {
	dir := t.TempDir()
	os.MkdirAll(filepath.Join(dir, "maps"), 0o755)
	data, _ := os.ReadFile(filepath.Join("testdata", "maps", "air-int16-scaled.yaml"))
	os.WriteFile(filepath.Join(dir, "maps", "air-int16-scaled.yaml"), data, 0o644)
	name := filepath.Join(dir, "c.yaml")

	f := func(cfg, want string) {
		t.Helper()
		_, err := ParseConfig([]byte(cfg), name)
		if want == "" {
			if err != nil {
				t.Fatalf("unexpected error: %v", err)
			}
			return
		}
		if err == nil {
			t.Fatalf("config accepted, want error %q\n%s", want, cfg)
		}
		if !strings.Contains(err.Error(), want) || !strings.Contains(err.Error(), name) {
			t.Fatalf("error %q does not contain %q and the file name", err, want)
		}
	}
	f(baseConfig, "")
	f("", "file is empty")
	// goccy/go-yaml v1.19.2 panics on a tagged empty node where a sequence belongs.
	f("stations:\n  ! 0\n0000000008:", `: yaml parser failed on malformed input near line 2 "  ! 0"`)
	f("registers:\n  ! 0\n0000000008:", "c.yaml")
	f(strings.Replace(baseConfig, "data_dir: data\n", "", 1), "data_dir: required")
	f(strings.Replace(baseConfig, "type: api", "type: kafka", 1), ":2: sink.type: unknown sink \"kafka\"")
	f(strings.Replace(baseConfig, "kind: air", "kind: volcano", 1), ":5: stations[0].kind: unknown kind")
	f(strings.Replace(baseConfig, "driver: modbus", "driver: snmp", 1), ":7: stations[0].driver: unknown driver")
	f(strings.Replace(baseConfig, "air-int16-scaled", "missing", 1), ":8: stations[0].modbus.map:")
	f(strings.Replace(baseConfig, "interval: 10s", "interval: 10ms", 1), "stations[0].modbus.interval: 10ms is too short")
	f(strings.Replace(baseConfig, "interval: 10s", "interval: ten", 1), ":8: interval: time: invalid duration")
	f(strings.Replace(baseConfig, "slave_id: 1", "slave_id: 300", 1), "slave_id: 300 is outside")
	f(strings.Replace(baseConfig, "tcp://127.0.0.1:1502", "udp://x", 1), "modbus.address")
	f(baseConfig+"    colour: red\n", ":9:")
	f(baseConfig+"shard: {index: 2, count: 2}\n", "shard.index: index 2 must be in [0, count=2)")
	f(baseConfig+"  - {id: A, kind: air, province: HN, driver: mqtt}\n", ":9: stations[1].id: station \"A\" already defined")
	f(baseConfig+"  - {id: B, kind: air, province: HN, driver: mqtt}\n", "driver mqtt needs the top-level mqtt section")
	f(baseConfig+"validation: {limits: {ph: {min: 14, max: 0}}}\n", "validation.limits.ph.min: min 14 is above max 0")
	f(baseConfig+"    derive: [{metric: humidity_percent, func: rh_from_dew_point, inputs: [temperature_c]}]\n", "takes 2 input series, got 1")
	f(baseConfig+"queue: {fsync: sometimes}\n", "queue.fsync: unknown fsync policy")
	f(baseConfig+"mqtt: {broker: \"tcp://127.0.0.1:1883\", client_id: c, subscriptions: [{topic: a/b, format: xml}]}\n", "mqtt.subscriptions[0].format: unknown format \"xml\"")
	f(strings.Replace(baseConfig, "type: api, url: \"http://127.0.0.1:8080\"", "type: victoriametrics, url: \"http://127.0.0.1:8428\", account_id: \"x1\"", 1), "sink.account_id")
}

// FuzzParseConfig: no input makes the config parser panic, and every error
// names the file.
func FuzzParseConfig(f *testing.F) {
	f.Add([]byte(baseConfig))
	f.Add([]byte("stations:\n  ! 0\n0000000008:"))
	f.Add([]byte("registers:\n  ! 0\n0000000008:"))
	if data, err := os.ReadFile(filepath.Join("..", "configs", "collector.yaml")); err == nil {
		f.Add(data)
	}
	dir := f.TempDir()
	name := filepath.Join(dir, "fuzz.yaml")
	f.Fuzz(func(t *testing.T, data []byte) {
		if _, err := ParseConfig(data, name); err != nil && !strings.Contains(err.Error(), name) {
			t.Fatalf("error does not name the file: %v", err)
		}
	})
}

func TestShard(t *testing.T) {
	counts := make([]int, 3)
	for i := 0; i < 300; i++ {
		id := "ST-" + string(rune('A'+i%26)) + string(rune('0'+i/26))
		owners := 0
		for s := 0; s < 3; s++ {
			if (ShardConfig{Index: s, Count: 3}).Owns(id) {
				owners++
				counts[s]++
			}
		}
		if owners != 1 {
			t.Fatalf("station %s owned by %d shards", id, owners)
		}
	}
	for s, n := range counts {
		if n < 50 {
			t.Fatalf("shard %d got only %d of 300 stations", s, n)
		}
	}
	if !(ShardConfig{}).Owns("anything") {
		t.Fatal("no sharding must own every station")
	}
}

func TestSlotAfter(t *testing.T) {
	base := time.Date(2026, 11, 25, 8, 0, 0, 0, time.UTC)
	f := func(now time.Time, iv, jit time.Duration, want time.Time) {
		t.Helper()
		if got := slotAfter(now, iv, jit); !got.Equal(want) {
			t.Fatalf("slotAfter(%v, %v, %v) = %v, want %v", now, iv, jit, got, want)
		}
	}
	f(base, 10*time.Second, 0, base)
	f(base.Add(time.Millisecond), 10*time.Second, 0, base.Add(10*time.Second))
	f(base.Add(3*time.Second), 10*time.Second, 2*time.Second, base.Add(10*time.Second))
	f(base.Add(time.Second), 10*time.Second, 2*time.Second, base)
}
