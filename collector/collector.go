// Package collector reads every station through the drivers on its
// schedule (or as the drivers push), checks each reading into quality
// flags, keeps it on disk (collector/queue) until a sink has it, and sends
// it on to the api, VictoriaMetrics or an in-process tsdb.
//
// Data flow: driver → ingest (labels, derived values, validation) →
// queue.Write (the MQTT ack and the datafile handler's nil happen only after
// this) → sender → sink. Delivery is at-least-once; receivers de-duplicate
// by series and timestamp.
package collector

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/VictoriaMetrics/metrics"
	"github.com/rs/zerolog"

	"github.com/quantrac/quantrac/collector/queue"
	"github.com/quantrac/quantrac/model"
)

// Runner is a push source (MQTT subscriber, spool watcher) that runs until
// its context ends.
type Runner interface {
	Run(ctx context.Context) error
}

// PushHandler receives batches from a push driver; ack is called once the
// batch is in the disk queue (never when it could not be stored).
type PushHandler func(ctx context.Context, batch []model.Sample, ack func())

// FileHandler receives the samples of one datalogger file; it returns nil
// only once they are in the disk queue.
type FileHandler func(ctx context.Context, batch []model.Sample) error

// Drivers builds driver instances; cmd/collector wires the real drivers,
// tests may substitute their own. A nil field disables that driver.
type Drivers struct {
	// Modbus builds a poller for a station; mapPath is already resolved.
	Modbus func(st *StationConfig, mapPath string, log zerolog.Logger) (Poller, error)
	// MQTT builds the subscriber; stations are every configured station,
	// of every shard (the driver takes province and kind from them, so that
	// a message of another shard's station decodes and the collector counts
	// it as that shard's instead of the driver rejecting it).
	MQTT func(cfg *MQTTConfig, stations []model.Station, h PushHandler, log zerolog.Logger) (Runner, error)
	// Datafile builds the spool watcher; spool is already resolved.
	Datafile func(cfg *DatafileConfig, spool string, stations []model.Station, h FileHandler, log zerolog.Logger) (Runner, error)
}

// Options are the collector's dependencies.
type Options struct {
	Logger  zerolog.Logger
	Metrics *metrics.Set // nil: a private set
	Drivers Drivers
	// HTTPClient is used by the api and victoriametrics sinks.
	HTTPClient *http.Client
	// OpenStorage opens the in-process storage of sink type tsdb.
	OpenStorage func(dir string) (model.Writer, func() error, error)
	// OnDelivered is called for every queue block a sink stored, with the
	// time it was read from the station (benchmarks measure delay with it).
	OnDelivered func(acquired time.Time, samples int)
	// Now returns the current time; tests may replace it.
	Now func() time.Time
}

// Collector runs stations, the queue and the sender.
type Collector struct {
	opts    Options
	log     zerolog.Logger
	set     *metrics.Set
	q       *queue.Queue
	tracker *tracker
	valid   *validator
	encBuf  sync.Pool

	mu      sync.Mutex
	cfg     *Config
	gen     *generation
	runCtx  context.Context
	running bool

	lastSend  int64 // unix ms of the last stored batch
	unknown   sync.Map
	foreign   *metrics.Counter
	queueErrs *metrics.Counter
}

// generation is what a reload replaces: driver instances and the sender.
type generation struct {
	cfg      *Config
	stations map[string]*StationConfig
	cancel   context.CancelFunc
	wg       sync.WaitGroup
}

