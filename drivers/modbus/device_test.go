package modbus

import (
	"context"
	"errors"
	"fmt"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/quantrac/quantrac/model"
)

var testStation = model.Station{ID: "HN-01", Name: "Trạm Long Biên", Kind: model.KindHydrological, Province: "HN"}

func mustMap(t testing.TB, text string) *RegisterMap {
	t.Helper()
	m, err := ParseRegisterMap([]byte(text), "test.yaml")
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func newDevice(t testing.TB, addr string, slave int, m *RegisterMap, pool *Pool, edit func(*Config)) *Device {
	t.Helper()
	cfg := Config{Address: addr, SlaveID: slave, Timeout: 500 * time.Millisecond}
	if edit != nil {
		edit(&cfg)
	}
	if pool == nil {
		pool = NewPool(PoolOptions{ReconnectMin: 50 * time.Millisecond, ReconnectMax: 200 * time.Millisecond})
		t.Cleanup(func() { pool.Close() })
	}
	d, err := New(testStation, cfg, Options{Map: m, Pool: pool})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { d.Close() })
	return d
}

func byMetric(samples []model.Sample) map[string]model.Sample {
	out := make(map[string]model.Sample, len(samples))
	for _, s := range samples {
		out[s.Labels.Metric()] = s
	}
	return out
}

// allTypesMap has every data type in every byte order, in holding and input
// registers, plus coils, discrete inputs and register bits.
func allTypesMap() (string, map[string]float64) {
	var b strings.Builder
	values := map[string]float64{}
	b.WriteString("byte_order: ABCD\nregisters:\n")
	addr := 0
	sample := map[DataType]float64{
		Int16: -1234, Uint16: 54321, Int32: -123456789, Uint32: 3123456789,
		Int64: -1234567890123, Uint64: 9876543210123, Float32: 12.25, Float64: -98765.4321,
		String: 7.125,
	}
	for _, table := range []RegisterType{Holding, Input} {
		for _, dt := range DataTypes {
			if dt == Bit {
				continue
			}
			for _, o := range ByteOrders {
				name := fmt.Sprintf("%s_%s_%s", table, dt, strings.ToLower(string(o)))
				fmt.Fprintf(&b, "  - {metric: %s, type: %s, address: %d, data_type: %s, byte_order: %s", name, table, addr, dt, o)
				n := dt.words()
				if dt == String {
					n = 4
					b.WriteString(", length: 4")
				}
				b.WriteString("}\n")
				values[name] = sample[dt]
				addr += n
			}
		}
	}
	for i, bit := range []int{0, 5, 15} {
		name := fmt.Sprintf("flag_bit%d", bit)
		fmt.Fprintf(&b, "  - {metric: %s, type: holding, address: 900, data_type: bit, bit: %d}\n", name, bit)
		values[name] = float64(i % 2)
	}
	for i := 0; i < 3; i++ {
		c, d := fmt.Sprintf("coil_%d", i), fmt.Sprintf("discrete_%d", i)
		fmt.Fprintf(&b, "  - {metric: %s, type: coil, address: %d}\n", c, 10+i*3)
		fmt.Fprintf(&b, "  - {metric: %s, type: discrete, address: %d}\n", d, 20+i)
		values[c], values[d] = float64(i%2), float64((i+1)%2)
	}
	b.WriteString("status: {type: input, address: 950, values: {0: \"00\", 1: \"01\", 2: \"02\"}}\n")
	return b.String(), values
}

