package modbus

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/rs/zerolog"

	"github.com/quantrac/quantrac/model"
)

// Config is the connection part of one Modbus device, as written in the
// collector's station config (stations[].modbus).
type Config struct {
	// Address is tcp://host:port (port 502 by default),
	// rtu:///dev/ttyUSB0?baud=9600&parity=N&stop=1&data=8 or
	// ascii:///dev/ttyUSB0?baud=9600&parity=E&stop=1&data=7.
	// Serial defaults: 9600 baud, 1 stop bit; RTU 8N, ASCII 7E.
	Address string `yaml:"address"`
	// SlaveID is the unit id: 1..247 on a serial line, 0..255 over TCP.
	SlaveID int `yaml:"slave_id"`
	// Map is the register map file; the caller resolves relative paths.
	Map string `yaml:"map"`
	// Interval is the polling period; the collector's scheduler reads it,
	// the driver does not.
	Interval time.Duration `yaml:"interval"`
	// Timeout bounds each request (and the TCP connect); default 2s.
	Timeout time.Duration `yaml:"timeout"`
	// MaxGap is how many unused registers (or bits) one read may span to
	// join two values; default 10, -1 reads every value on its own. A merged
	// read the device refuses with "illegal data address" is split for good.
	MaxGap *int `yaml:"max_gap"`
	// BusyRetries is how often a request answered "server device busy"
	// (exception 6) or "acknowledge" (5) is repeated; default 3, -1 none.
	BusyRetries int `yaml:"busy_retries"`
	// BusyRetryWait is the pause before such a retry; default 200ms.
	BusyRetryWait time.Duration `yaml:"busy_retry_wait"`
}

// Defaults applied by New.
const (
	DefaultTimeout       = 2 * time.Second
	DefaultMaxGap        = 10
	DefaultBusyRetries   = 3
	DefaultBusyRetryWait = 200 * time.Millisecond
)

// Options are what New needs besides the config.
type Options struct {
	// Map overrides loading Config.Map (the caller already parsed it).
	Map *RegisterMap
	// Pool shares connections between devices; nil means the package-wide
	// pool, so devices on one serial port or gateway always share its lock.
	Pool *Pool
	// Logger receives reconnects and request splits; default: discard.
	Logger *zerolog.Logger
}

// Device is one slave on one link, with its register map and station.
// Poll may be called from any goroutine; polls of one device run one at a
// time, devices on different links never wait for each other.
type Device struct {
	station model.Station
	cfg     Config
	ep      endpoint
	slave   byte
	m       *RegisterMap
	pool    *Pool
	link    *link
	log     zerolog.Logger
	name    string // "station HN-01 slave 3" for errors
	labels  map[*Register]model.Labels

	mu   sync.Mutex // one poll at a time; guards reqs
	reqs []request
}

// New validates cfg and builds the device for station; every error names
// the device. It does not connect: the first Poll does.
func New(station model.Station, cfg Config, opts Options) (*Device, error) {
	name := fmt.Sprintf("station %s slave %d", station.ID, cfg.SlaveID)
	fail := func(format string, args ...any) (*Device, error) {
		return nil, fmt.Errorf("modbus %s: "+format, append([]any{name}, args...)...)
	}
	if station.ID == "" {
		return fail("missing station id")
	}
	ep, err := parseAddress(cfg.Address)
	if err != nil {
		return fail("%v", err)
	}
	name += " (" + ep.String() + ")"
	if ep.serial() && (cfg.SlaveID < 1 || cfg.SlaveID > 247) {
		return fail("slave_id %d out of range 1..247 for a serial line", cfg.SlaveID)
	}
	if cfg.SlaveID < 0 || cfg.SlaveID > 255 {
		return fail("slave_id %d out of range 0..255", cfg.SlaveID)
	}
	if cfg.Timeout < 0 || cfg.BusyRetryWait < 0 || cfg.Interval < 0 {
		return fail("timeout, interval and busy_retry_wait cannot be negative")
	}
	if cfg.Timeout == 0 {
		cfg.Timeout = DefaultTimeout
	}
	if cfg.BusyRetries == 0 {
		cfg.BusyRetries = DefaultBusyRetries
	}
	if cfg.BusyRetries < 0 {
		cfg.BusyRetries = 0
	}
	if cfg.BusyRetryWait == 0 {
		cfg.BusyRetryWait = DefaultBusyRetryWait
	}
	gap := DefaultMaxGap
	if cfg.MaxGap != nil {
		gap = *cfg.MaxGap
		if gap < -1 {
			return fail("max_gap %d: want -1 (no merging) or more", gap)
		}
	}
	m := opts.Map
	if m == nil {
		if cfg.Map == "" {
			return fail("missing map: name a register map file")
		}
		if m, err = LoadRegisterMap(cfg.Map); err != nil {
			return fail("%v", err)
		}
	}
	for _, l := range []struct{ name, v string }{
		{model.LabelStation, station.ID}, {model.LabelProvince, station.Province}, {model.LabelKind, station.Kind},
	} {
		if l.v == "" {
			return fail("station has no %s: every series needs one", l.name)
		}
	}
	pool := opts.Pool
	if pool == nil {
		pool = defaultPool
	}
	log := zerolog.Nop()
	if opts.Logger != nil {
		log = *opts.Logger
	}
	d := &Device{
		station: station,
		cfg:     cfg,
		ep:      ep,
		slave:   byte(cfg.SlaveID),
		m:       m,
		pool:    pool,
		log:     log.With().Str("station", station.ID).Int("slave", cfg.SlaveID).Str("address", ep.String()).Logger(),
		name:    name,
		labels:  make(map[*Register]model.Labels, len(m.Registers)),
	}
	regs := make([]*Register, len(m.Registers))
	for i := range m.Registers {
		r := &m.Registers[i]
		regs[i] = r
		ls := r.SeriesLabels().
			With(model.LabelStation, station.ID).
			With(model.LabelProvince, station.Province).
			With(model.LabelKind, station.Kind)
		if err := ls.Validate(); err != nil {
			return fail("%v", err)
		}
		d.labels[r] = ls
	}
	var status *Register
	if m.Status != nil {
		status = m.Status.Register()
	}
	d.reqs = buildRequests(regs, status, gap)
	if d.link, err = pool.acquire(ep); err != nil {
		return fail("%v", err)
	}
	return d, nil
}

