package alerting

import (
	"context"
	"errors"
	"fmt"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/rs/zerolog"
	bolt "go.etcd.io/bbolt"

	"github.com/quantrac/quantrac/model"
)

// Clock tells the time; tests inject a fake one.
type Clock interface {
	Now() time.Time
}

type realClock struct{}

func (realClock) Now() time.Time { return time.Now() }

// QueryFunc evaluates a PromQL expression at a moment and returns one
// sample per result series (labels without __name__ for computed ones).
// The api supplies it from its Prometheus engine; without it, promql rules
// load but are not evaluated (a warning is logged).
type QueryFunc func(ctx context.Context, expr string, at time.Time) ([]model.Sample, error)

// Options configure an Engine. Zero values take the defaults noted.
type Options struct {
	// Reader answers window and no-data queries. Optional: without it
	// window rules are not evaluated and no-data rules only know series
	// seen since start.
	Reader model.Reader
	// Query evaluates promql rules (optional).
	Query QueryFunc
	// DataDir holds alerting.db (alerts, silences, outbox). Required.
	DataDir string
	// RulesDir holds the rule files (*.yaml). Empty: no rules.
	RulesDir string
	// RosterFile is the on-call roster (configs/oncall.yaml). Empty: no SMS recipients.
	RosterFile string
	// Receivers deliver notifications; each gets its own outbox worker.
	Receivers []Receiver
	// Clock is the time source (default: the system clock).
	Clock Clock
	// Logger receives one structured event per state change and delivery.
	Logger zerolog.Logger
	// Interval between periodic evaluations (no data, windows,
	// escalation). Default 1s.
	Interval time.Duration
	// GroupWait is how long events are collected before messages are
	// built, so that many stations crossing together give one SMS per
	// officer. Default 200ms.
	GroupWait time.Duration
	// MaxSMSChars caps a grouped SMS text (default 320 characters: five
	// UCS-2 parts); the rest is summarised as "và N cảnh báo khác".
	MaxSMSChars int
	// RetryBackoff is the first retry delay of a failed delivery
	// (default 2s); it doubles up to RetryMax (default 5m).
	RetryBackoff time.Duration
	RetryMax     time.Duration
	// MaxAttempts gives up on a message after that many retryable
	// failures (default 0: never; the message waits for the gateway).
	MaxAttempts int
	// SendTimeout bounds one delivery attempt (default 30s).
	SendTimeout time.Duration
	// MaxQueuedSamples bounds samples waiting for streaming evaluation
	// (default 2,000,000); past it the oldest batches are dropped and counted.
	MaxQueuedSamples int
	// Retention keeps resolved alerts and delivered messages this long
	// (default 90 days); older ones are pruned hourly.
	Retention time.Duration
	// StationName maps a station id to its display name (optional; the
	// api can also call SetStations).
	StationName func(id string) string
	// LateAfter is the age (sample time against the engine's clock) past
	// which a sample is late, as in a collector's backlog after an outage.
	// Changes caused by late samples are kept in the alert's state and
	// history but not notified one by one: an alert that fires and resolves
	// within late data sends nothing; one still firing when its series
	// catches up sends one notification saying since when. Default 10m;
	// negative: no sample is late. A rule's late_after overrides it.
	LateAfter time.Duration
	// LateSettle is how long after its last late sample an alert whose
	// series sent no fresh sample counts as caught up (the backlog ended
	// and the station went quiet again). Default 1m.
	LateSettle time.Duration
}

// DefaultLateAfter is the default Options.LateAfter.
const DefaultLateAfter = 10 * time.Minute

func (o *Options) setDefaults() {
	if o.Clock == nil {
		o.Clock = realClock{}
	}
	if o.Interval <= 0 {
		o.Interval = time.Second
	}
	if o.GroupWait <= 0 {
		o.GroupWait = 200 * time.Millisecond
	}
	if o.MaxSMSChars <= 0 {
		o.MaxSMSChars = 320
	}
	if o.RetryBackoff <= 0 {
		o.RetryBackoff = 2 * time.Second
	}
	if o.RetryMax <= 0 {
		o.RetryMax = 5 * time.Minute
	}
	if o.SendTimeout <= 0 {
		o.SendTimeout = 30 * time.Second
	}
	if o.Retention <= 0 {
		o.Retention = 90 * 24 * time.Hour
	}
	if o.MaxQueuedSamples <= 0 {
		o.MaxQueuedSamples = 2_000_000
	}
	if o.LateAfter == 0 {
		o.LateAfter = DefaultLateAfter
	}
	if o.LateSettle <= 0 {
		o.LateSettle = time.Minute
	}
}