func TestPollEveryTypeAndOrder(t *testing.T) {
	text, values := allTypesMap()
	m := mustMap(t, text)
	srv := newTestServer(t)
	srv.load(t, 1, m, values, 1)
	d := newDevice(t, srv.url(), 1, m, nil, nil)
	at := time.Date(2026, 11, 25, 8, 0, 0, 0, time.UTC)
	samples, err := d.Poll(context.Background(), at)
	if err != nil {
		t.Fatal(err)
	}
	if len(samples) != len(m.Registers) {
		t.Fatalf("got %d samples, want %d", len(samples), len(m.Registers))
	}
	for _, s := range samples {
		name := s.Labels.Metric()
		want := values[name]
		if strings.Contains(name, "float32") {
			want = float64(float32(want))
		}
		if s.V != want {
			t.Errorf("%s = %v, want %v", name, s.V, want)
		}
		if s.T != at.UnixMilli() {
			t.Errorf("%s: time %d, want %d", name, s.T, at.UnixMilli())
		}
		if s.Q != model.QualityCalibrating {
			t.Errorf("%s: quality %v, want 01 from the status register", name, s.Q)
		}
		if s.Labels.Get("station") != "HN-01" || s.Labels.Get("province") != "HN" || s.Labels.Get("kind") != "hydrological" {
			t.Errorf("%s: labels %s", name, s.Labels)
		}
		if err := s.Validate(); err != nil {
			t.Error(err)
		}
	}
	// 2 register tables over < 125 registers each, coils, discrete, 900, 950.
	if n := srv.requests.Load(); n != int64(len(d.reqs)) || n > 8 {
		t.Errorf("%d requests for %d planned reads", n, len(d.reqs))
	}
}

func TestPollMergesReads(t *testing.T) {
	var b strings.Builder
	b.WriteString("registers:\n")
	values := map[string]float64{}
	// 200 uint16 values at addresses 0..199 plus 10 values 5 apart after.
	for i := 0; i < 200; i++ {
		fmt.Fprintf(&b, "  - {metric: v%d, type: holding, address: %d, data_type: uint16}\n", i, i)
		values[fmt.Sprintf("v%d", i)] = float64(i)
	}
	for i := 0; i < 10; i++ {
		fmt.Fprintf(&b, "  - {metric: w%d, type: holding, address: %d, data_type: uint16}\n", i, 300+5*i)
		values[fmt.Sprintf("w%d", i)] = float64(1000 + i)
	}
	m := mustMap(t, b.String())
	f := func(gap int, wantReads int64) {
		t.Helper()
		srv := newTestServer(t)
		srv.load(t, 1, m, values, 0)
		d := newDevice(t, srv.url(), 1, m, nil, func(c *Config) { c.MaxGap = &gap })
		samples, err := d.Poll(context.Background(), time.Now())
		if err != nil {
			t.Fatal(err)
		}
		for _, s := range samples {
			if s.V != values[s.Labels.Metric()] {
				t.Fatalf("gap %d: %s = %v", gap, s.Labels.Metric(), s.V)
			}
		}
		if len(samples) != 210 {
			t.Fatalf("gap %d: %d samples", gap, len(samples))
		}
		if got := srv.requests.Load(); got != wantReads {
			t.Fatalf("gap %d: server saw %d reads, want %d", gap, got, wantReads)
		}
	}
	f(10, 3) // 0..124, 125..199, 300..345
	f(3, 12) // 0..124, 125..199, then 10 single reads
	f(-1, 210)
}

func TestSplitAfterIllegalAddress(t *testing.T) {
	m := mustMap(t, `registers:
  - {metric: a, type: holding, address: 0, data_type: uint16}
  - {metric: b, type: holding, address: 4, data_type: uint16}
  - {metric: c, type: holding, address: 8, data_type: uint16}
  - {metric: d, type: holding, address: 30, data_type: uint16}
`)
	srv := newTestServer(t)
	srv.strict = true // gaps are illegal addresses
	srv.load(t, 1, m, map[string]float64{"a": 1, "b": 2, "c": 3}, 0)
	d := newDevice(t, srv.url(), 1, m, nil, nil)
	samples, err := d.Poll(context.Background(), time.Now())
	// d at 30 is not served: the only error, and it names the address.
	if err == nil || !strings.Contains(err.Error(), "illegal data address 40031 on station HN-01 slave 1") {
		t.Fatalf("want illegal data address 40031, got %v", err)
	}
	got := byMetric(samples)
	if len(got) != 3 || got["a"].V != 1 || got["b"].V != 2 || got["c"].V != 3 {
		t.Fatalf("values around the bad address lost: %v", samples)
	}
	if strings.Count(err.Error(), "illegal") != 1 {
		t.Fatalf("one error expected: %v", err)
	}
	before := srv.requests.Load()
	if _, err := d.Poll(context.Background(), time.Now()); err == nil {
		t.Fatal("second poll: no error for address 30")
	}
	// a, b, c, d read one by one from now on: 4 reads, no failing merged read.
	if n := srv.requests.Load() - before; n != 4 {
		t.Fatalf("second poll made %d reads, want 4", n)
	}
}

