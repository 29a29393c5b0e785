package simulator

import (
	"context"
	"fmt"
	"io"
	"log"
	"net"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	mb "github.com/simonvetter/modbus"

	mbmap "github.com/quantrac/quantrac/drivers/modbus"
	"github.com/quantrac/quantrac/model"
)

// modbusPort is one Modbus TCP server; it serves one station, or several
// as unit ids behind one port (like a gateway).
type modbusPort struct {
	sim   *Simulator
	addr  string // host:port
	units map[uint8]*modbusUnit
	only  *modbusUnit // set when the port serves a single station
	max   uint

	mu       sync.Mutex
	server   *mb.ModbusServer
	running  bool
	stopped  bool // for good
	dropping atomic.Bool

	requests atomic.Int64
}

// modbusUnit is one station behind a port: its map and a register image
// rebuilt once per time step.
type modbusUnit struct {
	st   *station
	rmap *mbmap.RegisterMap

	mu     sync.Mutex
	step   int64
	faults string // active faults the image was built with
	valid  bool
	img    regImage
}

type regImage struct {
	holding, input  map[uint16]uint16
	coils, discrete map[uint16]bool
}

// newModbusUnit binds a station to its map and sets up the transport
// quantization (decode(encode(v))) the truth uses.
func newModbusUnit(st *station, rmap *mbmap.RegisterMap) *modbusUnit {
	u := &modbusUnit{st: st, rmap: rmap}
	for i := range rmap.Registers {
		r := &rmap.Registers[i]
		if _, done := st.quant[r.Metric]; done {
			continue
		}
		st.quant[r.Metric] = func(v float64) (float64, bool) {
			w, err := r.Encode(v)
			if err != nil {
				return 0, false
			}
			d, err := r.Decode(w)
			return d, err == nil
		}
	}
	return u
}

// image returns the register image for wall time w.
func (u *modbusUnit) image(w time.Time) regImage {
	k, _ := u.st.step(w)
	fk := fmt.Sprint(u.st.faults.activeFor(u.st.info.ID, w))
	u.mu.Lock()
	defer u.mu.Unlock()
	if u.valid && u.step == k && u.faults == fk {
		return u.img
	}
	img := regImage{holding: map[uint16]uint16{}, input: map[uint16]uint16{}, coils: map[uint16]bool{}, discrete: map[uint16]bool{}}
	put := func(r *mbmap.Register, v float64) {
		switch r.Type {
		case mbmap.Coil, mbmap.Discrete:
			m := img.coils
			if r.Type == mbmap.Discrete {
				m = img.discrete
			}
			m[r.Address] = v != 0
			return
		}
		m := img.holding
		if r.Type == mbmap.Input {
			m = img.input
		}
		words := make([]uint16, r.Count())
		for i := range words {
			words[i] = m[r.Address+uint16(i)]
		}
		if err := r.EncodeTo(words, v); err != nil {
			return // the truth says the value does not fit: zeros are served
		}
		for i, wd := range words {
			m[r.Address+uint16(i)] = wd
		}
	}
	for i := range u.rmap.Registers {
		r := &u.rmap.Registers[i]
		rd := u.st.reading(r.Metric, w)
		if rd.OK {
			put(r, *rd.V)
		}
	}
	if s := u.rmap.Status; s != nil {
		q, _ := model.ParseStatus(u.st.status(w))
		if raw, ok := s.RawFor(q); ok {
			put(s.Register(), float64(raw))
		}
	}
	u.img, u.step, u.faults, u.valid = img, k, fk, true
	return img
}

// exceptionErrors maps exception codes onto the server library's errors.
var exceptionErrors = map[int]error{
	1: mb.ErrIllegalFunction, 2: mb.ErrIllegalDataAddress, 3: mb.ErrIllegalDataValue,
	4: mb.ErrServerDeviceFailure, 5: mb.ErrAcknowledge, 6: mb.ErrServerDeviceBusy,
	8: mb.ErrMemoryParityError, 10: mb.ErrGWPathUnavailable, 11: mb.ErrGWTargetFailedToRespond,
}

