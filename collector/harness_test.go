package collector

import (
	"compress/gzip"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"sort"
	"sync"
	"testing"
	"time"

	"github.com/rs/zerolog"
	sv "github.com/simonvetter/modbus"

	"github.com/quantrac/quantrac/drivers/modbus"
	"github.com/quantrac/quantrac/model"
)

// ingestServer is a real HTTP server speaking the api's ingest and stations
// routes; the test stops and starts it on the same address. Like the api it
// de-duplicates by series and timestamp and counts what arrived twice.
type ingestServer struct {
	t    testing.TB
	addr string
	srv  *http.Server

	mu       sync.Mutex
	series   map[string][]model.Point // first arrival order
	seen     map[string]map[int64]bool
	dups     int
	requests int
	stations []model.Station
	token    string
}

func newIngestServer(t testing.TB) *ingestServer {
	s := &ingestServer{t: t, series: map[string][]model.Point{}, seen: map[string]map[int64]bool{}}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s.addr = ln.Addr().String()
	s.serve(ln)
	t.Cleanup(s.stop)
	return s
}

func (s *ingestServer) url() string { return "http://" + s.addr }

func (s *ingestServer) serve(ln net.Listener) {
	mux := http.NewServeMux()
	mux.HandleFunc("POST /api/v1/ingest", s.ingest)
	mux.HandleFunc("POST /api/v1/stations", func(w http.ResponseWriter, r *http.Request) {
		var st []model.Station
		var body io.Reader = r.Body
		if r.Header.Get("Content-Encoding") == "gzip" {
			zr, err := gzip.NewReader(r.Body)
			if err != nil {
				http.Error(w, err.Error(), 400)
				return
			}
			body = zr
		}
		if err := json.NewDecoder(body).Decode(&st); err != nil {
			http.Error(w, err.Error(), 400)
			return
		}
		s.mu.Lock()
		s.stations = st
		s.mu.Unlock()
		w.Write([]byte(`{"stored":` + fmt.Sprint(len(st)) + `}`))
	})
	s.srv = &http.Server{Handler: mux}
	go s.srv.Serve(ln)
}

func (s *ingestServer) stop() {
	if s.srv != nil {
		s.srv.Close()
		s.srv = nil
	}
}

func (s *ingestServer) start() {
	if s.srv != nil {
		return
	}
	var ln net.Listener
	var err error
	for i := 0; i < 100; i++ {
		if ln, err = net.Listen("tcp", s.addr); err == nil {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	if err != nil {
		s.t.Fatalf("restart ingest server: %v", err)
	}
	s.serve(ln)
}

func (s *ingestServer) ingest(w http.ResponseWriter, r *http.Request) {
	if s.token != "" && r.Header.Get("Authorization") != "Bearer "+s.token {
		http.Error(w, "bad token", 401)
		return
	}
	var body io.Reader = r.Body
	if r.Header.Get("Content-Encoding") == "gzip" {
		zr, err := gzip.NewReader(r.Body)
		if err != nil {
			http.Error(w, err.Error(), 400)
			return
		}
		body = zr
	}
	var req ingestRequest
	if err := json.NewDecoder(body).Decode(&req); err != nil {
		http.Error(w, err.Error(), 400)
		return
	}
	n := 0
	s.mu.Lock()
	s.requests++
	for _, se := range req.Series {
		k := model.FromMap(se.Labels).String()
		if s.seen[k] == nil {
			s.seen[k] = map[int64]bool{}
		}
		for i, t := range se.T {
			n++
			if s.seen[k][t] {
				s.dups++
				continue
			}
			s.seen[k][t] = true
			var q uint8
			if se.Q != nil {
				q = se.Q[i]
			}
			s.series[k] = append(s.series[k], model.Point{T: t, V: se.V[i], Q: model.Quality(q)})
		}
	}
	s.mu.Unlock()
	fmt.Fprintf(w, `{"stored":%d,"rejected":0}`, n)
}

// snapshot copies what arrived.
func (s *ingestServer) snapshot() map[string][]model.Point {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make(map[string][]model.Point, len(s.series))
	for k, v := range s.series {
		out[k] = append([]model.Point(nil), v...)
	}
	return out
}

func (s *ingestServer) total() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	for _, v := range s.series {
		n += len(v)
	}
	return n
}

func waitFor(t testing.TB, what string, timeout time.Duration, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", timeout, what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func testLog(t testing.TB) zerolog.Logger {
	return zerolog.New(zerolog.NewTestWriter(t)).Level(zerolog.WarnLevel)
}

// mbServer is a real Modbus TCP server holding a register image per unit.
type mbServer struct {
	addr    string
	srv     *sv.ModbusServer
	mu      sync.Mutex
	holding map[uint8]map[uint16]uint16
	input   map[uint8]map[uint16]uint16
	delay   map[uint8]time.Duration
}

func newMBServer(t testing.TB) *mbServer {
	s := &mbServer{holding: map[uint8]map[uint16]uint16{}, input: map[uint8]map[uint16]uint16{}, delay: map[uint8]time.Duration{}}
	var err error
	for try := 0; try < 5; try++ {
		l, lerr := net.Listen("tcp", "127.0.0.1:0")
		if lerr != nil {
			t.Fatal(lerr)
		}
		s.addr = l.Addr().String()
		l.Close()
		s.srv, err = sv.NewServer(&sv.ServerConfiguration{URL: "tcp://" + s.addr, Timeout: 30 * time.Second, MaxClients: 50, Logger: log.New(io.Discard, "", 0)}, s)
		if err != nil {
			t.Fatal(err)
		}
		if err = s.srv.Start(); err == nil {
			break
		}
	}
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.srv.Stop() })
	return s
}