func TestExceptionIsReadable(t *testing.T) {
	m := mustMap(t, "registers:\n  - {metric: water_level_m, type: holding, address: 104, data_type: uint16}\n")
	srv := newTestServer(t)
	srv.strict = true
	d := newDevice(t, srv.url(), 3, m, nil, nil)
	_, err := d.Poll(context.Background(), time.Now())
	if err == nil || !strings.HasPrefix(err.Error(), "illegal data address 40105 on station HN-01 slave 3") {
		t.Fatalf("got %v", err)
	}
	var ee *ExceptionError
	if !errors.As(err, &ee) || ee.Code != ExceptionIllegalDataAddress {
		t.Fatalf("not an *ExceptionError: %#v", err)
	}
}

func TestBusyRetries(t *testing.T) {
	m := mustMap(t, "registers:\n  - {metric: ph, type: holding, address: 0, data_type: uint16, scale: 0.01}\n")
	srv := newTestServer(t)
	srv.load(t, 1, m, map[string]float64{"ph": 7.2}, 0)
	d := newDevice(t, srv.url(), 1, m, nil, func(c *Config) { c.BusyRetries = 3; c.BusyRetryWait = 10 * time.Millisecond })

	srv.busy.Store(2)
	samples, err := d.Poll(context.Background(), time.Now())
	if err != nil || len(samples) != 1 || math.Abs(samples[0].V-7.2) > 1e-9 {
		t.Fatalf("busy twice then fine: %v %v", samples, err)
	}
	if n := srv.requests.Load(); n != 3 {
		t.Fatalf("%d requests, want 3", n)
	}

	srv.requests.Store(0)
	srv.busy.Store(100)
	_, err = d.Poll(context.Background(), time.Now())
	if err == nil || !strings.Contains(err.Error(), "server device busy on station HN-01 slave 1") {
		t.Fatalf("busy forever: got %v", err)
	}
	if n := srv.requests.Load(); n != 4 {
		t.Fatalf("%d requests, want 1 + 3 retries", n)
	}
	srv.busy.Store(0)
	if _, err := d.Poll(context.Background(), time.Now()); err != nil {
		t.Fatalf("after busy: %v", err)
	}
}

func TestStallTimeoutReconnect(t *testing.T) {
	m := mustMap(t, `byte_order: CDAB
registers:
  - {metric: water_level_m, type: holding, address: 0, data_type: float32}
  - {metric: rainfall_mm, type: holding, address: 10, data_type: float32}
`)
	srv := newTestServer(t)
	values := map[string]float64{"water_level_m": 3.5, "rainfall_mm": 12.25}
	srv.load(t, 1, m, values, 0)
	gap := -1 // two reads, so a late answer to the first could be taken for the second
	d := newDevice(t, srv.url(), 1, m, nil, func(c *Config) { c.Timeout = 200 * time.Millisecond; c.MaxGap = &gap })

	srv.stall.Store(int64(600 * time.Millisecond))
	samples, err := d.Poll(context.Background(), time.Now())
	if err == nil || !strings.Contains(err.Error(), "timeout") {
		t.Fatalf("stalled server: got %v, %v", samples, err)
	}
	if len(samples) != 0 {
		t.Fatalf("stalled server gave samples %v", samples)
	}
	if n := srv.requests.Load(); n != 1 {
		t.Fatalf("after the first read timed out the second was still sent (%d reads)", n)
	}
	// The stalled answer arrives on the old connection, which is closed:
	// the next polls read the right values, not the late answer.
	for i := 0; i < 3; i++ {
		samples, err = d.Poll(context.Background(), time.Now())
		if err != nil {
			t.Fatalf("poll %d after stall: %v", i, err)
		}
		got := byMetric(samples)
		if got["water_level_m"].V != 3.5 || got["rainfall_mm"].V != 12.25 {
			t.Fatalf("poll %d after stall: %v", i, samples)
		}
		time.Sleep(250 * time.Millisecond)
	}
}

func TestServerDropsConnection(t *testing.T) {
	m := mustMap(t, "registers:\n  - {metric: do_mgl, type: input, address: 0, data_type: float32}\n")
	srv := newTestServer(t)
	srv.load(t, 1, m, map[string]float64{"do_mgl": 6.5}, 0)
	d := newDevice(t, srv.url(), 1, m, nil, nil)
	for i := 0; i < 3; i++ {
		samples, err := d.Poll(context.Background(), time.Now())
		if err != nil || len(samples) != 1 || samples[0].V != 6.5 {
			t.Fatalf("poll %d: %v %v", i, samples, err)
		}
		srv.restart(t) // closes our connection under us
	}
}

