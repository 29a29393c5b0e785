package modbus

import (
	"bytes"
	"context"
	"encoding/binary"
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
		r.mu.Unlock()
		if resp == nil {
			continue
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
	d1 := newDevice(t, addr, 1, m, pool, nil)
	d2 := newDevice(t, addr, 2, m, pool, nil)
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
	d3 := newDevice(t, addr, 1, bad, pool, nil)
	_, err := d3.Poll(context.Background(), time.Now())
	var ee *ExceptionError
	if !errors.As(err, &ee) || !strings.Contains(err.Error(), "illegal data address 40501 on station HN-01 slave 1") {
		t.Fatalf("exception over RTU: %v", err)
	}
}