// Station returns the station the device reads.
func (d *Device) Station() model.Station { return d.station }

// Config returns the device config with defaults filled in.
func (d *Device) Config() Config { return d.cfg }

// Map returns the device's register map.
func (d *Device) Map() *RegisterMap { return d.m }

// String names the device as its errors do.
func (d *Device) String() string { return d.name }

// Close releases the device's share of its link; the link closes with its
// last device. Poll after Close reopens nothing and fails.
func (d *Device) Close() error {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.link != nil {
		d.pool.release(d.link)
		d.link = nil
	}
	return nil
}

// reading is one value of a poll, before it becomes a sample.
type reading struct {
	reg   *Register
	words []uint16 // nil when not read
	value float64
	err   error
}

// Poll reads the whole map once and returns one sample per value read,
// stamped with at (the scheduled time) and with the quality of the status
// register. Values that could not be read or decoded are left out and
// reported in the error, which may come with samples: the good values are
// never dropped because of a bad one. If the status register cannot be read
// the samples carry status 02 (device error). The samples' Labels are shared
// between polls: copy before changing them in place (Labels.With copies).
func (d *Device) Poll(ctx context.Context, at time.Time) ([]model.Sample, error) {
	readings, q, err := d.poll(ctx)
	t := at.UnixMilli()
	samples := make([]model.Sample, 0, len(readings))
	for _, r := range readings {
		if r.err != nil || r.words == nil {
			continue
		}
		samples = append(samples, model.Sample{Labels: d.labels[r.reg], T: t, V: r.value, Q: q})
	}
	return samples, err
}

// poll reads every request and decodes every value.
func (d *Device) poll(ctx context.Context) ([]reading, model.Quality, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.link == nil {
		return nil, 0, fmt.Errorf("modbus %s: device is closed", d.name)
	}
	var errs []error
	readings := make([]reading, 0, len(d.m.Registers))
	var statusWords []uint16
	statusRead := false

	take := func(q *request, words []uint16, err error) {
		for _, f := range q.fields {
			var w []uint16
			if err == nil {
				w = words[f.offset : f.offset+f.reg.Count()]
			}
			if f.status {
				statusWords, statusRead = w, err == nil
				continue
			}
			readings = append(readings, reading{reg: f.reg, words: w, err: err})
		}
	}
	// once the link fails, the rest of the poll is skipped rather than
	// paying a timeout per read; the next poll reconnects.
	linkDown := false
	do := func(q *request) {
		if linkDown || ctx.Err() != nil {
			take(q, nil, errSkipped)
			return
		}
		words, err := d.read(ctx, q)
		if err != nil {
			errs = append(errs, err)
			var ee *ExceptionError
			linkDown = !errors.As(err, &ee)
		}
		take(q, words, err)
	}
	var next []request
	split := false
	for _, q := range d.reqs {
		if len(q.fields) > 1 && !linkDown && ctx.Err() == nil {
			words, err := d.read(ctx, &q)
			var ee *ExceptionError
			if errors.As(err, &ee) && ee.Code == ExceptionIllegalDataAddress {
				split = true
				d.log.Warn().Err(err).Int("values", len(q.fields)).Msg("merged read refused, reading its values one by one from now on")
				for _, p := range q.split() {
					next = append(next, p)
					do(&p)
				}
				continue
			}
			next = append(next, q)
			if err != nil {
				errs = append(errs, err)
				linkDown = ee == nil
			}
			take(&q, words, err)
			continue
		}
		next = append(next, q)
		do(&q)
	}
	if split {
		d.reqs = next
	}
	for i := range readings {
		r := &readings[i]
		if r.err != nil {
			continue
		}
		r.value, r.err = r.reg.Decode(r.words)
		if r.err != nil {
			errs = append(errs, fmt.Errorf("modbus %s: decode %w", d.name, r.err))
		}
	}
	q := model.QualityGood
	if d.m.Status != nil {
		q = model.QualityDeviceError
		if statusRead {
			raw, err := d.m.Status.Register().decodeRaw(statusWords)
			if err != nil {
				errs = append(errs, fmt.Errorf("modbus %s: decode status register: %w", d.name, err))
			} else {
				q = d.m.Status.Quality(raw)
			}
		}
	}
	if err := ctx.Err(); err != nil {
		errs = append(errs, fmt.Errorf("modbus %s: poll: %w", d.name, err))
	}
	return readings, q, errors.Join(errs...)
}