func TestDeadDeviceBackoff(t *testing.T) {
	m := mustMap(t, "registers:\n  - {metric: ph, type: holding, address: 0, data_type: uint16}\n")
	addr := freeAddr(t) // nothing listens
	d := newDevice(t, "tcp://"+addr, 1, m, nil, nil)
	_, err := d.Poll(context.Background(), time.Now())
	if err == nil || !strings.Contains(err.Error(), "connect tcp://"+addr) {
		t.Fatalf("got %v", err)
	}
	_, err = d.Poll(context.Background(), time.Now())
	if err == nil || !strings.Contains(err.Error(), "waiting to reconnect") {
		t.Fatalf("second poll right after: got %v", err)
	}
}

func TestSlaveIDMismatch(t *testing.T) {
	m := mustMap(t, "registers:\n  - {metric: ph, type: holding, address: 0, data_type: uint16}\n")
	srv := newTestServer(t)
	srv.units[1] = true
	srv.load(t, 1, m, map[string]float64{"ph": 7}, 0)
	pool := NewPool(PoolOptions{})
	defer pool.Close()
	good := newDevice(t, srv.url(), 1, m, pool, nil)
	bad := newDevice(t, srv.url(), 9, m, pool, nil)
	_, err := bad.Poll(context.Background(), time.Now())
	if err == nil || !strings.Contains(err.Error(), "gateway target device failed to respond on station HN-01 slave 9") {
		t.Fatalf("got %v", err)
	}
	// Both share one connection; the good one is unaffected.
	if s, err := good.Poll(context.Background(), time.Now()); err != nil || len(s) != 1 || s[0].V != 7 {
		t.Fatalf("good slave: %v %v", s, err)
	}
}

// TestWrongUnitInAnswer: a device answering with another unit id is a
// protocol error; the connection is dropped and the next poll is clean.
func TestWrongUnitInAnswer(t *testing.T) {
	var wrong atomicBool
	wrong.set(true)
	addr := serveRawTCP(t, func(unit byte, pdu []byte) (byte, []byte) {
		if wrong.get() {
			unit++
		}
		return unit, []byte{pdu[0], 2, 0x01, 0x2C} // one register = 300
	})
	m := mustMap(t, "registers:\n  - {metric: pm25_ugm3, type: holding, address: 0, data_type: uint16, scale: 0.1}\n")
	d := newDevice(t, "tcp://"+addr, 4, m, nil, nil)
	_, err := d.Poll(context.Background(), time.Now())
	if err == nil || !strings.Contains(err.Error(), "unit id") {
		t.Fatalf("got %v", err)
	}
	wrong.set(false)
	s, err := d.Poll(context.Background(), time.Now())
	if err != nil || len(s) != 1 || math.Abs(s[0].V-30) > 1e-9 {
		t.Fatalf("after mismatch: %v %v", s, err)
	}
}

func TestShortAnswer(t *testing.T) {
	addr := serveRawTCP(t, func(unit byte, pdu []byte) (byte, []byte) {
		return unit, []byte{pdu[0], 2, 0x01, 0x2C} // 1 register whatever was asked
	})
	m := mustMap(t, "registers:\n  - {metric: pm25_ugm3, type: holding, address: 0, data_type: float32}\n")
	d := newDevice(t, "tcp://"+addr, 1, m, nil, nil)
	_, err := d.Poll(context.Background(), time.Now())
	if err == nil || !strings.Contains(err.Error(), "answer has 2 bytes, want 4") {
		t.Fatalf("got %v", err)
	}
}