// New opens the queue of cfg.DataDir; Run starts the work.
func New(cfg *Config, opts Options) (*Collector, error) {
	if opts.Metrics == nil {
		opts.Metrics = metrics.NewSet()
	}
	if opts.HTTPClient == nil {
		opts.HTTPClient = &http.Client{}
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	c := &Collector{
		opts:    opts,
		log:     opts.Logger,
		set:     opts.Metrics,
		cfg:     cfg,
		tracker: newTracker(opts.Metrics, opts.Logger),
		valid:   newValidator(cfg.Validation),
	}
	qo := cfg.QueueOptions()
	qo.Metrics = opts.Metrics
	q, err := queue.Open(cfg.DataDir, qo, opts.Logger)
	if err != nil {
		return nil, fmt.Errorf("collector: %w", err)
	}
	c.q = q
	c.foreign = c.set.GetOrCreateCounter(`quantrac_collector_other_shard_samples_total`)
	c.queueErrs = c.set.GetOrCreateCounter(`quantrac_collector_queue_write_errors_total`)
	return c, nil
}

func (c *Collector) now() time.Time { return c.opts.Now() }

// Queue returns the disk queue (tests and operations read its stats).
func (c *Collector) Queue() *queue.Queue { return c.q }

// Config returns the config in effect.
func (c *Collector) Config() *Config {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.cfg
}

// Run starts the stations and the sender and blocks until ctx ends; the
// queue stays open until Close.
func (c *Collector) Run(ctx context.Context) error {
	c.mu.Lock()
	if c.running {
		c.mu.Unlock()
		return errors.New("collector: already running")
	}
	c.running = true
	c.runCtx = ctx
	err := c.startLocked(c.cfg)
	c.mu.Unlock()
	if err != nil {
		return err
	}
	<-ctx.Done()
	c.mu.Lock()
	c.stopLocked()
	c.running = false
	c.mu.Unlock()
	return nil
}

// Reload swaps in a new config: stations, drivers, validation and sink
// change; the queue and what it holds stay. A data_dir or queue change
// needs a restart and is refused.
func (c *Collector) Reload(cfg *Config) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if cfg.DataDir != c.cfg.DataDir || cfg.Queue != c.cfg.Queue {
		return fmt.Errorf("collector reload: data_dir and queue settings cannot change without a restart")
	}
	c.valid.configure(cfg.Validation)
	if !c.running {
		c.cfg = cfg
		return nil
	}
	c.stopLocked()
	old := c.cfg
	if err := c.startLocked(cfg); err != nil {
		c.log.Error().Err(err).Msg("reload failed; restoring the previous config")
		if err2 := c.startLocked(old); err2 != nil {
			return fmt.Errorf("collector reload: %w (and restoring the old config: %v)", err, err2)
		}
		return fmt.Errorf("collector reload: %w", err)
	}
	c.cfg = cfg
	c.log.Info().Int("stations", len(cfg.Stations)).Msg("config reloaded")
	return nil
}

func (c *Collector) stopLocked() {
	if c.gen == nil {
		return
	}
	c.gen.cancel()
	c.gen.wg.Wait()
	c.gen = nil
}

// startLocked builds sink, sender and drivers for cfg.
func (c *Collector) startLocked(cfg *Config) error {
	sink, err := c.newSink(cfg.Sink)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithCancel(c.runCtx)
	g := &generation{cfg: cfg, stations: map[string]*StationConfig{}, cancel: cancel}
	var mine, table []model.Station
	for i := range cfg.Stations {
		st := &cfg.Stations[i]
		table = append(table, st.Station())
		if !cfg.Shard.Owns(st.ID) {
			continue
		}
		g.stations[st.ID] = st
		mine = append(mine, st.Station())
		c.tracker.get(st.ID, st.Driver)
	}
	c.tracker.retain(g.stations)
	snd := newSender(c, cfg.Sink, sink)
	g.wg.Add(2)
	go func() {
		defer g.wg.Done()
		snd.run(ctx)
		if err := sink.Close(); err != nil {
			c.log.Error().Err(err).Msg("closing sink")
		}
	}()
	go func() {
		defer g.wg.Done()
		c.announce(ctx, sink, mine)
	}()

	d := c.opts.Drivers
	for _, st := range g.stations {
		switch st.Driver {
		case DriverModbus:
			if d.Modbus == nil {
				c.tracker.failed(c.tracker.get(st.ID, st.Driver), errors.New("modbus driver not available in this build"), c.now())
				continue
			}
			p, err := d.Modbus(st, cfg.Resolve(st.Modbus.Map), c.log.With().Str("station", st.ID).Logger())
			if err != nil {
				c.tracker.failed(c.tracker.get(st.ID, st.Driver), fmt.Errorf("start modbus: %w", err), c.now())
				continue
			}
			g.wg.Add(1)
			go func() {
				defer g.wg.Done()
				c.pollLoop(ctx, st, p)
			}()
		}
	}
	if cfg.MQTT != nil {
		c.startRunner(ctx, g, "mqtt", func() (Runner, error) {
			if d.MQTT == nil {
				return nil, errors.New("mqtt driver not available in this build")
			}
			return d.MQTT(cfg.MQTT, table, c.pushHandler(g), c.log.With().Str("driver", "mqtt").Logger())
		})
	}
	if cfg.Datafile != nil {
		c.startRunner(ctx, g, "datafile", func() (Runner, error) {
			if d.Datafile == nil {
				return nil, errors.New("datafile driver not available in this build")
			}
			return d.Datafile(cfg.Datafile, cfg.Resolve(cfg.Datafile.Spool), mine, c.fileHandler(g), c.log.With().Str("driver", "datafile").Logger())
		})
	}
	c.gen = g
	c.log.Info().Int("stations", len(g.stations)).Int("configured", len(cfg.Stations)).
		Int("shard_index", cfg.Shard.Index).Int("shard_count", cfg.Shard.Count).Str("sink", sink.Name()).Msg("collector started")
	return nil
}

