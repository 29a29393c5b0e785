package simulator

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/rs/zerolog"

	mbmap "github.com/quantrac/quantrac/drivers/modbus"
	"github.com/quantrac/quantrac/model"
)

// Options tune a simulator beyond its scenario. Fields override the
// scenario when set.
type Options struct {
	// Logger for events; default: disabled.
	Logger zerolog.Logger
	// Now is the wall clock; default time.Now. Tests may fix the start.
	Now func() time.Time
	// BeijingDir overrides the scenario's beijing.dir.
	BeijingDir string
	// ControlListen overrides control.listen ("-" disables it).
	ControlListen string
	// MQTTListen overrides mqtt.listen (embedded broker address).
	MQTTListen string
	// MQTTURL overrides mqtt.url (external broker).
	MQTTURL string
	// Spool overrides txt.spool.
	Spool string
	// ModbusBasePort overrides modbus.base_port when not nil (0: free ports).
	ModbusBasePort *int
	// Speed overrides the scenario speed when > 0.
	Speed float64
}

// DefaultOptions returns options with a disabled logger and the real clock.
func DefaultOptions() Options {
	return Options{Logger: zerolog.Nop(), Now: time.Now}
}

// Simulator runs a scenario. Create it with Start, stop it with Stop.
type Simulator struct {
	sc    *Scenario
	opts  Options
	log   zerolog.Logger
	start time.Time

	stations []*station
	byID     map[string]*station
	faults   *faultBook

	ports   []*modbusPort
	broker  *Broker
	mqttPub publisher
	spool   string

	control     *http.Server
	controlAddr string

	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup
	once   sync.Once

	stats simStats
}

type simStats struct {
	modbusRequests   atomic.Int64
	modbusExceptions atomic.Int64
	modbusDrops      atomic.Int64
	mqttMessages     atomic.Int64
	mqttErrors       atomic.Int64
	txtFiles         atomic.Int64
	txtErrors        atomic.Int64
}

// Stats are counters since the start.
type Stats struct {
	Stations         int   `json:"stations"`
	ModbusStations   int   `json:"modbus_stations"`
	MQTTStations     int   `json:"mqtt_stations"`
	TXTStations      int   `json:"txt_stations"`
	ModbusPorts      int   `json:"modbus_ports"`
	ModbusRequests   int64 `json:"modbus_requests"`
	ModbusExceptions int64 `json:"modbus_exceptions"`
	ModbusDrops      int64 `json:"modbus_drops"`
	MQTTMessages     int64 `json:"mqtt_messages"`
	MQTTErrors       int64 `json:"mqtt_errors"`
	TXTFiles         int64 `json:"txt_files"`
	TXTErrors        int64 `json:"txt_errors"`
	ActiveFaults     int   `json:"active_faults"`
	BrokerUp         bool  `json:"broker_up"`
}

