package modbus

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/quantrac/quantrac/model"
)

// Sink keeps benchmark results alive.
var Sink atomic.Uint64

func benchMap(tb testing.TB) (*RegisterMap, map[string]float64) {
	var b strings.Builder
	b.WriteString("byte_order: CDAB\nregisters:\n")
	values := map[string]float64{}
	for i := 0; i < 10; i++ { // 10 float32 = 20 registers, one read
		fmt.Fprintf(&b, "  - {metric: v%d, type: holding, address: %d, data_type: float32}\n", i, 2*i)
		values[fmt.Sprintf("v%d", i)] = float64(i) + 0.5
	}
	return mustMap(tb, b.String()), values
}

// benchmarkDevices polls `devices` devices spread over `servers` in-process
// Modbus TCP servers (devices on one server share its connection as slaves
// behind a gateway), each device on its own goroutine as the collector runs
// them; one benchmark op is one round in which every device polls once.
func benchmarkDevices(b *testing.B, devices, servers int) {
	m, values := benchMap(b)
	pool := NewPool(PoolOptions{})
	defer pool.Close()
	srvs := make([]*testServer, servers)
	for i := range srvs {
		srvs[i] = newTestServer(b)
	}
	devs := make([]*Device, devices)
	for i := range devs {
		srv := srvs[i%servers]
		slave := uint8(1 + i/servers)
		srv.load(b, slave, m, values, 0)
		st := model.Station{ID: fmt.Sprintf("S-%04d", i), Kind: model.KindHydrological, Province: "HN"}
		d, err := New(st, Config{Address: srv.url(), SlaveID: int(slave), Timeout: 5 * time.Second}, Options{Map: m, Pool: pool})
		if err != nil {
			b.Fatal(err)
		}
		defer d.Close()
		devs[i] = d
	}
	ctx := context.Background()
	var failed atomic.Int64
	round := func() {
		var wg sync.WaitGroup
		for _, d := range devs {
			wg.Add(1)
			go func() {
				defer wg.Done()
				s, err := d.Poll(ctx, time.Now())
				if err != nil || len(s) != 10 {
					failed.Add(1)
					return
				}
				Sink.Add(uint64(len(s)))
			}()
		}
		wg.Wait()
	}
	round() // connect everything first
	b.ReportAllocs()
	b.ResetTimer()
	start := time.Now()
	for i := 0; i < b.N; i++ {
		round()
	}
	elapsed := time.Since(start)
	b.StopTimer()
	if n := failed.Load(); n > 0 {
		b.Fatalf("%d polls failed", n)
	}
	b.ReportMetric(float64(devices*b.N)/elapsed.Seconds(), "polls/s")
	b.ReportMetric(float64(10*devices*b.N)/elapsed.Seconds(), "samples/s")
}

func BenchmarkPoll1000DevicesEachOwnServer(b *testing.B) { benchmarkDevices(b, 1000, 1000) }

func BenchmarkPoll1000DevicesBehind10Gateways(b *testing.B) { benchmarkDevices(b, 1000, 10) }

func BenchmarkDecodeFloat32CDAB(b *testing.B) {
	r := reg(Float32, CDAB)
	w, _ := r.Encode(12.25)
	b.ReportAllocs()
	var sum float64
	for i := 0; i < b.N; i++ {
		v, _ := r.Decode(w)
		sum += v
	}
	Sink.Add(uint64(sum))
}