// load writes values into unit's registers as map m lays them out.
func (s *mbServer) load(t testing.TB, unit uint8, m *modbus.RegisterMap, values map[string]float64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for i := range m.Registers {
		r := &m.Registers[i]
		v, ok := values[r.Metric]
		if !ok || r.Type.IsBit() {
			continue
		}
		words, err := r.Encode(v)
		if err != nil {
			t.Fatalf("encode %s: %v", r.Metric, err)
		}
		tbl := s.holding
		if r.Type == modbus.Input {
			tbl = s.input
		}
		if tbl[unit] == nil {
			tbl[unit] = map[uint16]uint16{}
		}
		for j, w := range words {
			tbl[unit][r.Address+uint16(j)] = w
		}
	}
}

func (s *mbServer) regs(tbl map[uint8]map[uint16]uint16, unit uint8, addr, n uint16) ([]uint16, error) {
	s.mu.Lock()
	d := s.delay[unit]
	out := make([]uint16, n)
	for i := range out {
		out[i] = tbl[unit][addr+uint16(i)]
	}
	s.mu.Unlock()
	time.Sleep(d)
	return out, nil
}

func (s *mbServer) HandleCoils(req *sv.CoilsRequest) ([]bool, error) {
	return make([]bool, req.Quantity), nil
}
func (s *mbServer) HandleDiscreteInputs(req *sv.DiscreteInputsRequest) ([]bool, error) {
	return make([]bool, req.Quantity), nil
}
func (s *mbServer) HandleHoldingRegisters(req *sv.HoldingRegistersRequest) ([]uint16, error) {
	if req.IsWrite {
		return nil, sv.ErrIllegalFunction
	}
	return s.regs(s.holding, req.UnitId, req.Addr, req.Quantity)
}
func (s *mbServer) HandleInputRegisters(req *sv.InputRegistersRequest) ([]uint16, error) {
	return s.regs(s.input, req.UnitId, req.Addr, req.Quantity)
}

// pushSource is a push driver for tests: it emits batches of numbered
// samples and records which were acknowledged.
type pushSource struct {
	stations []string
	every    time.Duration
	perBatch int
	base     int64

	mu    sync.Mutex
	next  int64
	acked []int64 // sequence numbers acknowledged
	limit int64   // stop after this many batches (0: no limit)
}

func (p *pushSource) Run(ctx context.Context, h PushHandler) error {
	t := time.NewTicker(p.every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
		p.mu.Lock()
		if p.limit > 0 && p.next >= p.limit {
			p.mu.Unlock()
			continue
		}
		seq := p.next
		p.next++
		p.mu.Unlock()
		var batch []model.Sample
		for _, st := range p.stations {
			for i := 0; i < p.perBatch; i++ {
				batch = append(batch, model.Sample{
					Labels: model.New(pushMetrics[i%len(pushMetrics)], "station", st, "province", "HN"),
					T:      p.base + seq*1000, V: float64(seq % 500),
				})
			}
		}
		h(ctx, batch, func() {
			p.mu.Lock()
			p.acked = append(p.acked, seq)
			p.mu.Unlock()
		})
	}
}

var pushMetrics = []string{"pm25_ugm3", "pm10_ugm3", "no2_ugm3", "so2_ugm3", "o3_ugm3"}

type runnerFunc func(ctx context.Context) error

func (f runnerFunc) Run(ctx context.Context) error { return f(ctx) }

// checkOrdered fails unless every series' points arrived in time order.
func checkOrdered(t testing.TB, got map[string][]model.Point) {
	t.Helper()
	for k, pts := range got {
		if !sort.SliceIsSorted(pts, func(i, j int) bool { return pts[i].T < pts[j].T }) {
			t.Fatalf("series %s arrived out of order", k)
		}
	}
}
