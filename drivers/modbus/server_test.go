package modbus

import (
	"fmt"
	"io"
	"log"
	"net"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	sv "github.com/simonvetter/modbus"
)

// testServer is a real Modbus TCP server (simonvetter/modbus) holding a
// register image per unit id, with knobs for the faults the driver handles.
type testServer struct {
	t    *testing.T
	addr string // host:port
	srv  *sv.ModbusServer

	mu       sync.Mutex
	holding  map[uint8]map[uint16]uint16
	input    map[uint8]map[uint16]uint16
	coils    map[uint8]map[uint16]bool
	discrete map[uint8]map[uint16]bool
	units    map[uint8]bool // served unit ids; empty: all
	strict   bool           // unset addresses answer "illegal data address"

	requests atomic.Int64  // reads served (exceptions included)
	busy     atomic.Int64  // answer "busy" to this many more requests
	stall    atomic.Int64  // the next request sleeps this many ns first
	hold     chan struct{} // when set, requests wait until it is closed
}

// freeAddr returns a loopback address with a port free right now (the
// server library does not report the port it bound for ":0").
func freeAddr(t testing.TB) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	return addr
}

func newTestServer(t testing.TB) *testServer {
	t.Helper()
	s := &testServer{
		holding:  map[uint8]map[uint16]uint16{},
		input:    map[uint8]map[uint16]uint16{},
		coils:    map[uint8]map[uint16]bool{},
		discrete: map[uint8]map[uint16]bool{},
		units:    map[uint8]bool{},
	}
	var err error
	for try := 0; try < 5; try++ {
		s.addr = freeAddr(t)
		s.srv, err = sv.NewServer(&sv.ServerConfiguration{
			URL:        "tcp://" + s.addr,
			Timeout:    30 * time.Second,
			MaxClients: 20,
			Logger:     log.New(io.Discard, "", 0),
		}, s)
		if err != nil {
			t.Fatal(err)
		}
		if err = s.srv.Start(); err == nil {
			break
		}
	}
	if err != nil {
		t.Fatalf("start modbus server: %v", err)
	}
	t.Cleanup(func() { s.srv.Stop() })
	return s
}

func (s *testServer) url() string { return "tcp://" + s.addr }

// restart drops every client connection and listens again on the same port.
func (s *testServer) restart(t testing.TB) {
	t.Helper()
	if err := s.srv.Stop(); err != nil {
		t.Fatal(err)
	}
	var err error
	for try := 0; try < 50; try++ {
		if err = s.srv.Start(); err == nil {
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("restart: %v", err)
}

// load writes every register of m, set to values[metric], into unit's image.
func (s *testServer) load(t testing.TB, unit uint8, m *RegisterMap, values map[string]float64, status uint16) {
	t.Helper()
	s.mu.Lock()
	defer s.mu.Unlock()
	put := func(r *Register, v float64) {
		switch r.Type {
		case Coil, Discrete:
			tbl := s.coils
			if r.Type == Discrete {
				tbl = s.discrete
			}
			if tbl[unit] == nil {
				tbl[unit] = map[uint16]bool{}
			}
			w, err := r.Encode(v)
			if err != nil {
				t.Fatal(err)
			}
			tbl[unit][r.Address] = w[0] != 0
			return
		}
		tbl := s.holding
		if r.Type == Input {
			tbl = s.input
		}
		if tbl[unit] == nil {
			tbl[unit] = map[uint16]uint16{}
		}
		words := make([]uint16, r.Count())
		for i := range words {
			words[i] = tbl[unit][r.Address+uint16(i)]
		}
		if err := r.EncodeTo(words, v); err != nil {
			t.Fatal(err)
		}
		for i, w := range words {
			tbl[unit][r.Address+uint16(i)] = w
		}
	}
	for i := range m.Registers {
		r := &m.Registers[i]
		v, ok := values[r.Metric]
		if ok { // registers without a value stay unset
			put(r, v)
		}
	}
	if m.Status != nil {
		put(m.Status.Register(), float64(status))
	}
}

func (s *testServer) fillHolding(unit uint8, from, to uint16) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.holding[unit] == nil {
		s.holding[unit] = map[uint16]uint16{}
	}
	for a := from; a <= to; a++ {
		s.holding[unit][a] += 0
	}
}

// gate applies the fault knobs common to every request.
func (s *testServer) gate(unit uint8) error {
	s.requests.Add(1)
	if d := s.stall.Swap(0); d > 0 {
		time.Sleep(time.Duration(d))
	}
	s.mu.Lock()
	hold := s.hold
	s.mu.Unlock()
	if hold != nil {
		<-hold
	}
	if s.busy.Load() > 0 {
		s.busy.Add(-1)
		return sv.ErrServerDeviceBusy
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.units) > 0 && !s.units[unit] {
		return sv.ErrGWTargetFailedToRespond
	}
	return nil
}

func (s *testServer) regs(tbl map[uint8]map[uint16]uint16, unit uint8, addr, n uint16) ([]uint16, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]uint16, n)
	for i := range out {
		v, ok := tbl[unit][addr+uint16(i)]
		if !ok && s.strict {
			return nil, sv.ErrIllegalDataAddress
		}
		out[i] = v
	}
	return out, nil
}

func (s *testServer) bits(tbl map[uint8]map[uint16]bool, unit uint8, addr, n uint16) ([]bool, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]bool, n)
	for i := range out {
		v, ok := tbl[unit][addr+uint16(i)]
		if !ok && s.strict {
			return nil, sv.ErrIllegalDataAddress
		}
		out[i] = v
	}
	return out, nil
}

func (s *testServer) HandleCoils(req *sv.CoilsRequest) ([]bool, error) {
	if err := s.gate(req.UnitId); err != nil {
		return nil, err
	}
	if req.IsWrite {
		return nil, sv.ErrIllegalFunction
	}
	return s.bits(s.coils, req.UnitId, req.Addr, req.Quantity)
}

func (s *testServer) HandleDiscreteInputs(req *sv.DiscreteInputsRequest) ([]bool, error) {
	if err := s.gate(req.UnitId); err != nil {
		return nil, err
	}
	return s.bits(s.discrete, req.UnitId, req.Addr, req.Quantity)
}

func (s *testServer) HandleHoldingRegisters(req *sv.HoldingRegistersRequest) ([]uint16, error) {
	if err := s.gate(req.UnitId); err != nil {
		return nil, err
	}
	if req.IsWrite {
		return nil, sv.ErrIllegalFunction
	}
	return s.regs(s.holding, req.UnitId, req.Addr, req.Quantity)
}

func (s *testServer) HandleInputRegisters(req *sv.InputRegistersRequest) ([]uint16, error) {
	if err := s.gate(req.UnitId); err != nil {
		return nil, err
	}
	return s.regs(s.input, req.UnitId, req.Addr, req.Quantity)
}

var _ = fmt.Sprintf