// startRunner runs a push driver, restarting it with backoff if it fails.
func (c *Collector) startRunner(ctx context.Context, g *generation, name string, build func() (Runner, error)) {
	g.wg.Add(1)
	go func() {
		defer g.wg.Done()
		backoff := time.Second
		for ctx.Err() == nil {
			r, err := build()
			if err == nil {
				err = r.Run(ctx)
			}
			if ctx.Err() != nil {
				return
			}
			c.log.Error().Err(err).Str("driver", name).Dur("restart_in", backoff).Msg("driver stopped")
			select {
			case <-ctx.Done():
				return
			case <-time.After(backoff):
			}
			backoff = min(backoff*2, time.Minute)
		}
	}()
}

// announce sends station metadata to the sink until it succeeds.
func (c *Collector) announce(ctx context.Context, sink Sink, st []model.Station) {
	if len(st) == 0 {
		return
	}
	backoff := time.Second
	for {
		err := sink.Stations(ctx, st)
		if err == nil {
			return
		}
		var perm *PermanentError
		if errors.As(err, &perm) {
			c.log.Error().Err(err).Msg("sink refused the station list")
			return
		}
		c.log.Warn().Err(err).Dur("retry_in", backoff).Msg("cannot announce stations; will retry")
		select {
		case <-ctx.Done():
			return
		case <-time.After(backoff):
		}
		backoff = min(backoff*2, time.Minute)
	}
}

func (c *Collector) newSink(sc SinkConfig) (Sink, error) {
	switch sc.Type {
	case SinkAPI:
		return NewAPISink(sc, c.opts.HTTPClient), nil
	case SinkVictoriaMetrics:
		return NewVMSink(sc, c.opts.HTTPClient), nil
	case SinkTSDB:
		if c.opts.OpenStorage == nil {
			return nil, errors.New("sink tsdb is not available in this build")
		}
		w, closeFn, err := c.opts.OpenStorage(sc.Dir)
		if err != nil {
			return nil, fmt.Errorf("open tsdb %s: %w", sc.Dir, err)
		}
		return NewWriterSink(w, closeFn), nil
	}
	return nil, fmt.Errorf("unknown sink type %q", sc.Type)
}

// prepare sets station labels, derives and validates samples of one
// station in place.
func (c *Collector) prepare(st *StationConfig, samples []model.Sample, now time.Time) []model.Sample {
	for i := range samples {
		ls := samples[i].Labels
		if ls.Get(model.LabelStation) != st.ID {
			ls = ls.With(model.LabelStation, st.ID)
		}
		if ls.Get(model.LabelProvince) != st.Province {
			ls = ls.With(model.LabelProvince, st.Province)
		}
		if ls.Get(model.LabelKind) != st.Kind {
			ls = ls.With(model.LabelKind, st.Kind)
		}
		for k, v := range st.Labels {
			if ls.Get(k) != v {
				ls = ls.With(k, v)
			}
		}
		samples[i].Labels = ls
	}
	samples = derive(samples, st.Derive)
	c.valid.check(samples, st.Limits, now)
	return samples
}

