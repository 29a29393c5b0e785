package collector

import (
	"context"
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/quantrac/quantrac/model"
)

// tableDriver stands in for drivers/mqtt: a message decodes only when its
// station is in the station table handed to the driver (that is where
// province and kind come from); otherwise it is a bad message.
type tableDriver struct {
	ids []string // stations that publish, one message each
	t0  int64

	mu    sync.Mutex
	table map[string]model.Station
	bad   []string
	acked []string
	sent  bool
}

func (d *tableDriver) build(cfg *MQTTConfig, stations []model.Station, h PushHandler, log zerolog.Logger) (Runner, error) {
	d.mu.Lock()
	d.table = map[string]model.Station{}
	for _, st := range stations {
		d.table[st.ID] = st
	}
	d.mu.Unlock()
	return runnerFunc(func(ctx context.Context) error {
		d.mu.Lock()
		send := !d.sent
		d.sent = true
		d.mu.Unlock()
		if send {
			for _, id := range d.ids {
				d.mu.Lock()
				st, ok := d.table[id]
				if !ok {
					d.bad = append(d.bad, id)
					d.mu.Unlock()
					continue
				}
				d.mu.Unlock()
				batch := []model.Sample{{Labels: model.New("pm25_ugm3", "station", id, "province", st.Province, "kind", st.Kind), T: d.t0, V: 12.5}}
				h(ctx, batch, func() {
					d.mu.Lock()
					d.acked = append(d.acked, id)
					d.mu.Unlock()
				})
			}
		}
		<-ctx.Done()
		return nil
	}), nil
}

// TestShardMQTTOtherShard: with shard set, messages of the other shard's
// MQTT stations decode, are counted as another shard's and acknowledged;
// only a station missing from the config is a bad message.
func TestShardMQTTOtherShard(t *testing.T) {
	api := newIngestServer(t)
	var ids []string
	stations := ""
	for i := 0; i < 10; i++ {
		id := fmt.Sprintf("S%d", i)
		ids = append(ids, id)
		stations += fmt.Sprintf("  - {id: %s, kind: air, province: HN, driver: mqtt}\n", id)
	}
	dir := t.TempDir()
	path := writeConfig(t, dir, fmt.Sprintf(`data_dir: %s
sink: {type: api, url: %q, min_backoff: 20ms}
shard: {index: 0, count: 2}
mqtt: {broker: "tcp://127.0.0.1:1", client_id: c0, subscriptions: [{topic: "stations/{province}/{station}", format: json}]}
stations:
%s`, filepath.Join(dir, "queue"), api.url(), stations))
	cfg, err := LoadConfig(path)
	if err != nil {
		t.Fatal(err)
	}
	mine, other := 0, 0
	for _, id := range ids {
		if cfg.Shard.Owns(id) {
			mine++
		} else {
			other++
		}
	}
	if mine == 0 || other == 0 {
		t.Fatalf("test stations all in one shard (%d mine, %d other)", mine, other)
	}
	d := &tableDriver{ids: append(append([]string(nil), ids...), "NOT-CONFIGURED"), t0: time.Now().Add(-time.Hour).UnixMilli()}
	r := startCollector(t, cfg, Options{Logger: testLog(t), Drivers: Drivers{MQTT: d.build}})
	waitFor(t, "this shard's samples", 20*time.Second, func() bool { return api.total() == mine })
	waitFor(t, "every configured station's message acknowledged", 20*time.Second, func() bool {
		d.mu.Lock()
		defer d.mu.Unlock()
		return len(d.acked) == len(ids)
	})
	d.mu.Lock()
	bad := append([]string(nil), d.bad...)
	d.mu.Unlock()
	if len(bad) != 1 || bad[0] != "NOT-CONFIGURED" {
		t.Errorf("bad messages from %v, want only the station missing from the config", bad)
	}
	want := fmt.Sprintf("quantrac_collector_other_shard_samples_total %d", other)
	if m := metricsOf(r.c); !slices.Contains(strings.Split(m, "\n"), want) {
		t.Errorf("metrics lack %q:\n%s", want, m)
	}
}