func TestStatusAndDecodeErrors(t *testing.T) {
	m := mustMap(t, `registers:
  - {metric: a, type: holding, address: 0, data_type: float32}
  - {metric: b, type: holding, address: 2, data_type: uint16}
status: {type: holding, address: 3, values: {0: "00", 1: "01"}}
`)
	srv := newTestServer(t)
	srv.load(t, 1, m, map[string]float64{"a": 0, "b": 5}, 7) // 7: not listed → 02
	srv.mu.Lock()
	srv.holding[1][0], srv.holding[1][1] = 0x7FC0, 0 // NaN
	srv.mu.Unlock()
	d := newDevice(t, srv.url(), 1, m, nil, nil)
	samples, err := d.Poll(context.Background(), time.Now())
	if err == nil || !strings.Contains(err.Error(), "not a finite number") {
		t.Fatalf("got %v", err)
	}
	if len(samples) != 1 || samples[0].V != 5 || samples[0].Q != model.QualityDeviceError {
		t.Fatalf("samples %v", samples)
	}
}

func TestConfigErrors(t *testing.T) {
	m := mustMap(t, "registers:\n  - {metric: a, type: holding, address: 0, data_type: uint16}\n")
	f := func(st model.Station, cfg Config, want string) {
		t.Helper()
		_, err := New(st, cfg, Options{Map: m, Pool: NewPool(PoolOptions{})})
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Fatalf("%+v: got %v, want %q", cfg, err, want)
		}
		if !strings.Contains(err.Error(), "station "+st.ID) {
			t.Fatalf("error does not name the device: %v", err)
		}
	}
	f(testStation, Config{SlaveID: 1}, "missing address")
	f(testStation, Config{Address: "udp://x:1", SlaveID: 1}, `unknown scheme "udp"`)
	f(testStation, Config{Address: "127.0.0.1:15020", SlaveID: 1}, `address "127.0.0.1:15020": missing scheme: want tcp://host:port`)
	f(testStation, Config{Address: "localhost:502", SlaveID: 1}, `missing scheme`)
	f(testStation, Config{Address: "/dev/ttyUSB0", SlaveID: 1}, `missing scheme`)
	f(testStation, Config{Address: "tcp://x:99999", SlaveID: 1}, "bad port")
	f(testStation, Config{Address: "rtu:///dev/ttyUSB0?baud=1234", SlaveID: 1}, `baud "1234"`)
	f(testStation, Config{Address: "rtu:///dev/ttyUSB0?parity=X", SlaveID: 1}, `parity "X"`)
	f(testStation, Config{Address: "rtu:///dev/ttyUSB0?stop=3", SlaveID: 1}, `stop bits "3"`)
	f(testStation, Config{Address: "rtu:///dev/ttyUSB0?speed=9600", SlaveID: 1}, `unknown option "speed"`)
	f(testStation, Config{Address: "rtu:///dev/ttyUSB0", SlaveID: 0}, "slave_id 0 out of range 1..247")
	f(testStation, Config{Address: "tcp://h:502", SlaveID: 256}, "slave_id 256 out of range 0..255")
	f(testStation, Config{Address: "tcp://h:502", SlaveID: 1, Timeout: -time.Second}, "cannot be negative")
	gap := -2
	f(testStation, Config{Address: "tcp://h:502", SlaveID: 1, MaxGap: &gap}, "max_gap -2")
	f(model.Station{ID: "X", Kind: "air"}, Config{Address: "tcp://h:502", SlaveID: 1}, "station has no province")
	_, err := New(testStation, Config{Address: "tcp://h", SlaveID: 1, Map: "does-not-exist.yaml"}, Options{})
	if err == nil || !strings.Contains(err.Error(), "does-not-exist.yaml") {
		t.Fatalf("missing map file: %v", err)
	}
	// Two devices on one serial port must agree on its settings.
	pool := NewPool(PoolOptions{})
	a, err := New(testStation, Config{Address: "rtu:///dev/ttyQ0?baud=9600", SlaveID: 1}, Options{Map: m, Pool: pool})
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	_, err = New(testStation, Config{Address: "rtu:///dev/ttyQ0?baud=19200", SlaveID: 2}, Options{Map: m, Pool: pool})
	if err == nil || !strings.Contains(err.Error(), "same settings") {
		t.Fatalf("mismatched serial settings: %v", err)
	}
}

func TestCanceledContext(t *testing.T) {
	m := mustMap(t, "registers:\n  - {metric: a, type: holding, address: 0, data_type: uint16}\n")
	srv := newTestServer(t)
	srv.load(t, 1, m, map[string]float64{"a": 1}, 0)
	d := newDevice(t, srv.url(), 1, m, nil, nil)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := d.Poll(ctx, time.Now()); !errors.Is(err, context.Canceled) {
		t.Fatalf("got %v", err)
	}
}