// write encodes a batch into one queue block.
func (c *Collector) write(samples []model.Sample, acquired time.Time) error {
	bp, _ := c.encBuf.Get().(*[]byte)
	if bp == nil {
		bp = new([]byte)
	}
	*bp = appendBatch((*bp)[:0], acquired.UnixMilli(), samples)
	err := c.q.Write(*bp)
	c.encBuf.Put(bp)
	if err != nil {
		c.queueErrs.Inc()
		return fmt.Errorf("queue write: %w", err)
	}
	return nil
}

// ingestStation prepares and queues the samples of one polled station.
func (c *Collector) ingestStation(ctx context.Context, st *StationConfig, state *stationState, samples []model.Sample, acquired time.Time) error {
	now := c.now()
	samples = c.prepare(st, samples, now)
	if err := c.write(samples, acquired); err != nil {
		return err
	}
	c.tracker.stored(state, samples, now)
	return nil
}

// ingestPush prepares a batch that may hold several stations and queues
// it as one block. Samples of stations in another shard are left out;
// samples of stations missing from the config are kept with their own
// labels (logged once per station).
func (c *Collector) ingestPush(g *generation, batch []model.Sample, acquired time.Time) error {
	now := c.now()
	byStation := map[string][]model.Sample{}
	var order []string
	for _, s := range batch {
		id := s.Labels.Get(model.LabelStation)
		if _, ok := byStation[id]; !ok {
			order = append(order, id)
		}
		byStation[id] = append(byStation[id], s)
	}
	out := make([]model.Sample, 0, len(batch))
	type done struct {
		state   *stationState
		samples []model.Sample
	}
	var stored []done
	for _, id := range order {
		ss := byStation[id]
		if !g.cfg.Shard.Owns(id) {
			c.foreign.Add(len(ss))
			continue
		}
		st := g.stations[id]
		if st == nil {
			if _, seen := c.unknown.LoadOrStore(id, true); !seen {
				c.log.Warn().Str("station", id).Msg("samples from a station not in the config; kept with the labels they came with")
			}
			c.valid.check(ss, nil, now)
		} else {
			ss = c.prepare(st, ss, now)
		}
		out = append(out, ss...)
		stored = append(stored, done{c.tracker.get(id, ""), ss})
	}
	if len(out) == 0 {
		return nil
	}
	if err := c.write(out, acquired); err != nil {
		for _, d := range stored {
			c.tracker.failed(d.state, err, now)
		}
		return err
	}
	for _, d := range stored {
		c.tracker.stored(d.state, d.samples, now)
	}
	return nil
}

func (c *Collector) pushHandler(g *generation) PushHandler {
	return func(ctx context.Context, batch []model.Sample, ack func()) {
		if err := c.ingestPush(g, batch, c.now()); err != nil {
			c.log.Error().Err(err).Int("samples", len(batch)).Msg("cannot queue pushed batch; not acknowledged")
			return
		}
		ack()
	}
}

func (c *Collector) fileHandler(g *generation) FileHandler {
	return func(ctx context.Context, batch []model.Sample) error {
		return c.ingestPush(g, batch, c.now())
	}
}

// Status returns every station's status.
func (c *Collector) Status() []StationStatus { return c.tracker.snapshot() }

// LastSend returns when a sink last stored a batch (zero: never).
func (c *Collector) LastSend() time.Time {
	ms := atomic.LoadInt64(&c.lastSend)
	if ms == 0 {
		return time.Time{}
	}
	return time.UnixMilli(ms)
}

func setInt64(p *int64, v int64) { atomic.StoreInt64(p, v) }

// Close stops everything and closes the queue; call after Run returned.
func (c *Collector) Close() error {
	c.mu.Lock()
	c.stopLocked()
	c.mu.Unlock()
	return c.q.Close()
}
