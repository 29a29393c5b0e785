package modbus

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

func crc16(b []byte) uint16 {
	crc := uint16(0xFFFF)
	for _, x := range b {
		crc ^= uint16(x)
		for i := 0; i < 8; i++ {
			if crc&1 != 0 {
				crc = crc>>1 ^ 0xA001
			} else {
				crc >>= 1
			}
		}
	}
	return crc
}

// ptyPair starts socat with two linked pseudo-terminals and returns their
// paths; it skips the test when socat is not installed.
func ptyPair(t *testing.T) (string, string) {
	t.Helper()
	socat, err := exec.LookPath("socat")
	if err != nil {
		t.Skip("socat not installed: RTU tests need it for a pseudo-terminal pair (apt-get install socat)")
	}
	dir := t.TempDir()
	a, b := filepath.Join(dir, "ttyA"), filepath.Join(dir, "ttyB")
	ctx, cancel := context.WithCancel(context.Background())
	cmd := exec.CommandContext(ctx, socat, "-d", "-d", "pty,raw,echo=0,link="+a, "pty,raw,echo=0,link="+b)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		cancel()
		t.Fatalf("start socat: %v", err)
	}
	t.Cleanup(func() {
		cancel()
		cmd.Wait()
	})
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		_, errA := os.Stat(a)
		_, errB := os.Stat(b)
		if errA == nil && errB == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("socat made no pty pair: %s", stderr.String())
		}
	}
	return a, b
}

// rtuResponder answers RTU read requests on one end of the pty pair from a
// register image per slave id; slaves it does not know stay silent, as on a
// real bus.
type rtuResponder struct {
	mu       sync.Mutex
	late     time.Duration // when set, the next answer comes this late and holds 0xDEAD
	holding  map[byte]map[uint16]uint16
	requests map[byte]int
	f        *os.File
	done     chan struct{}
}

func startRTUResponder(t *testing.T, path string) *rtuResponder {
	t.Helper()
	f, err := os.OpenFile(path, os.O_RDWR|syscall.O_NOCTTY, 0)
	if err != nil {
		t.Fatal(err)
	}
	r := &rtuResponder{holding: map[byte]map[uint16]uint16{}, requests: map[byte]int{}, f: f, done: make(chan struct{})}
	go r.serve()
	t.Cleanup(func() {
		f.Close()
		select {
		case <-r.done:
		case <-time.After(2 * time.Second):
		}
	})
	return r
}

func (r *rtuResponder) serve() {
	defer close(r.done)
	req := make([]byte, 8)
	for {
		if _, err := io.ReadFull(r.f, req); err != nil {
			return
		}
		if crc16(req[:6]) != binary.LittleEndian.Uint16(req[6:]) {
			continue // garbage on the line: ignore, like a real slave
		}
		slave, fc := req[0], req[1]
		addr, qty := binary.BigEndian.Uint16(req[2:]), binary.BigEndian.Uint16(req[4:])
		r.mu.Lock()
		img, known := r.holding[slave]
		r.requests[slave]++
		var resp []byte
		switch {
		case !known:
		case fc != 3:
			resp = []byte{slave, fc | 0x80, 1}
		default:
			resp = []byte{slave, fc, byte(2 * qty)}
			for i := uint16(0); i < qty; i++ {
				v, ok := img[addr+i]
				if !ok {
					resp = []byte{slave, fc | 0x80, 2}
					break
				}
				resp = binary.BigEndian.AppendUint16(resp, v)
			}
		}
		late := r.late
		r.late = 0
		r.mu.Unlock()
		if resp == nil {
			continue
		}
		if late > 0 && resp[1] == 3 {
			for k := 3; k+1 < len(resp); k += 2 {
				resp[k], resp[k+1] = 0xDE, 0xAD
			}
			time.Sleep(late)
		}
		resp = binary.LittleEndian.AppendUint16(resp, crc16(resp))
		if _, err := r.f.Write(resp); err != nil {
			return
		}
	}
}