// Engine evaluates rules and owns the alert state. Create it with New,
// start it with Run, feed it with Observe, stop it by cancelling Run's
// context, then Close.
type Engine struct {
	opts  Options
	log   zerolog.Logger
	clock Clock
	st    *store

	mu           sync.Mutex // guards everything below up to the queue
	rules        []*Rule
	ruleByName   map[string]*Rule
	byMetric     map[string][]*Rule            // metric → rules without a fixed station
	byStation    map[string]map[string][]*Rule // metric → station → rules
	anyMetric    []*Rule
	roster       *Roster
	active       map[string]*Alert // key → alert not resolved
	activeByRule map[string]int    // rule name → number of active alerts
	byID         map[uint64]*Alert
	nextID       uint64
	silences     map[string]*Silence
	lastSeen     map[string]map[string]*seenGroup // rule → group key → last sample
	rateHist     map[string]*rateState            // rule+series → recent points
	lastRun      map[string]time.Time             // periodic rule → last evaluation
	lastPrune    time.Time
	warned       map[string]bool // people already warned about (no phone, no receiver)
	stations     map[string]string
	late         map[string]*Alert // key → active alert with Late set
	evalNow      time.Time         // engine clock of the evaluation step running

	qmu     sync.Mutex
	queue   []queuedBatch
	queued  int
	qsig    chan struct{}
	dropped atomic.Int64
	backlog atomic.Int64 // late samples set aside behind fresh ones
	done    atomic.Int64 // samples evaluated

	groupSig  chan struct{}
	outboxes  map[string]*outbox
	smsRcv    string
	running   atomic.Bool
	evaluated atomic.Int64 // rule evaluations done (bench)
}

type queuedBatch struct {
	samples []model.Sample
	at      time.Time
}

type seenGroup struct {
	t      int64
	labels model.Labels
}

// New opens the state store, loads rules and roster (any error in them
// is returned, naming file, line and field) and restores active alerts.
func New(opts Options) (*Engine, error) {
	opts.setDefaults()
	if opts.DataDir == "" {
		return nil, errors.New("alerting: data dir required")
	}
	if err := os.MkdirAll(opts.DataDir, 0o755); err != nil {
		return nil, fmt.Errorf("alerting: create data dir %s: %w", opts.DataDir, err)
	}
	e := &Engine{
		opts:         opts,
		log:          opts.Logger.With().Str("component", "alerting").Logger(),
		clock:        opts.Clock,
		active:       map[string]*Alert{},
		activeByRule: map[string]int{},
		warned:       map[string]bool{},
		byID:         map[uint64]*Alert{},
		silences:     map[string]*Silence{},
		lastSeen:     map[string]map[string]*seenGroup{},
		rateHist:     map[string]*rateState{},
		lastRun:      map[string]time.Time{},
		stations:     map[string]string{},
		late:         map[string]*Alert{},
		qsig:         make(chan struct{}, 1),
		groupSig:     make(chan struct{}, 1),
		outboxes:     map[string]*outbox{},
	}
	rules, roster, err := e.loadConfig()
	if err != nil {
		return nil, err
	}
	st, err := openStore(opts.DataDir)
	if err != nil {
		return nil, err
	}
	e.st = st
	alerts, err := st.loadActive()
	if err != nil {
		st.close()
		return nil, fmt.Errorf("alerting: load alerts: %w", err)
	}
	for _, a := range alerts {
		e.active[a.Key] = a
		e.byID[a.ID] = a
		e.activeByRule[a.Rule]++
		if a.Late {
			a.lateSeen = opts.Clock.Now() // catch up LateSettle after start at the latest
			e.late[a.Key] = a             // counted per rule by setRules
		}
	}
	sils, err := st.loadSilences()
	if err != nil {
		st.close()
		return nil, fmt.Errorf("alerting: load silences: %w", err)
	}
	for _, s := range sils {
		e.silences[s.ID] = s
	}
	if err := e.initIDs(); err != nil {
		st.close()
		return nil, err
	}
	e.setRules(rules)
	e.roster = roster
	for _, r := range opts.Receivers {
		if r.Name == "" || r.Notifier == nil {
			st.close()
			return nil, errors.New("alerting: receiver needs a name and a notifier")
		}
		if _, dup := e.outboxes[r.Name]; dup {
			st.close()
			return nil, fmt.Errorf("alerting: receiver %q configured twice", r.Name)
		}
		e.outboxes[r.Name] = &outbox{st: st, rcv: r, log: e.log, wake: make(chan struct{}, 1),
			backoff: opts.RetryBackoff, maxWait: opts.RetryMax, maxTry: opts.MaxAttempts, timeout: opts.SendTimeout}
		if r.SMS && e.smsRcv == "" {
			e.smsRcv = r.Name
		}
		if s, ok := r.Notifier.(InboundSetter); ok {
			s.SetInbound(inbound{e: e, receiver: r.Name})
		}
	}
	e.log.Info().Int("rules", len(rules)).Int("active_alerts", len(alerts)).Int("receivers", len(opts.Receivers)).Msg("alerting engine ready")
	return e, nil
}

