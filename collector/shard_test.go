package collector

import (
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestShardSplit runs two collectors with shard 0/2 and 1/2 on the same
// pushed stream (as two MQTT subscribers both receive every message): each
// keeps only its stations, and together they deliver every station once.
func TestShardSplit(t *testing.T) {
	api := newIngestServer(t)
	var ids []string
	for i := 0; i < 10; i++ {
		ids = append(ids, fmt.Sprintf("S%d", i))
	}
	stations := ""
	for _, id := range ids {
		stations += fmt.Sprintf("  - {id: %s, kind: air, province: HN, driver: mqtt}\n", id)
	}
	base := time.Now().Add(-time.Hour).UnixMilli() / 1000 * 1000
	var running []*running
	var srcs []*pushSource
	for shard := 0; shard < 2; shard++ {
		dir := t.TempDir()
		path := writeConfig(t, dir, fmt.Sprintf(`data_dir: %s
sink: {type: api, url: %q, min_backoff: 20ms}
shard: {index: %d, count: 2}
mqtt: {broker: "tcp://127.0.0.1:1", client_id: c%d, subscriptions: [{topic: "stations/{province}/{station}", format: json}]}
stations:
%s`, filepath.Join(dir, "queue"), api.url(), shard, shard, stations))
		cfg, err := LoadConfig(path)
		if err != nil {
			t.Fatal(err)
		}
		src := &pushSource{stations: ids, every: 5 * time.Millisecond, perBatch: 2, base: base, limit: 20}
		srcs = append(srcs, src)
		running = append(running, startCollector(t, cfg, Options{Logger: testLog(t), Drivers: pushDrivers(src)}))
	}
	waitFor(t, "every station's 20 batches", 30*time.Second, func() bool { return api.total() == 10*2*20 })
	time.Sleep(100 * time.Millisecond)
	api.mu.Lock()
	dups := api.dups
	api.mu.Unlock()
	if dups != 0 || api.total() != 400 {
		t.Fatalf("%d samples, %d duplicates: shards overlap", api.total(), dups)
	}
	for shard, r := range running {
		for _, st := range r.c.Status() {
			if ShardOf(st.ID, 2) != shard && st.LastSuccess != 0 {
				t.Fatalf("collector of shard %d stored station %s of shard %d", shard, st.ID, ShardOf(st.ID, 2))
			}
		}
		if !strings.Contains(metricsOf(r.c), "quantrac_collector_other_shard_samples_total") {
			t.Fatal("other-shard counter missing")
		}
	}
}

func metricsOf(c *Collector) string {
	var b strings.Builder
	c.set.WritePrometheus(&b)
	return b.String()
}