func (r *rtuResponder) load(t *testing.T, slave byte, m *RegisterMap, values map[string]float64) {
	t.Helper()
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.holding[slave] == nil {
		r.holding[slave] = map[uint16]uint16{}
	}
	for i := range m.Registers {
		reg := &m.Registers[i]
		w, err := reg.Encode(values[reg.Metric])
		if err != nil {
			t.Fatal(err)
		}
		for k, x := range w {
			r.holding[slave][reg.Address+uint16(k)] = x
		}
	}
}

func TestRTUOverPty(t *testing.T) {
	dev, peer := ptyPair(t)
	resp := startRTUResponder(t, peer)
	m := mustMap(t, `byte_order: CDAB
registers:
  - {metric: water_level_m, type: holding, address: 0, data_type: float32}
  - {metric: ph, type: holding, address: 2, data_type: uint16, scale: 0.01}
  - {metric: do_mgl, type: holding, address: 3, data_type: int32, byte_order: DCBA, scale: 0.001}
`)
	resp.load(t, 1, m, map[string]float64{"water_level_m": 4.75, "ph": 7.31, "do_mgl": 6.125})
	resp.load(t, 2, m, map[string]float64{"water_level_m": 1.5, "ph": 6.5, "do_mgl": 8})
	pool := NewPool(PoolOptions{ReconnectMin: 20 * time.Millisecond})
	defer pool.Close()
	addr := "rtu://" + dev + "?baud=19200&parity=N&stop=1"
	// Live slaves get a generous timeout: under -race on a loaded 2-core
	// machine the pseudo-terminal and the responder can take over 500 ms.
	slow := func(c *Config) { c.Timeout = 5 * time.Second }
	d1 := newDevice(t, addr, 1, m, pool, slow)
	d2 := newDevice(t, addr, 2, m, pool, slow)
	dead := newDevice(t, addr, 7, m, pool, func(c *Config) { c.Timeout = 300 * time.Millisecond })

	// Three slaves on one port polled at once: the port lock keeps frames
	// apart, the silent slave times out without spoiling the others.
	var wg sync.WaitGroup
	errs := make([]error, 3)
	got := make([]map[string]float64, 3)
	for i, d := range []*Device{d1, d2, dead} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for round := 0; round < 3; round++ {
				s, err := d.Poll(context.Background(), time.Now())
				errs[i] = err
				got[i] = map[string]float64{}
				for _, x := range s {
					got[i][x.Labels.Metric()] = x.V
				}
				if err != nil && i != 2 {
					return
				}
			}
		}()
	}
	wg.Wait()
	if errs[0] != nil || errs[1] != nil {
		t.Fatalf("live slaves: %v / %v", errs[0], errs[1])
	}
	near := func(a, b float64) bool { return a-b < 1e-9 && b-a < 1e-9 }
	if !near(got[0]["water_level_m"], 4.75) || !near(got[0]["ph"], 7.31) || !near(got[0]["do_mgl"], 6.125) {
		t.Fatalf("slave 1: %v", got[0])
	}
	if !near(got[1]["water_level_m"], 1.5) || !near(got[1]["ph"], 6.5) || !near(got[1]["do_mgl"], 8) {
		t.Fatalf("slave 2: %v", got[1])
	}
	if errs[2] == nil || !strings.Contains(errs[2].Error(), "slave 7") {
		t.Fatalf("silent slave 7: %v", errs[2])
	}
	if len(got[2]) != 0 {
		t.Fatalf("silent slave gave values %v", got[2])
	}

	// Exception over RTU.
	bad := mustMap(t, "registers:\n  - {metric: x, type: holding, address: 500, data_type: uint16}\n")
	d3 := newDevice(t, addr, 1, bad, pool, slow)
	_, err := d3.Poll(context.Background(), time.Now())
	var ee *ExceptionError
	if !errors.As(err, &ee) || !strings.Contains(err.Error(), "illegal data address 40501 on station HN-01 slave 1") {
		t.Fatalf("exception over RTU: %v", err)
	}
}