// Start builds every station of the scenario, starts the servers,
// publishers and writers, and returns once all listen. Cancelling ctx stops
// them like Stop.
func Start(ctx context.Context, sc *Scenario, opts Options) (*Simulator, error) {
	if sc == nil {
		return nil, errors.New("simulator: nil scenario")
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Speed > 0 {
		sc.Speed = opts.Speed
	}
	if opts.ModbusBasePort != nil {
		sc.Modbus.BasePort = *opts.ModbusBasePort
	}
	if opts.MQTTURL != "" {
		sc.MQTT.URL, sc.MQTT.Listen = opts.MQTTURL, ""
	}
	if opts.MQTTListen != "" {
		sc.MQTT.Listen, sc.MQTT.URL = opts.MQTTListen, ""
	}
	if opts.Spool != "" {
		sc.TXT.Spool = opts.Spool
	}
	if opts.ControlListen != "" {
		sc.Control.Listen = opts.ControlListen
		if opts.ControlListen == "-" {
			sc.Control.Listen = ""
		}
	}
	s := &Simulator{
		sc:     sc,
		opts:   opts,
		log:    opts.Logger,
		byID:   map[string]*station{},
		faults: newFaultBook(),
	}
	s.start = opts.Now()
	s.ctx, s.cancel = context.WithCancel(context.Background())
	if err := s.build(); err != nil {
		s.Stop()
		return nil, err
	}
	if ctx != nil {
		s.wg.Add(1)
		go func() {
			defer s.wg.Done()
			select {
			case <-ctx.Done():
				go s.Stop()
			case <-s.ctx.Done():
			}
		}()
	}
	return s, nil
}

func (s *Simulator) now() time.Time { return s.opts.Now() }

// mapPath resolves a station's map name to a file.
func (s *Simulator) mapPath(name string) string {
	if strings.ContainsAny(name, `/\`) || strings.HasSuffix(name, ".yaml") || strings.HasSuffix(name, ".yml") {
		return s.sc.path(name)
	}
	return filepath.Join(s.sc.path(s.sc.Modbus.Maps), name+".yaml")
}

func (s *Simulator) build() error {
	sc := s.sc
	// Register maps, loaded once each.
	maps := map[string]*mbmap.RegisterMap{}
	loadMap := func(name string) (*mbmap.RegisterMap, string, error) {
		p := s.mapPath(name)
		if m := maps[p]; m != nil {
			return m, p, nil
		}
		m, err := mbmap.LoadRegisterMap(p)
		if err != nil {
			return nil, p, err
		}
		maps[p] = m
		return m, p, nil
	}
	stations := append([]StationConfig(nil), sc.Stations...)
	if g := sc.Generate; g.Modbus+g.MQTT+g.TXT > 0 {
		names := g.Maps
		if len(names) == 0 && g.Modbus > 0 {
			ents, err := os.ReadDir(s.sc.path(sc.Modbus.Maps))
			if err != nil {
				return fmt.Errorf("generate: list register maps: %w", err)
			}
			for _, e := range ents {
				if strings.HasSuffix(e.Name(), ".yaml") {
					names = append(names, strings.TrimSuffix(e.Name(), ".yaml"))
				}
			}
			sort.Strings(names)
		}
		metrics := map[string][]string{}
		for _, n := range names {
			m, _, err := loadMap(n)
			if err != nil {
				return fmt.Errorf("generate: %w", err)
			}
			for _, r := range m.Registers {
				metrics[n] = append(metrics[n], r.Metric)
			}
		}
		gen, err := generated(sc.Seed, g, names, metrics)
		if err != nil {
			return err
		}
		for _, st := range gen {
			for _, o := range stations {
				if o.ID == st.ID {
					return fmt.Errorf("generate: station id %s already used", st.ID)
				}
			}
		}
		stations = append(stations, gen...)
	}

	replays, err := s.loadReplays(stations)
	if err != nil {
		return err
	}
	replayNames := make([]string, 0, len(replays))
	for n := range replays {
		replayNames = append(replayNames, n)
	}
	sort.Strings(replayNames)

	var units []*modbusUnit
	airIndex := 0
	for i := range stations {
		cfg := stations[i]
		speed := sc.Speed
		if cfg.Speed > 0 {
			speed = cfg.Speed
		}
		interval := sc.Interval
		if cfg.Interval > 0 {
			interval = cfg.Interval
		}
		if cfg.Transport == TransportTXT && (interval < time.Second || interval%time.Second != 0) {
			return fmt.Errorf("station %s: interval %s: TXT files are stamped to the second, want whole seconds", cfg.ID, interval)
		}
		if cfg.Transport == TransportMQTT && cfg.Format == FormatJSON && cfg.TimeFormat == TimeUnix && (interval < time.Second || interval%time.Second != 0) {
			return fmt.Errorf("station %s: interval %s: time_format unix stamps to the second, want whole seconds (or unix_ms)", cfg.ID, interval)
		}
		st := &station{
			cfg:      cfg,
			clock:    Clock{WallStart: s.start, SimStart: s.start, Speed: speed},
			interval: interval,
			signals:  map[string]Signal{},
			quant:    map[string]func(float64) (float64, bool){},
			spikes:   newNoiseKey(sc.Seed, cfg.ID, "faults"),
			faults:   s.faults,
		}
		st.info = StationInfo{
			Station: model.Station{
				ID: cfg.ID, Name: cfg.Name, Kind: cfg.Kind, Province: cfg.Province, Lat: cfg.Lat, Lon: cfg.Lon,
			},
			Transport: cfg.Transport, Interval: interval, Speed: speed, Flood: cfg.Flood,
		}
		env := &signalEnv{seed: sc.Seed, station: cfg.ID, origin: s.start, loc: VietnamTime, flood: cfg.Flood, cfg: cfg.Signals}
		if cfg.Kind == model.KindAir && len(replays) > 0 {
			name := cfg.Replay
			if replays[name] == nil {
				name = replayNames[airIndex%len(replayNames)]
				airIndex++
			}
			env.replay = replays[name]
			st.info.Replay = name
		}
		var rmap *mbmap.RegisterMap
		paramList := cfg.Parameters
		if cfg.Transport == TransportModbus {
			m, p, err := loadMap(cfg.Map)
			if err != nil {
				return fmt.Errorf("station %s: %w", cfg.ID, err)
			}
			rmap = m
			st.info.Map = p
			paramList = nil
			seen := map[string]bool{}
			for _, r := range m.Registers {
				if !seen[r.Metric] {
					seen[r.Metric] = true
					paramList = append(paramList, r.Metric)
				}
			}
		}
		for _, p := range paramList {
			sig, err := newSignal(p, env)
			if err != nil {
				if cfg.Transport != TransportModbus {
					return fmt.Errorf("station %s: %w", cfg.ID, err)
				}
				sig = genericSignal(p, env, rmap.Registers[registerIndex(rmap, p)].Type.IsBit() || rmap.Registers[registerIndex(rmap, p)].DataType == mbmap.Bit)
			}
			st.signals[p] = sig
			st.params = append(st.params, p)
		}
		st.info.Parameters = st.params
		switch cfg.Transport {
		case TransportModbus:
			units = append(units, newModbusUnit(st, rmap))
		case TransportMQTT:
			st.info.Format, st.info.TimeFormat = cfg.Format, cfg.TimeFormat
			st.info.Topic = topicFor(st)
		case TransportTXT:
			st.info.Facility = cfg.Facility
			if st.info.Facility == "" {
				st.info.Facility = sc.TXT.Facility
			}
		}
		s.stations = append(s.stations, st)
		s.byID[cfg.ID] = st
	}

	for _, f := range sc.Faults {
		if f.Station != "" && f.Station != "*" && s.byID[f.Station] == nil {
			return fmt.Errorf("fault %s: unknown station %q", f.Kind, f.Station)
		}
		from := s.start.Add(f.After)
		var to time.Time
		if f.For > 0 {
			to = from.Add(f.For)
		}
		s.faults.add(f.Fault, from, to)
	}

	if len(units) > 0 {
		if err := s.buildModbusPorts(units); err != nil {
			return err
		}
		s.goRun(s.watchModbus)
	}
	if err := s.startMQTT(); err != nil {
		return err
	}
	if err := s.startTXT(); err != nil {
		return err
	}
	if sc.Control.Listen != "" {
		if err := s.startControl(sc.Control.Listen); err != nil {
			return err
		}
	}
	s.log.Info().Int("stations", len(s.stations)).Int("modbus_ports", len(s.ports)).Msg("simulator started")
	return nil
}

// loadReplays loads, in parallel, the Beijing files the air stations use.
func (s *Simulator) loadReplays(stations []StationConfig) (map[string]*Replay, error) {
	dir := s.opts.BeijingDir
	if dir == "" {
		dir = s.sc.path(s.sc.Beijing.Dir)
	}
	if dir == "" {
		return nil, nil
	}
	files, err := ReplayFiles(dir)
	if err != nil {
		return nil, err
	}
	names := make([]string, 0, len(files))
	for n := range files {
		names = append(names, n)
	}
	sort.Strings(names)
	need := map[string]bool{}
	air := 0
	for _, st := range stations {
		if st.Kind != model.KindAir {
			continue
		}
		if st.Replay != "" && files[st.Replay] != "" {
			need[st.Replay] = true
		} else {
			if st.Replay != "" {
				s.log.Warn().Str("station", st.ID).Str("replay", st.Replay).Strs("have", names).Msg("beijing replay: no such file, taking another")
			}
			air++
		}
	}
	for i := 0; i < air && i < len(names); i++ {
		need[names[i]] = true
	}
	var start time.Time
	if s.sc.Beijing.Start != "" {
		start, _ = time.Parse("2006-01-02", s.sc.Beijing.Start)
	}
	out := map[string]*Replay{}
	var mu sync.Mutex
	var wg sync.WaitGroup
	var firstErr error
	for n := range need {
		wg.Add(1)
		go func(n string) {
			defer wg.Done()
			r, err := LoadReplay(files[n])
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				if firstErr == nil {
					firstErr = err
				}
				return
			}
			if r.Skipped > 0 {
				s.log.Warn().Str("file", files[n]).Int("skipped", r.Skipped).AnErr("first", r.SkipErr).Msg("beijing replay: malformed rows skipped")
			}
			r.SetStart(s.start, start, VietnamTime)
			out[n] = r
		}(n)
	}
	wg.Wait()
	if firstErr != nil {
		return nil, firstErr
	}
	// Air stations without an explicit replay take the loaded files in turn.
	return out, nil
}

// genericSignal serves metrics a register map has that the simulator does
// not model: a slow wave between 10 and 90, or for bits a state that
// toggles now and then.
func genericSignal(param string, env *signalEnv, bit bool) Signal {
	k := env.key(param)
	return SignalFunc(func(t time.Time) (float64, bool) {
		x := k.smooth(float64(t.Unix()) / 3600)
		if bit {
			if x > 0 {
				return 1, true
			}
			return 0, true
		}
		return round(50+40*x, 2), true
	})
}

// registerIndex returns the index of the first register of metric.
func registerIndex(m *mbmap.RegisterMap, metric string) int {
	for i, r := range m.Registers {
		if r.Metric == metric {
			return i
		}
	}
	return 0
}

func (s *Simulator) goRun(f func(ctx context.Context)) {
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		f(s.ctx)
	}()
}

// Stop stops every server, publisher and writer and waits for them.
func (s *Simulator) Stop() {
	s.once.Do(func() {
		s.cancel()
		if s.control != nil {
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
			_ = s.control.Shutdown(ctx)
			cancel()
		}
		for _, p := range s.ports {
			p.stop()
		}
		s.wg.Wait()
		s.closeStationClients()
		if s.mqttPub != nil {
			s.mqttPub.close()
		}
		if s.broker != nil {
			s.broker.Stop()
		}
		s.log.Info().Msg("simulator stopped")
	})
}

// Done is closed when the simulator stops.
func (s *Simulator) Done() <-chan struct{} { return s.ctx.Done() }

// Scenario returns the scenario the simulator runs (with defaults filled).
func (s *Simulator) Scenario() *Scenario { return s.sc }

// StartTime returns the wall-clock start (simulated time 0).
func (s *Simulator) StartTime() time.Time { return s.start }

// Stations lists the stations and where each listens, with the faults
// active now.
func (s *Simulator) Stations() []StationInfo {
	now := s.now()
	out := make([]StationInfo, len(s.stations))
	for i, st := range s.stations {
		out[i] = st.info
		out[i].Faults = s.faults.activeFor(st.info.ID, now)
	}
	return out
}

// Station returns one station's description.
func (s *Simulator) Station(id string) (StationInfo, bool) {
	st := s.byID[id]
	if st == nil {
		return StationInfo{}, false
	}
	info := st.info
	info.Faults = s.faults.activeFor(id, s.now())
	return info, true
}

// ErrUnknown is wrapped by errors about unknown stations or parameters.
var ErrUnknown = errors.New("unknown")

func (s *Simulator) lookup(id, param string) (*station, error) {
	st := s.byID[id]
	if st == nil {
		return nil, fmt.Errorf("station %q: %w station", id, ErrUnknown)
	}
	if param != "" && st.signals[param] == nil {
		return nil, fmt.Errorf("station %s: parameter %q: %w parameter (has %v)", id, param, ErrUnknown, st.params)
	}
	return st, nil
}

// Truth returns what station served for param at wall time t.
func (s *Simulator) Truth(id, param string, t time.Time) (Reading, error) {
	st, err := s.lookup(id, param)
	if err != nil {
		return Reading{}, err
	}
	return st.reading(param, t), nil
}

// TruthAll returns every parameter of station id at wall time t.
func (s *Simulator) TruthAll(id string, t time.Time) ([]Reading, error) {
	st, err := s.lookup(id, "")
	if err != nil {
		return nil, err
	}
	return st.readings(t), nil
}

// TruthRange returns the truth of param for every time step from from to
// to (inclusive), at most limit steps (0: 100000).
func (s *Simulator) TruthRange(id, param string, from, to time.Time, limit int) ([]Reading, error) {
	st, err := s.lookup(id, param)
	if err != nil {
		return nil, err
	}
	if limit <= 0 {
		limit = 100000
	}
	if to.Before(from) {
		return nil, fmt.Errorf("truth range: to %s before from %s", to, from)
	}
	_, t := st.step(from)
	var out []Reading
	for !t.After(to) && len(out) < limit {
		out = append(out, st.reading(param, t))
		t = t.Add(st.interval)
	}
	return out, nil
}

// AddFault switches a fault on from now, for d (0: until stopped), and
// returns its window.
func (s *Simulator) AddFault(f Fault, d time.Duration) (FaultWindow, error) {
	if err := f.validate(); err != nil {
		return FaultWindow{}, err
	}
	if f.Station != "" && f.Station != "*" && s.byID[f.Station] == nil {
		return FaultWindow{}, fmt.Errorf("fault %s: station %q: %w station", f.Kind, f.Station, ErrUnknown)
	}
	if d < 0 {
		return FaultWindow{}, fmt.Errorf("fault %s: negative duration %s", f.Kind, d)
	}
	now := s.now()
	var to time.Time
	if d > 0 {
		to = now.Add(d)
	}
	w := s.faults.add(f, now, to)
	s.log.Info().Str("station", f.Station).Str("fault", string(f.Kind)).Dur("for", d).Msg("fault on")
	return *w, nil
}

// StopFault switches off the active faults matching station and kind (empty
// matches any) or the window id (when not 0), and returns how many.
func (s *Simulator) StopFault(station string, kind FaultKind, id int) int {
	n := s.faults.stop(station, kind, id, s.now())
	s.log.Info().Str("station", station).Str("fault", string(kind)).Int("id", id).Int("stopped", n).Msg("fault off")
	return n
}

// Faults returns the whole fault timeline.
func (s *Simulator) Faults() []FaultWindow { return s.faults.list() }

// Stats returns counters since the start.
func (s *Simulator) Stats() Stats {
	st := Stats{
		Stations:         len(s.stations),
		ModbusPorts:      len(s.ports),
		ModbusRequests:   s.stats.modbusRequests.Load(),
		ModbusExceptions: s.stats.modbusExceptions.Load(),
		ModbusDrops:      s.stats.modbusDrops.Load(),
		MQTTMessages:     s.stats.mqttMessages.Load(),
		MQTTErrors:       s.stats.mqttErrors.Load(),
		TXTFiles:         s.stats.txtFiles.Load(),
		TXTErrors:        s.stats.txtErrors.Load(),
	}
	for _, x := range s.stations {
		switch x.info.Transport {
		case TransportModbus:
			st.ModbusStations++
		case TransportMQTT:
			st.MQTTStations++
		case TransportTXT:
			st.TXTStations++
		}
	}
	now := s.now()
	for _, w := range s.faults.list() {
		if w.Active(now) {
			st.ActiveFaults++
		}
	}
	st.BrokerUp = s.broker != nil && s.broker.Up()
	return st
}

// BrokerURL returns the MQTT broker the stations publish to (tcp://...).
func (s *Simulator) BrokerURL() string {
	if s.broker != nil {
		return s.broker.URL()
	}
	return s.sc.MQTT.URL
}

// ControlAddr returns host:port of the HTTP control endpoint, "" if none.
func (s *Simulator) ControlAddr() string { return s.controlAddr }

// Spool returns the TXT spool directory.
func (s *Simulator) Spool() string { return s.spool }

func (s *Simulator) startControl(addr string) error {
	l, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("control endpoint: listen on %s: %w", addr, err)
	}
	s.controlAddr = l.Addr().String()
	s.control = &http.Server{Handler: s.Handler(), ReadHeaderTimeout: 5 * time.Second}
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		if err := s.control.Serve(l); err != nil && !errors.Is(err, http.ErrServerClosed) {
			s.log.Error().Err(err).Msg("control endpoint")
		}
	}()
	return nil
}

// Match reports whether v is what station id served for param at some
// instant in [t, t+slack]: a collector stamps a Modbus poll with its
// scheduled time while the read itself happens a little later, possibly in
// the next time step. It returns the matching reading, or the one at t.
func (s *Simulator) Match(id, param string, t time.Time, v float64, slack time.Duration) (Reading, bool, error) {
	rs, err := s.TruthRange(id, param, t, t.Add(slack), 1000)
	if err != nil {
		return Reading{}, false, err
	}
	for _, r := range rs {
		if r.OK && *r.V == v {
			return r, true, nil
		}
	}
	if len(rs) == 0 {
		return Reading{}, false, nil
	}
	return rs[0], false, nil
}