func TestProbe(t *testing.T) {
	m := mustMap(t, goodMap)
	srv := newTestServer(t)
	srv.load(t, 1, m, map[string]float64{"water_level_m": 2.5, "pump_on": 1, "door_open": 1}, 0)
	// goodMap has two water_level_m registers; load gave both 2.5.
	dir := t.TempDir()
	path := dir + "/good.yaml"
	if err := writeFile(path, goodMap); err != nil {
		t.Fatal(err)
	}
	var out strings.Builder
	err := Probe(context.Background(), Config{Address: srv.url(), SlaveID: 1, Map: path}, &out)
	if err != nil {
		t.Fatalf("%v\n%s", err, out.String())
	}
	for _, want := range []string{`water_level_m{sensor="radar"}`, "40001", "float32", "CDAB", "0000 4020", "2.5", "pump_on", "00006", "bit 4", "quality 00"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("probe output lacks %q:\n%s", want, out.String())
		}
	}
}

// TestSlowDeviceDoesNotDelayOthers: while one device's server holds every
// request, a device on another server polls normally.
func TestSlowDeviceDoesNotDelayOthers(t *testing.T) {
	m := mustMap(t, "registers:\n  - {metric: ph, type: holding, address: 0, data_type: uint16, scale: 0.1}\n")
	slow, fast := newTestServer(t), newTestServer(t)
	slow.load(t, 1, m, map[string]float64{"ph": 7}, 0)
	fast.load(t, 1, m, map[string]float64{"ph": 8}, 0)
	release := make(chan struct{})
	slow.mu.Lock()
	slow.hold = release
	slow.mu.Unlock()
	pool := NewPool(PoolOptions{})
	defer pool.Close()
	ds := newDevice(t, slow.url(), 1, m, pool, func(c *Config) { c.Timeout = 10 * time.Second })
	df := newDevice(t, fast.url(), 1, m, pool, nil)

	slowDone := make(chan error, 1)
	go func() {
		_, err := ds.Poll(context.Background(), time.Now())
		slowDone <- err
	}()
	for slow.requests.Load() == 0 { // the slow request is in flight
		time.Sleep(time.Millisecond)
	}
	for i := 0; i < 5; i++ {
		s, err := df.Poll(context.Background(), time.Now())
		if err != nil || len(s) != 1 || s[0].V != 8 {
			t.Fatalf("fast device: %v %v", s, err)
		}
	}
	select {
	case err := <-slowDone:
		t.Fatalf("slow poll finished before its server answered: %v", err)
	default:
	}
	close(release)
	if err := <-slowDone; err != nil {
		t.Fatalf("slow device after release: %v", err)
	}
}

// TestGatewaySlavesConcurrently: slaves behind one TCP gateway share one
// connection; polled from many goroutines each gets its own values (the
// slave id is set under the link lock).
func TestGatewaySlavesConcurrently(t *testing.T) {
	m := mustMap(t, "registers:\n  - {metric: water_level_m, type: holding, address: 0, data_type: float32}\n  - {metric: rainfall_mm, type: input, address: 0, data_type: uint16}\n")
	srv := newTestServer(t)
	pool := NewPool(PoolOptions{})
	defer pool.Close()
	const slaves = 6
	devs := make([]*Device, slaves)
	for i := range devs {
		srv.load(t, uint8(i+1), m, map[string]float64{"water_level_m": float64(i) + 0.5, "rainfall_mm": float64(10 * i)}, 0)
		devs[i] = newDevice(t, srv.url(), i+1, m, pool, nil)
	}
	errs := make(chan error, slaves)
	for i, d := range devs {
		go func() {
			for round := 0; round < 25; round++ {
				s, err := d.Poll(context.Background(), time.Now())
				if err != nil {
					errs <- err
					return
				}
				got := byMetric(s)
				if got["water_level_m"].V != float64(i)+0.5 || got["rainfall_mm"].V != float64(10*i) {
					errs <- fmt.Errorf("slave %d round %d read %v", i+1, round, s)
					return
				}
			}
			errs <- nil
		}()
	}
	for range devs {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
	if n := len(pool.links); n != 1 {
		t.Fatalf("%d links for one gateway", n)
	}
}