// serveASCII answers Modbus ASCII read-holding requests on path from img
// (one slave, id 5) until the test ends.
func serveASCII(t *testing.T, path string, img map[uint16]uint16) {
	t.Helper()
	f, err := os.OpenFile(path, os.O_RDWR|syscall.O_NOCTTY, 0)
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		var line []byte
		buf := make([]byte, 256)
		for {
			n, err := f.Read(buf)
			if err != nil {
				return
			}
			line = append(line, buf[:n]...)
			for {
				i := bytes.Index(line, []byte("\r\n"))
				if i < 0 {
					break
				}
				frame := line[:i]
				line = line[i+2:]
				if len(frame) < 1 || frame[0] != ':' {
					continue
				}
				raw := make([]byte, (len(frame)-1)/2)
				if _, err := hex.Decode(raw, frame[1:]); err != nil || len(raw) != 7 || raw[0] != 5 || raw[1] != 3 {
					continue
				}
				addr, qty := binary.BigEndian.Uint16(raw[2:]), binary.BigEndian.Uint16(raw[4:])
				resp := []byte{5, 3, byte(2 * qty)}
				for k := uint16(0); k < qty; k++ {
					resp = binary.BigEndian.AppendUint16(resp, img[addr+k])
				}
				var sum byte
				for _, x := range resp {
					sum += x
				}
				resp = append(resp, -sum)
				out := []byte(":" + strings.ToUpper(hex.EncodeToString(resp)) + "\r\n")
				if _, err := f.Write(out); err != nil {
					return
				}
			}
		}
	}()
	t.Cleanup(func() {
		f.Close()
		select {
		case <-done:
		case <-time.After(2 * time.Second):
		}
	})
}

func TestASCIIOverPty(t *testing.T) {
	dev, peer := ptyPair(t)
	m := mustMap(t, `registers:
  - {metric: temperature_c, type: holding, address: 0, data_type: int16, scale: 0.01}
  - {metric: pressure_hpa, type: holding, address: 1, data_type: uint32, byte_order: CDAB, scale: 0.1}
`)
	img := map[uint16]uint16{}
	for i := range m.Registers {
		r := &m.Registers[i]
		w, err := r.Encode(map[string]float64{"temperature_c": -3.25, "pressure_hpa": 1013.2}[r.Metric])
		if err != nil {
			t.Fatal(err)
		}
		for k, x := range w {
			img[r.Address+uint16(k)] = x
		}
	}
	serveASCII(t, peer, img)
	d := newDevice(t, "ascii://"+dev+"?baud=9600&data=8&parity=N", 5, m, nil, func(c *Config) { c.Timeout = 5 * time.Second })
	s, err := d.Poll(context.Background(), time.Now())
	if err != nil {
		t.Fatal(err)
	}
	got := byMetric(s)
	if got["temperature_c"].V != -3.25 || got["pressure_hpa"].V-1013.2 > 1e-9 || 1013.2-got["pressure_hpa"].V > 1e-9 {
		t.Fatalf("got %v", s)
	}
}

// TestRTULateAnswer: an answer that arrives after the timeout must not be
// taken for the answer to the next request.
func TestRTULateAnswer(t *testing.T) {
	dev, peer := ptyPair(t)
	resp := startRTUResponder(t, peer)
	m := mustMap(t, "registers:\n  - {metric: ph, type: holding, address: 0, data_type: uint16, scale: 0.01}\n")
	resp.load(t, 1, m, map[string]float64{"ph": 7.31})
	d := newDevice(t, "rtu://"+dev+"?baud=19200", 1, m, nil, func(c *Config) { c.Timeout = 200 * time.Millisecond })
	resp.mu.Lock()
	resp.late = 400 * time.Millisecond
	resp.mu.Unlock()
	if _, err := d.Poll(context.Background(), time.Now()); err == nil {
		t.Fatal("late answer: no timeout")
	}
	time.Sleep(500 * time.Millisecond) // the late answer is on the line now
	for i := 0; i < 3; i++ {
		s, err := d.Poll(context.Background(), time.Now())
		if err != nil || len(s) != 1 || s[0].V != 7.31 {
			t.Fatalf("poll %d after a late answer: %v %v", i, s, err)
		}
	}
}