func (e *Engine) loadConfig() ([]*Rule, *Roster, error) {
	var rules []*Rule
	if e.opts.RulesDir != "" {
		rs, err := LoadRules(e.opts.RulesDir)
		if err != nil {
			return nil, nil, err
		}
		rules = rs
	}
	roster := emptyRoster()
	if e.opts.RosterFile != "" {
		r, err := LoadRoster(e.opts.RosterFile)
		if err != nil {
			return nil, nil, err
		}
		roster = r
	}
	for _, r := range rules {
		if r.Kind == KindPromQL && e.opts.Query == nil && !r.Disabled {
			e.log.Warn().Str("rule", r.Name).Msg("promql rule loaded but no query engine configured: not evaluated")
		}
		if r.Kind == KindWindow && e.opts.Reader == nil && !r.Disabled {
			e.log.Warn().Str("rule", r.Name).Msg("window rule loaded but no reader configured: not evaluated")
		}
	}
	return rules, roster, nil
}

func (e *Engine) initIDs() error {
	var seq uint64
	err := e.st.db.View(func(tx *bolt.Tx) error {
		seq = tx.Bucket([]byte(bucketAlerts)).Sequence()
		return nil
	})
	if err != nil {
		return fmt.Errorf("alerting: read id sequence: %w", err)
	}
	e.nextID = seq
	for id := range e.byID {
		if id > e.nextID {
			e.nextID = id
		}
	}
	return nil
}

// setRules installs a rule set and builds the metric index. Caller holds mu
// (or is New).
func (e *Engine) setRules(rules []*Rule) {
	e.rules = rules
	e.ruleByName = make(map[string]*Rule, len(rules))
	for _, r := range rules {
		e.ruleByName[r.Name] = r
	}
	for _, a := range e.late {
		if r := e.ruleByName[a.Rule]; r != nil {
			r.lateN++
		}
	}
	e.byMetric = map[string][]*Rule{}
	e.byStation = map[string]map[string][]*Rule{}
	e.anyMetric = nil
	for _, r := range rules {
		if r.Disabled || r.Kind == KindPromQL || r.Kind == KindWindow {
			continue // periodic only
		}
		station := ""
		for _, m := range r.matchers {
			if m.Name == model.LabelStation && m.Type == model.MatchEqual {
				station = m.Value
			}
		}
		switch {
		case r.metric != "" && station != "":
			// Thousands of per-station rules: a sample only meets its own.
			if e.byStation[r.metric] == nil {
				e.byStation[r.metric] = map[string][]*Rule{}
			}
			e.byStation[r.metric][station] = append(e.byStation[r.metric][station], r)
		case r.metric != "":
			e.byMetric[r.metric] = append(e.byMetric[r.metric], r)
		default:
			e.anyMetric = append(e.anyMetric, r)
		}
	}
}