// errSkipped marks values not read because the link failed earlier in the poll.
var errSkipped = errors.New("not read: link failed earlier in this poll")

// read performs q, repeating it while the device says it is busy.
func (d *Device) read(ctx context.Context, q *request) ([]uint16, error) {
	for attempt := 0; ; attempt++ {
		words, again, err := d.readOnce(ctx, q)
		if again {
			// The peer closed the idle connection: one fresh try.
			words, _, err = d.readOnce(ctx, q)
		}
		if err == nil {
			return words, nil
		}
		var ee *ExceptionError
		if !errors.As(err, &ee) || !ee.Busy() || attempt >= d.cfg.BusyRetries {
			return words, err
		}
		d.log.Debug().Err(err).Int("attempt", attempt+1).Msg("device busy, retrying")
		t := time.NewTimer(d.cfg.BusyRetryWait)
		select {
		case <-ctx.Done():
			t.Stop()
			return nil, fmt.Errorf("modbus %s: busy retry: %w (after %v)", d.name, ctx.Err(), err)
		case <-t.C:
		}
	}
}

// readOnce sends q once under the link lock and converts the answer to one
// uint16 per register (or per bit). again reports that the connection was
// found closed by the peer and the request is worth repeating at once.
func (d *Device) readOnce(ctx context.Context, q *request) (words []uint16, again bool, err error) {
	if err := d.link.lock(ctx); err != nil {
		return nil, false, fmt.Errorf("modbus %s: %s: %w", d.name, q, err)
	}
	defer d.link.unlock()
	timeout := d.cfg.Timeout
	if dl, ok := ctx.Deadline(); ok {
		left := time.Until(dl)
		if left <= 0 {
			return nil, false, fmt.Errorf("modbus %s: %s: %w", d.name, q, context.DeadlineExceeded)
		}
		timeout = min(timeout, left)
	}
	wasConnected := d.link.connected
	if err := d.link.prepare(d.slave, timeout, time.Now()); err != nil {
		if !errors.Is(err, errBackoff) {
			d.log.Warn().Err(err).Msg("connect failed")
		}
		return nil, false, fmt.Errorf("modbus %s: %s: %w", d.name, q, err)
	}
	raw, err := d.link.read(q.table, q.start, q.count)
	if err != nil {
		if me, ok := asException(err); ok {
			d.link.succeeded()
			return nil, false, &ExceptionError{Station: d.station.ID, Slave: d.slave, Table: q.table, Start: q.start, Count: q.count, Code: me.ExceptionCode, err: err}
		}
		d.link.broken()
		if wasConnected && stale(err) {
			d.log.Info().Err(err).Msg("connection closed by peer, reconnecting")
			return nil, true, fmt.Errorf("modbus %s: %s: %w", d.name, q, err)
		}
		d.log.Warn().Err(err).Msg("request failed, connection closed")
		return nil, false, fmt.Errorf("modbus %s: %s: %w", d.name, q, err)
	}
	if q.table.IsBit() {
		if len(raw) < (int(q.count)+7)/8 {
			d.link.broken()
			return nil, false, fmt.Errorf("modbus %s: %s: answer has %d bytes, want %d", d.name, q, len(raw), (int(q.count)+7)/8)
		}
		words = make([]uint16, q.count)
		for i := range words {
			words[i] = uint16(raw[i/8]>>(uint(i)%8)) & 1
		}
	} else {
		if len(raw) != 2*int(q.count) {
			d.link.broken()
			return nil, false, fmt.Errorf("modbus %s: %s: answer has %d bytes, want %d", d.name, q, len(raw), 2*int(q.count))
		}
		words = make([]uint16, q.count)
		for i := range words {
			words[i] = binary.BigEndian.Uint16(raw[2*i:])
		}
	}
	d.link.succeeded()
	return words, false, nil
}
