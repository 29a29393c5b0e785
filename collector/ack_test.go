package collector

import (
	"context"
	"testing"

	"github.com/quantrac/quantrac/model"
)

// TestNoAckWithoutQueue: when the disk queue cannot take a batch, the MQTT
// ack is not called and the file handler returns an error (the broker
// redelivers, the file stays in the spool).
func TestNoAckWithoutQueue(t *testing.T) {
	api := newIngestServer(t)
	cfg := pushConfig(t, t.TempDir(), api.url(), "")
	c, err := New(cfg, Options{Logger: testLog(t)})
	if err != nil {
		t.Fatal(err)
	}
	g := &generation{cfg: cfg, stations: map[string]*StationConfig{"P1": &cfg.Stations[0]}}
	batch := []model.Sample{{Labels: model.New("pm25_ugm3", "station", "P1", "province", "HN"), T: 1764057600000, V: 10}}

	acked := 0
	c.pushHandler(g)(context.Background(), batch, func() { acked++ })
	if err := c.fileHandler(g)(context.Background(), batch); err != nil || acked != 1 {
		t.Fatalf("with the queue open: ack %d, file handler %v", acked, err)
	}
	c.Queue().Close()
	c.pushHandler(g)(context.Background(), batch, func() { acked++ })
	if acked != 1 {
		t.Fatal("acknowledged a batch that is not in the queue")
	}
	if err := c.fileHandler(g)(context.Background(), batch); err == nil {
		t.Fatal("file handler returned nil without queueing")
	}
	st := c.Status()
	if len(st) != 1 || st[0].LastError == "" {
		t.Fatalf("queue failure not shown in the status: %+v", st)
	}
}
