package simulator

import (
	"context"
	"fmt"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"
	gomb "github.com/goburrow/modbus"
)

// cpuTime returns user+system CPU time of the process.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// BenchmarkScale2000 runs 1,000 Modbus and 1,000 MQTT stations (1 s
// interval) for a few seconds while a poller reads every Modbus station
// once a second and a subscriber counts the MQTT messages, then prints the
// start time, CPU and memory. Run it once:
//
//	nice go test -run '^$' -bench Scale2000 -benchtime 1x ./simulator/
func BenchmarkScale2000(b *testing.B) {
	for i := 0; i < b.N; i++ {
		runScale(b, 1000, 1000, false, 8*time.Second)
	}
}

// BenchmarkScale2000StationClients is BenchmarkScale2000 with one MQTT
// connection per station (mqtt.station_clients).
func BenchmarkScale2000StationClients(b *testing.B) {
	for i := 0; i < b.N; i++ {
		runScale(b, 1000, 1000, true, 8*time.Second)
	}
}

func runScale(b *testing.B, nModbus, nMQTT int, stationClients bool, run time.Duration) {
	sc, err := ParseScenario([]byte(fmt.Sprintf(`
seed: 2000
speed: 60
interval: 1s
modbus: {maps: ../configs/maps}
mqtt: {station_clients: %v}
generate: {modbus: %d, mqtt: %d}
`, stationClients, nModbus, nMQTT)), "scale", ".")
	if err != nil {
		b.Fatal(err)
	}
	sc.Modbus.BasePort = 0
	sc.MQTT.Listen = "127.0.0.1:0"
	runtime.GC()
	var m0 runtime.MemStats
	runtime.ReadMemStats(&m0)
	cpu0 := cpuTime()
	t0 := time.Now()
	sim, err := Start(context.Background(), sc, DefaultOptions())
	if err != nil {
		b.Fatal(err)
	}
	defer sim.Stop()
	startup := time.Since(t0)
	cpuStart := cpuTime() - cpu0

	// MQTT: one subscriber counts everything.
	var msgs atomic.Int64
	o := paho.NewClientOptions().AddBroker(sim.BrokerURL()).SetClientID("bench").SetUsername("collector").SetPassword("collector-secret")
	c := paho.NewClient(o)
	if tok := c.Connect(); !tok.WaitTimeout(5*time.Second) || tok.Error() != nil {
		b.Fatal(tok.Error())
	}
	defer c.Disconnect(100)
	for _, f := range []string{"stations/#", "senml/#"} {
		c.Subscribe(f, 0, func(paho.Client, paho.Message) { msgs.Add(1) }).WaitTimeout(5 * time.Second)
	}

	// Modbus: one connection per station, every station read once a second
	// by 50 workers.
	var polls, pollErrs atomic.Int64
	ctx, cancel := context.WithTimeout(context.Background(), run)
	defer cancel()
	var wg sync.WaitGroup
	var modbus []StationInfo
	for _, st := range sim.Stations() {
		if st.Transport == TransportModbus {
			modbus = append(modbus, st)
		}
	}
	workers := 50
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			var clients []gomb.Client
			var handlers []*gomb.TCPClientHandler
			for i := w; i < len(modbus); i += workers {
				h := gomb.NewTCPClientHandler(strings.TrimPrefix(modbus[i].Address, "tcp://"))
				h.SlaveId = byte(modbus[i].UnitID)
				h.Timeout = 2 * time.Second
				handlers = append(handlers, h)
				clients = append(clients, gomb.NewClient(h))
			}
			defer func() {
				for _, h := range handlers {
					h.Close()
				}
			}()
			tick := time.NewTicker(time.Second)
			defer tick.Stop()
			for {
				for _, cl := range clients {
					if _, err := cl.ReadHoldingRegisters(0, 16); err != nil {
						if _, err2 := cl.ReadInputRegisters(0, 16); err2 != nil {
							pollErrs.Add(1)
							continue
						}
					}
					polls.Add(1)
				}
				select {
				case <-ctx.Done():
					return
				case <-tick.C:
				}
			}
		}(w)
	}
	wg.Wait()
	elapsed := time.Since(t0) - startup
	cpuRun := cpuTime() - cpu0 - cpuStart
	var m1 runtime.MemStats
	runtime.ReadMemStats(&m1)
	st := sim.Stats()
	b.ReportMetric(float64(startup.Milliseconds()), "start-ms")
	b.ReportMetric(float64(cpuRun)/float64(elapsed)*100, "cpu-%")
	b.ReportMetric(float64(m1.HeapAlloc)/(1<<20), "heap-MiB")
	fmt.Printf("scale: %d modbus (%d ports) + %d mqtt stations started in %s (cpu %s)\n", st.ModbusStations, st.ModbusPorts, st.MQTTStations, startup.Round(time.Millisecond), cpuStart.Round(time.Millisecond))
	fmt.Printf("scale: ran %s: cpu %s (%.0f%% of one core, test client included), %d modbus polls (%.0f/s, %d errors), %d mqtt messages published (%.0f/s), %d received\n",
		elapsed.Round(time.Millisecond), cpuRun.Round(time.Millisecond), float64(cpuRun)/float64(elapsed)*100,
		polls.Load(), float64(polls.Load())/elapsed.Seconds(), pollErrs.Load(), st.MQTTMessages, float64(st.MQTTMessages)/elapsed.Seconds(), msgs.Load())
	fmt.Printf("scale: heap %.1f MiB in use (%.1f MiB before start), %.1f MiB from the OS, %d goroutines\n",
		float64(m1.HeapAlloc)/(1<<20), float64(m0.HeapAlloc)/(1<<20), float64(m1.Sys)/(1<<20), runtime.NumGoroutine())
}