// unit finds the station for a request and applies the request-level
// faults (offline, slow, exception, drop).
func (p *modbusPort) unit(id uint8) (*modbusUnit, error) {
	p.requests.Add(1)
	p.sim.stats.modbusRequests.Add(1)
	u := p.units[id]
	if u == nil && p.only != nil && (id == 0 || id == 255) {
		u = p.only
	}
	if u == nil {
		return nil, mb.ErrGWTargetFailedToRespond
	}
	now := p.sim.now()
	f := p.sim.faults
	id2 := u.st.info.ID
	if f.active(id2, FaultOffline, now) != nil {
		return nil, mb.ErrGWTargetFailedToRespond
	}
	if w := f.active(id2, FaultSlow, now); w != nil {
		select {
		case <-time.After(w.delay()):
		case <-p.sim.ctx.Done():
			return nil, mb.ErrServerDeviceBusy
		}
	}
	if w := f.active(id2, FaultDrop, now); w != nil {
		p.drop()
		return nil, mb.ErrServerDeviceFailure
	}
	if w := f.active(id2, FaultException, now); w != nil {
		p.sim.stats.modbusExceptions.Add(1)
		return nil, exceptionErrors[w.code()]
	}
	return u, nil
}

// drop closes every connection of the port (by restarting the server),
// as a datalogger that resets its TCP stack does.
func (p *modbusPort) drop() {
	if !p.dropping.CompareAndSwap(false, true) {
		time.Sleep(50 * time.Millisecond)
		return
	}
	p.sim.stats.modbusDrops.Add(1)
	go func() {
		defer p.dropping.Store(false)
		p.mu.Lock()
		defer p.mu.Unlock()
		if !p.running || p.stopped {
			return
		}
		_ = p.server.Stop()
		if err := p.startLocked(); err != nil {
			p.sim.log.Warn().Err(err).Str("addr", p.addr).Msg("modbus: restart after drop")
		}
	}()
	// Give the restart time to close this connection before the answer.
	time.Sleep(50 * time.Millisecond)
}

// startLocked starts a fresh server on the port. The library's Start on a
// server that was stopped races with that server's old accept loop (the
// race detector sees it on every drop fault), so each restart builds a new
// server; the port's address, limits and handler stay the same.
func (p *modbusPort) startLocked() error {
	var err error
	for i := 0; i < 50; i++ {
		var srv *mb.ModbusServer
		srv, err = mb.NewServer(&mb.ServerConfiguration{
			URL:        "tcp://" + p.addr,
			Timeout:    5 * time.Minute,
			MaxClients: p.max,
			Logger:     log.New(io.Discard, "", 0),
		}, p)
		if err != nil {
			return fmt.Errorf("modbus server %s: %w", p.addr, err)
		}
		if err = srv.Start(); err == nil {
			p.server = srv
			p.running = true
			return nil
		}
		time.Sleep(20 * time.Millisecond)
	}
	return fmt.Errorf("modbus server %s: listen: %w", p.addr, err)
}

// start creates and starts the server.
func (p *modbusPort) start() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.startLocked()
}

// setOnline stops the listener (connection refused, like a powered-off
// logger) or starts it again.
func (p *modbusPort) setOnline(on bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.stopped || p.server == nil || on == p.running {
		return
	}
	if on {
		if err := p.startLocked(); err != nil {
			p.sim.log.Warn().Err(err).Msg("modbus: back online")
		}
		return
	}
	_ = p.server.Stop()
	p.running = false
}

func (p *modbusPort) stop() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.stopped = true
	if p.server != nil && p.running {
		_ = p.server.Stop()
	}
	p.running = false
}

// HandleCoils implements mb.RequestHandler.
func (p *modbusPort) HandleCoils(req *mb.CoilsRequest) ([]bool, error) {
	u, err := p.unit(req.UnitId)
	if err != nil {
		return nil, err
	}
	if req.IsWrite {
		return nil, mb.ErrIllegalFunction
	}
	return bits(u.image(p.sim.now()).coils, req.Addr, req.Quantity), nil
}

// HandleDiscreteInputs implements mb.RequestHandler.
func (p *modbusPort) HandleDiscreteInputs(req *mb.DiscreteInputsRequest) ([]bool, error) {
	u, err := p.unit(req.UnitId)
	if err != nil {
		return nil, err
	}
	return bits(u.image(p.sim.now()).discrete, req.Addr, req.Quantity), nil
}

// HandleHoldingRegisters implements mb.RequestHandler. Writes are refused:
// the simulated loggers are read-only.
func (p *modbusPort) HandleHoldingRegisters(req *mb.HoldingRegistersRequest) ([]uint16, error) {
	u, err := p.unit(req.UnitId)
	if err != nil {
		return nil, err
	}
	if req.IsWrite {
		return nil, mb.ErrIllegalFunction
	}
	return words(u.image(p.sim.now()).holding, req.Addr, req.Quantity), nil
}