// Reload re-reads rules and roster. On any error the old configuration
// stays and the error (naming file, line, field) is returned. Alerts of
// rules that still exist keep their state; alerts of removed rules are
// resolved without SMS.
func (e *Engine) Reload() error {
	rules, roster, err := e.loadConfig()
	if err != nil {
		e.log.Error().Err(err).Msg("rules reload failed, keeping the previous rules")
		return err
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	names := map[string]*Rule{}
	for _, r := range rules {
		names[r.Name] = r
	}
	p := &pending{}
	now := e.clock.Now()
	for _, a := range e.active {
		r := names[a.Rule]
		if r == nil || r.Disabled {
			a.ResolveNote = "rule removed or disabled on reload"
			e.resolve(p, a, nil, "system", now, time.Time{}, false)
			continue
		}
		if r.Kind == KindLevels && a.Level >= len(r.Levels) {
			a.Level = len(r.Levels) - 1
		}
	}
	for name := range e.lastSeen {
		if names[name] == nil {
			delete(e.lastSeen, name)
		}
	}
	e.setRules(rules)
	e.roster = roster
	e.commit(p)
	e.log.Info().Int("rules", len(rules)).Msg("rules reloaded")
	return nil
}

// Rules returns the loaded rules.
func (e *Engine) Rules() []*Rule {
	e.mu.Lock()
	defer e.mu.Unlock()
	return append([]*Rule(nil), e.rules...)
}

// Roster returns the current roster.
func (e *Engine) Roster() *Roster {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.roster
}

// SetStations gives the engine station display names for messages.
func (e *Engine) SetStations(st []model.Station) {
	e.mu.Lock()
	defer e.mu.Unlock()
	for _, s := range st {
		if s.Name != "" {
			e.stations[s.ID] = s.Name
		}
	}
}

func (e *Engine) stationName(id string) string {
	if n, ok := e.stations[id]; ok {
		return n
	}
	if e.opts.StationName != nil {
		if n := e.opts.StationName(id); n != "" {
			return n
		}
	}
	return id
}

// Observe queues samples for streaming evaluation and returns at once; it
// never blocks ingest. The slice is copied.
func (e *Engine) Observe(ctx context.Context, samples []model.Sample) {
	if len(samples) == 0 {
		return
	}
	b := queuedBatch{samples: append([]model.Sample(nil), samples...), at: time.Now()}
	e.qmu.Lock()
	e.queue = append(e.queue, b)
	e.queued += len(b.samples)
	for e.queued > e.opts.MaxQueuedSamples && len(e.queue) > 1 {
		n := len(e.queue[0].samples)
		e.queue[0] = queuedBatch{}
		e.queue = e.queue[1:]
		e.queued -= n
		e.dropped.Add(int64(n))
	}
	e.qmu.Unlock()
	select {
	case e.qsig <- struct{}{}:
	default:
	}
}

// Dropped is how many samples were dropped because evaluation lagged.
func (e *Engine) Dropped() int64 { return e.dropped.Load() }

// Evaluations is how many (sample, rule) evaluations were done.
func (e *Engine) Evaluations() int64 { return e.evaluated.Load() }

// Run starts streaming evaluation, grouping, the outbox workers and
// periodic evaluation, and returns when ctx ends and they have stopped.
func (e *Engine) Run(ctx context.Context) error {
	if !e.running.CompareAndSwap(false, true) {
		return errors.New("alerting: Run called twice")
	}
	defer e.running.Store(false)
	var wg sync.WaitGroup
	start := func(f func()) {
		wg.Add(1)
		go func() { defer wg.Done(); f() }()
	}
	start(func() { e.evalLoop(ctx) })
	start(func() { e.groupLoop(ctx) })
	for _, ob := range e.outboxes {
		ob := ob
		start(func() { ob.run(ctx) })
	}
	e.seedLastSeen(ctx)
	e.signalGroup() // events left by a previous run
	t := time.NewTicker(e.opts.Interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			wg.Wait()
			return nil
		case <-t.C:
			e.Tick(ctx)
		}
	}
}

// Close closes the state store. Call after Run has returned.
func (e *Engine) Close() error {
	return e.st.close()
}

// evalLoop evaluates queued samples. Samples of series with late data (a
// collector's backlog) are set aside and evaluated in chunks behind the
// fresh samples of other series, so a backlog never delays the
// notifications of stations reporting live; the samples of one series keep
// their order.
func (e *Engine) evalLoop(ctx context.Context) {
	var bl backlog
	for ctx.Err() == nil {
		e.qmu.Lock()
		q := e.queue
		e.queue = nil
		e.queued = 0
		e.qmu.Unlock()
		if len(q) > 0 {
			fresh := bl.split(q, e.clock.Now(), e.opts.LateAfter)
			if n := bl.trim(e.opts.MaxQueuedSamples); n > 0 {
				e.dropped.Add(int64(n))
			}
			e.backlog.Store(int64(bl.n))
			if len(fresh) > 0 {
				e.evalBatches(fresh)
			}
		}
		if bl.n > 0 {
			e.evalBatches(bl.next(backlogChunk))
			e.backlog.Store(int64(bl.n))
			continue
		}
		if len(q) > 0 {
			continue
		}
		select {
		case <-ctx.Done():
			return
		case <-e.qsig:
		}
	}
}

func (e *Engine) signalGroup() {
	select {
	case e.groupSig <- struct{}{}:
	default:
	}
}
