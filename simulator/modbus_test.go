package simulator

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"strings"
	"testing"
	"time"

	gomb "github.com/goburrow/modbus"

	mbmap "github.com/quantrac/quantrac/drivers/modbus"
)

// startTest starts a scenario given as YAML with free ports, no control
// endpoint unless asked, and a spool in a temp dir.
func startTest(t *testing.T, yaml string) *Simulator {
	t.Helper()
	sc, err := ParseScenario([]byte(yaml), t.Name(), ".")
	if err != nil {
		t.Fatal(err)
	}
	sc.Modbus.BasePort = 0
	if sc.MQTT.URL == "" {
		sc.MQTT.Listen = "127.0.0.1:0"
	}
	sc.TXT.Spool = t.TempDir()
	opts := DefaultOptions()
	sim, err := Start(context.Background(), sc, opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(sim.Stop)
	return sim
}

func modbusClient(t *testing.T, address string, unit byte) (gomb.Client, func()) {
	t.Helper()
	h := gomb.NewTCPClientHandler(strings.TrimPrefix(address, "tcp://"))
	h.SlaveId = unit
	h.Timeout = 3 * time.Second
	if err := h.Connect(); err != nil {
		t.Fatal(err)
	}
	return gomb.NewClient(h), func() { h.Close() }
}

func toWords(b []byte) []uint16 {
	w := make([]uint16, len(b)/2)
	for i := range w {
		w[i] = binary.BigEndian.Uint16(b[2*i:])
	}
	return w
}

func unpackBits(b []byte, n int) []uint16 {
	out := make([]uint16, n)
	for i := range out {
		if b[i/8]>>(uint(i)%8)&1 == 1 {
			out[i] = 1
		}
	}
	return out
}

const everyTypeScenario = `
seed: 11
speed: 600
interval: 1h
modbus: {maps: testdata/maps}
stations:
  - {id: T-Every, kind: hydrological, province: HN, transport: modbus, map: every-type}
  - {id: T-Hydro, kind: hydrological, province: HN, transport: modbus, map: ../configs/maps/hydro-float-cdab.yaml}
  - {id: T-Air, kind: air, province: HN, transport: modbus, map: ../configs/maps/air-int16-scaled.yaml}
  - {id: T-Weather, kind: weather, province: HN, transport: modbus, map: ../configs/scenarios/maps/simulator-weather-f64-dcba.yaml}
  - {id: T-Water, kind: hydrological, province: HN, transport: modbus, map: ../configs/scenarios/maps/simulator-water-i32-badc.yaml}
`

// readAll reads every register of a map with the goburrow client and
// decodes it with the map; the result is keyed by metric.
func readAll(c gomb.Client, m *mbmap.RegisterMap) (map[string]float64, float64, error) {
	out := map[string]float64{}
	read := func(r *mbmap.Register) (float64, error) {
		n := uint16(r.Count())
		var b []byte
		var err error
		var w []uint16
		switch r.Type {
		case mbmap.Holding:
			b, err = c.ReadHoldingRegisters(r.Address, n)
			w = toWords(b)
		case mbmap.Input:
			b, err = c.ReadInputRegisters(r.Address, n)
			w = toWords(b)
		case mbmap.Coil:
			b, err = c.ReadCoils(r.Address, n)
			if err == nil {
				w = unpackBits(b, int(n))
			}
		case mbmap.Discrete:
			b, err = c.ReadDiscreteInputs(r.Address, n)
			if err == nil {
				w = unpackBits(b, int(n))
			}
		}
		if err != nil {
			return 0, fmt.Errorf("%s: %w", r.Metric, err)
		}
		return r.Decode(w)
	}
	for i := range m.Registers {
		v, err := read(&m.Registers[i])
		if err != nil {
			return nil, 0, err
		}
		out[m.Registers[i].Metric] = v
	}
	status := -1.0
	if m.Status != nil {
		v, err := read(m.Status.Register())
		if err != nil {
			return nil, 0, err
		}
		status = v
	}
	return out, status, nil
}

func TestModbusEveryTypeAndByteOrder(t *testing.T) {
	sim := startTest(t, everyTypeScenario)
	for _, st := range sim.Stations() {
		t.Run(st.ID, func(t *testing.T) {
			m, err := mbmap.LoadRegisterMap(st.Map)
			if err != nil {
				t.Fatal(err)
			}
			c, done := modbusClient(t, st.Address, byte(st.UnitID))
			defer done()
			for attempt := 0; ; attempt++ {
				before := time.Now()
				got, status, err := readAll(c, m)
				after := time.Now()
				if err != nil {
					t.Fatal(err)
				}
				s := sim.byID[st.ID]
				if k1, _ := s.step(before); k1 != func() int64 { k, _ := s.step(after); return k }() && attempt < 3 {
					continue // a step boundary fell inside the reads
				}
				types := map[string]bool{}
				for _, r := range m.Registers {
					rd, err := sim.Truth(st.ID, r.Metric, before)
					if err != nil {
						t.Fatal(err)
					}
					if !rd.OK {
						t.Errorf("%s: truth has no value (%s)", r.Metric, rd.Reason)
						continue
					}
					if got[r.Metric] != *rd.V {
						t.Errorf("%s (%s %s %s): read %v, truth %v", r.Metric, r.Type, r.DataType, r.ByteOrder, got[r.Metric], *rd.V)
					}
					types[string(r.Type)+"/"+string(r.DataType)+"/"+string(r.ByteOrder)] = true
				}
				if status != 0 {
					t.Errorf("status register %v, want 0 (status 00)", status)
				}
				t.Logf("%d registers, %d table/type/order combinations match the truth", len(m.Registers), len(types))
				break
			}
		})
	}
}

func modbusErrCode(err error) int {
	var me *gomb.ModbusError
	if errors.As(err, &me) {
		return int(me.ExceptionCode)
	}
	return -1
}

func TestModbusFaults(t *testing.T) {
	sim := startTest(t, `
seed: 3
interval: 1h
stations:
  - {id: F-1, kind: hydrological, province: HN, transport: modbus, map: ../configs/maps/hydro-float-cdab.yaml}
  - {id: F-2, kind: hydrological, province: HN, transport: modbus, map: ../configs/maps/hydro-float-cdab.yaml}
`)
	st, _ := sim.Station("F-1")
	m, _ := mbmap.LoadRegisterMap(st.Map)
	c, done := modbusClient(t, st.Address, 1)
	defer done()

	// Exception code.
	if _, err := sim.AddFault(Fault{Station: "F-1", Kind: FaultException, Code: 4}, 0); err != nil {
		t.Fatal(err)
	}
	if _, err := c.ReadHoldingRegisters(0, 2); modbusErrCode(err) != 4 {
		t.Errorf("exception fault: %v, want exception 4", err)
	}
	sim.StopFault("F-1", FaultException, 0)

	// Calibration, then device error: the status register.
	sim.AddFault(Fault{Station: "F-1", Kind: FaultCalibration}, 0)
	if _, status, err := readAll(c, m); err != nil || status != 1 {
		t.Errorf("calibration: status %v, err %v; want 1", status, err)
	}
	sim.AddFault(Fault{Station: "F-1", Kind: FaultDeviceError}, 0)
	rd, _ := sim.Truth("F-1", "ph", time.Now())
	if _, status, err := readAll(c, m); err != nil || status != 2 || rd.Status != "02" {
		t.Errorf("device error: status %v (truth %s), err %v; want 2", status, rd.Status, err)
	}
	sim.StopFault("F-1", "", 0)

	// Spike: every sample of water_level_m multiplied by 5.
	sim.AddFault(Fault{Station: "F-1", Kind: FaultSpike, Probability: 1, Params: []string{"water_level_m"}}, 0)
	got, _, _ := readAll(c, m)
	rd, _ = sim.Truth("F-1", "water_level_m", time.Now())
	if rd.True == nil || math.Abs(got["water_level_m"]-*rd.True*5) > 0.01 || got["water_level_m"] != *rd.V {
		t.Errorf("spike: read %v, truth %+v", got["water_level_m"], rd)
	}
	sim.StopFault("F-1", FaultSpike, 0)

	// Slow answers.
	sim.AddFault(Fault{Station: "F-1", Kind: FaultSlow, Delay: 300 * time.Millisecond}, 0)
	t0 := time.Now()
	if _, err := c.ReadHoldingRegisters(0, 2); err != nil {
		t.Errorf("slow: %v", err)
	}
	t.Logf("slow fault: answer after %s", time.Since(t0).Round(time.Millisecond))
	sim.StopFault("F-1", FaultSlow, 0)

	// Dropped connection: the read fails, a new connection works.
	sim.AddFault(Fault{Station: "F-1", Kind: FaultDrop}, 0)
	if _, err := c.ReadHoldingRegisters(0, 2); err == nil {
		t.Errorf("drop: read succeeded")
	}
	sim.StopFault("F-1", FaultDrop, 0)
	var derr error
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		h := gomb.NewTCPClientHandler(strings.TrimPrefix(st.Address, "tcp://"))
		h.SlaveId = 1
		if derr = h.Connect(); derr != nil {
			continue
		}
		_, derr = gomb.NewClient(h).ReadHoldingRegisters(0, 2)
		h.Close()
		if derr == nil {
			break
		}
	}
	if derr != nil {
		t.Errorf("after drop: %v", derr)
	}

	// Offline: connection refused while it lasts; the other station answers.
	sim.AddFault(Fault{Station: "F-1", Kind: FaultOffline}, 0)
	refused := false
	for deadline := time.Now().Add(5 * time.Second); !refused && time.Now().Before(deadline); {
		h := gomb.NewTCPClientHandler(strings.TrimPrefix(st.Address, "tcp://"))
		h.Timeout = time.Second
		if err := h.Connect(); err != nil {
			refused = true
		} else {
			h.Close()
			time.Sleep(50 * time.Millisecond)
		}
	}
	if !refused {
		t.Errorf("offline: connections still accepted")
	}
	if rd, _ := sim.Truth("F-1", "ph", time.Now()); rd.OK || rd.Reason != "offline" {
		t.Errorf("offline truth: %+v", rd)
	}
	st2, _ := sim.Station("F-2")
	c3, done3 := modbusClient(t, st2.Address, 1)
	defer done3()
	if _, err := c3.ReadHoldingRegisters(0, 2); err != nil {
		t.Errorf("other station while F-1 is offline: %v", err)
	}
	sim.StopFault("F-1", FaultOffline, 0)
	var err error
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		h := gomb.NewTCPClientHandler(strings.TrimPrefix(st.Address, "tcp://"))
		h.SlaveId = 1
		if err = h.Connect(); err != nil {
			continue
		}
		_, err = gomb.NewClient(h).ReadHoldingRegisters(0, 2)
		h.Close()
		if err == nil {
			break
		}
	}
	if err != nil {
		t.Errorf("back online: %v", err)
	}

	// Stuck: the value of the fault's start step, even when time moves on.
	w, _ := sim.AddFault(Fault{Station: "F-1", Kind: FaultStuck}, 0)
	later := w.From.Add(5 * time.Hour)
	a, _ := sim.Truth("F-1", "ph", w.From)
	b, _ := sim.Truth("F-1", "ph", later)
	if *a.V != *b.V || b.True == nil {
		t.Errorf("stuck: %v then %v (true %v)", *a.V, *b.V, b.True)
	}
}