// HandleInputRegisters implements mb.RequestHandler.
func (p *modbusPort) HandleInputRegisters(req *mb.InputRegistersRequest) ([]uint16, error) {
	u, err := p.unit(req.UnitId)
	if err != nil {
		return nil, err
	}
	return words(u.image(p.sim.now()).input, req.Addr, req.Quantity), nil
}

// Unmapped addresses read as zero, as on most loggers.
func words(m map[uint16]uint16, addr, n uint16) []uint16 {
	out := make([]uint16, n)
	for i := range out {
		out[i] = m[addr+uint16(i)]
	}
	return out
}

func bits(m map[uint16]bool, addr, n uint16) []bool {
	out := make([]bool, n)
	for i := range out {
		out[i] = m[addr+uint16(i)]
	}
	return out
}

// freePort asks the kernel for a free TCP port on host.
func freePort(host string) (int, error) {
	l, err := net.Listen("tcp", net.JoinHostPort(host, "0"))
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// buildModbusPorts places the Modbus stations on ports.
func (s *Simulator) buildModbusPorts(units []*modbusUnit) error {
	cfg := s.sc.Modbus
	byPort := map[int]*modbusPort{}
	var order []int
	next := cfg.BasePort
	var cur *modbusPort
	used := map[int]bool{}
	for _, u := range units {
		if u.st.cfg.Port != 0 {
			used[u.st.cfg.Port] = true
		}
	}
	newPort := func(port int) (*modbusPort, error) {
		if port == 0 {
			// The kernel may hand out a port again once its probe closed:
			// skip ports already taken here.
			for tries := 0; port == 0 || byPort[port] != nil || used[port]; tries++ {
				var err error
				if port, err = freePort(cfg.Host); err != nil {
					return nil, fmt.Errorf("modbus: pick a free port: %w", err)
				}
				if tries > 100 {
					return nil, fmt.Errorf("modbus: no free port on %s", cfg.Host)
				}
			}
		}
		if p := byPort[port]; p != nil {
			return p, nil
		}
		p := &modbusPort{sim: s, addr: net.JoinHostPort(cfg.Host, strconv.Itoa(port)), units: map[uint8]*modbusUnit{}, max: uint(cfg.MaxClients)}
		byPort[port] = p
		order = append(order, port)
		return p, nil
	}
	for _, u := range units {
		var p *modbusPort
		var err error
		if u.st.cfg.Port != 0 {
			p, err = newPort(u.st.cfg.Port)
		} else {
			if cur == nil || len(cur.units) >= cfg.UnitsPerPort || cur.explicit() {
				port := 0
				if cfg.BasePort != 0 {
					for used[next] {
						next++
					}
					port = next
					used[next] = true
					next++
					if port > 65535 {
						return fmt.Errorf("modbus: ran out of ports from %d", cfg.BasePort)
					}
				}
				cur, err = newPort(port)
			}
			p = cur
		}
		if err != nil {
			return err
		}
		id := uint8(u.st.cfg.UnitID)
		if id == 0 {
			id = 1
			for p.units[id] != nil {
				id++
			}
		}
		if p.units[id] != nil {
			return fmt.Errorf("modbus %s: stations %s and %s both use unit id %d", p.addr, p.units[id].st.info.ID, u.st.info.ID, id)
		}
		p.units[id] = u
		u.st.info.Address = "tcp://" + p.addr
		u.st.info.UnitID = int(id)
	}
	for _, port := range order {
		p := byPort[port]
		if len(p.units) == 1 {
			for _, u := range p.units {
				p.only = u
			}
		}
		if err := p.start(); err != nil {
			return err
		}
		s.ports = append(s.ports, p)
	}
	return nil
}

// explicit reports whether the port was asked for by a station's port:
// automatic placement does not add stations to it.
func (p *modbusPort) explicit() bool {
	for _, u := range p.units {
		if u.st.cfg.Port != 0 {
			return true
		}
	}
	return false
}

// watchModbus applies the offline fault to ports whose every station is
// offline: the listener closes, so clients get "connection refused".
func (s *Simulator) watchModbus(ctx context.Context) {
	t := time.NewTicker(200 * time.Millisecond)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		now := s.now()
		for _, p := range s.ports {
			all := true
			for _, u := range p.units {
				if s.faults.active(u.st.info.ID, FaultOffline, now) == nil {
					all = false
					break
				}
			}
			p.setOnline(!all)
		}
	}
}