func TestModbusUnitsSharingAPort(t *testing.T) {
	sim := startTest(t, `
seed: 4
interval: 1h
modbus: {units_per_port: 3}
stations:
  - {id: U-1, kind: hydrological, province: HN, transport: modbus, map: ../configs/maps/hydro-float-cdab.yaml}
  - {id: U-2, kind: air, province: HN, transport: modbus, map: ../configs/maps/air-int16-scaled.yaml}
  - {id: U-3, kind: hydrological, province: HN, transport: modbus, map: ../configs/maps/hydro-float-cdab.yaml}
  - {id: U-4, kind: hydrological, province: HN, transport: modbus, map: ../configs/maps/hydro-float-cdab.yaml}
`)
	sts := sim.Stations()
	if sts[0].Address != sts[2].Address || sts[3].Address == sts[0].Address || sts[2].UnitID != 3 || sts[3].UnitID != 1 {
		t.Fatalf("placement: %s/%d %s/%d %s/%d %s/%d", sts[0].Address, sts[0].UnitID, sts[1].Address, sts[1].UnitID, sts[2].Address, sts[2].UnitID, sts[3].Address, sts[3].UnitID)
	}
	m, _ := mbmap.LoadRegisterMap(sts[2].Map)
	c, done := modbusClient(t, sts[2].Address, 3)
	defer done()
	got, _, err := readAll(c, m)
	if err != nil {
		t.Fatal(err)
	}
	rd, _ := sim.Truth("U-3", "ph", time.Now())
	if got["ph"] != *rd.V {
		t.Errorf("unit 3 ph %v, truth %v", got["ph"], *rd.V)
	}
	// An unknown unit: gateway target failed to respond.
	c9, done9 := modbusClient(t, sts[0].Address, 9)
	defer done9()
	if _, err := c9.ReadHoldingRegisters(0, 2); modbusErrCode(err) != 11 {
		t.Errorf("unknown unit: %v, want exception 11", err)
	}
	// Offline on one unit of a shared port: exception 11, the port stays up.
	sim.AddFault(Fault{Station: "U-1", Kind: FaultOffline}, 0)
	c1, done1 := modbusClient(t, sts[0].Address, 1)
	defer done1()
	if _, err := c1.ReadHoldingRegisters(0, 2); modbusErrCode(err) != 11 {
		t.Errorf("offline unit: %v, want exception 11", err)
	}
	if _, err := c.ReadHoldingRegisters(0, 2); err != nil {
		t.Errorf("unit 3 while unit 1 is offline: %v", err)
	}
}
