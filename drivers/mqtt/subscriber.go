package mqtt

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"
	"github.com/eclipse/paho.mqtt.golang/packets"
	"github.com/rs/zerolog"

	"github.com/quantrac/quantrac/model"
)

// Subscriber receives station messages from one broker connection, decodes
// them and hands batches of samples to a Handler with manual
// acknowledgement. Build it with New and run it with Run.
type Subscriber struct {
	opts     Options
	handler  Handler
	log      zerolog.Logger
	subs     []*subscription
	stations map[string]model.Station

	mu    sync.Mutex
	queue []inMsg
	wake  chan struct{}

	inflight  atomic.Int64
	running   atomic.Bool
	connected atomic.Bool

	received, samples, batches, acked, malformed, dropped, throttled, connects, subFailures atomic.Uint64

	logLimit logLimiter
}

type subscription struct {
	cfg    Subscription
	tmpl   *Template
	filter string
	decode DecodeFunc
	labels model.Labels // static labels

	topics map[string]topicInfo // dispatcher-only cache, see topicLabels
}

type inMsg struct {
	msg      paho.Message
	sub      *subscription // nil: no subscription matched
	received int64
}

// Stats are the subscriber's counters since New.
type Stats struct {
	Received  uint64 // messages received
	Samples   uint64 // samples handed to the handler
	Batches   uint64 // handler calls
	Acked     uint64 // messages acknowledged (or released, for QoS 0)
	Malformed uint64 // messages with a decoding problem (good values in them are still kept)
	Dropped   uint64 // samples dropped: no station/province/kind, or invalid labels
	Throttled uint64 // times a message waited because MaxInFlight messages were unacknowledged
	Connects  uint64 // successful connections (first and re-)
	// SubscribeFailures counts subscriptions the broker refused (SUBACK
	// failure, usually its ACL) or that timed out.
	SubscribeFailures uint64
	InFlight          int64 // messages received and not yet acknowledged
	Connected         bool
}

// New checks the options and prepares a subscriber. It does not connect.
func New(opts Options, handler Handler) (*Subscriber, error) {
	opts.setDefaults()
	if err := opts.validate(); err != nil {
		return nil, err
	}
	if handler == nil {
		return nil, fmt.Errorf("mqtt: handler is nil")
	}
	s := &Subscriber{
		opts:     opts,
		handler:  handler,
		log:      opts.Logger.With().Str("component", "mqtt").Str("client_id", opts.ClientID).Logger(),
		stations: make(map[string]model.Station, len(opts.Stations)),
		wake:     make(chan struct{}, 1),
	}
	s.logLimit.max = 20
	s.logLimit.window = 10 * time.Second
	for _, st := range opts.Stations {
		s.stations[st.ID] = st
	}
	filters := map[string]string{}
	for i, c := range opts.Subscriptions {
		sub, err := newSubscription(c)
		if err != nil {
			return nil, fmt.Errorf("mqtt subscription %d (%s): %w", i, c.Topic, err)
		}
		if opts.ShareGroup != "" {
			sub.filter = "$share/" + opts.ShareGroup + "/" + sub.filter
		}
		if prev, dup := filters[sub.filter]; dup {
			return nil, fmt.Errorf("mqtt subscription %d (%s): same filter %s as %s", i, c.Topic, sub.filter, prev)
		}
		filters[sub.filter] = c.Topic
		s.subs = append(s.subs, sub)
	}
	return s, nil
}

func newSubscription(c Subscription) (*subscription, error) {
	tmpl, err := ParseTemplate(c.Topic)
	if err != nil {
		return nil, err
	}
	f, err := ParseFormat(string(c.Format))
	if err != nil {
		return nil, err
	}
	dec, err := DecoderFor(f, c.Mapping)
	if err != nil {
		return nil, err
	}
	for name, v := range c.Labels {
		if !model.ValidLabelName(name) || name == model.MetricName {
			return nil, fmt.Errorf("labels: invalid label name %q", name)
		}
		if v == "" {
			return nil, fmt.Errorf("labels: %s: empty value", name)
		}
	}
	for from, to := range c.Rename {
		if to != "" && !model.ValidMetricName(to) {
			return nil, fmt.Errorf("rename %q: invalid metric name %q", from, to)
		}
	}
	return &subscription{
		cfg:    c,
		tmpl:   tmpl,
		filter: tmpl.Filter(),
		decode: dec,
		labels: model.FromMap(c.Labels),
	}, nil
}

// Stats returns the current counters.
func (s *Subscriber) Stats() Stats {
	return Stats{
		Received:          s.received.Load(),
		Samples:           s.samples.Load(),
		Batches:           s.batches.Load(),
		Acked:             s.acked.Load(),
		Malformed:         s.malformed.Load(),
		Dropped:           s.dropped.Load(),
		Throttled:         s.throttled.Load(),
		Connects:          s.connects.Load(),
		SubscribeFailures: s.subFailures.Load(),
		InFlight:          s.inflight.Load(),
		Connected:         s.connected.Load(),
	}
}

// ErrRefused wraps a connection refused by the broker for a reason that
// retrying does not fix (bad credentials, not authorised, client id
// rejected, protocol version).
var ErrRefused = errors.New("connection refused by the broker")

// Run connects, subscribes and delivers batches to the handler until ctx
// ends; then it disconnects and returns nil. It returns an error wrapping
// ErrRefused when the broker refuses the first connection for good (bad
// username or password, not authorised); network errors are retried with
// backoff. After the first connection paho reconnects by itself and the
// subscriptions are renewed on every connect. Run must not be called twice
// at the same time.
func (s *Subscriber) Run(ctx context.Context) error {
	if !s.running.CompareAndSwap(false, true) {
		return fmt.Errorf("mqtt %s: subscriber already running", s.opts.ClientID)
	}
	defer s.running.Store(false)
	// Messages left from an earlier Run are not ours to ack any more: the
	// broker redelivers them.
	s.mu.Lock()
	s.queue = nil
	s.mu.Unlock()
	s.inflight.Store(0)
	ctx, cancel := context.WithCancel(ctx)
	r := &run{
		ctx:   ctx,
		slots: make(chan struct{}, s.opts.MaxInFlight),
		acks:  make(chan []paho.Message, 256),
	}
	var wg sync.WaitGroup
	wg.Add(2)
	go func() {
		defer wg.Done()
		s.dispatch(r)
	}()
	go func() {
		defer wg.Done()
		s.acker(r)
	}()
	client := s.newClient(r)
	err := s.connect(ctx, client)
	if err == nil {
		<-ctx.Done()
		client.Disconnect(250)
		s.connected.Store(false)
		s.log.Info().Msg("mqtt: stopped")
	}
	cancel()
	wg.Wait()
	if err != nil && (ctx.Err() == nil || errors.Is(err, ErrRefused)) {
		return err
	}
	return nil
}

// run is the state of one Run call.
type run struct {
	ctx   context.Context
	slots chan struct{}       // one per unacknowledged message
	acks  chan []paho.Message // acknowledgements for the acker
}

func (s *Subscriber) newClient(r *run) paho.Client {
	o := paho.NewClientOptions()
	for _, b := range s.opts.Brokers {
		o.AddBroker(b)
	}
	o.SetClientID(s.opts.ClientID)
	o.SetUsername(s.opts.Username)
	o.SetPassword(s.opts.Password)
	if s.opts.TLS != nil {
		o.SetTLSConfig(s.opts.TLS)
	}
	o.SetCustomOpenConnectionFn(openConn(s.opts.TLS))
	o.SetStore(nullStore{})
	o.SetProtocolVersion(4)
	o.SetCleanSession(s.opts.CleanSession)
	o.SetOrderMatters(true) // handlers only enqueue, so in-order delivery costs nothing
	o.SetAutoAckDisabled(true)
	o.SetResumeSubs(false) // we subscribe in the on-connect handler
	o.SetAutoReconnect(true)
	o.SetConnectRetry(false) // the first connection is retried by connect, to see refusals
	o.SetMaxReconnectInterval(s.opts.MaxReconnectDelay)
	o.SetConnectTimeout(s.opts.ConnectTimeout)
	o.SetKeepAlive(s.opts.KeepAlive)
	o.SetPingTimeout(s.opts.ConnectTimeout)
	o.SetWriteTimeout(s.opts.ConnectTimeout)
	o.SetOnConnectHandler(func(c paho.Client) { s.onConnect(r.ctx, c) })
	o.SetConnectionLostHandler(func(_ paho.Client, err error) {
		s.connected.Store(false)
		s.log.Warn().Err(err).Msg("mqtt: connection lost, reconnecting")
	})
	o.SetReconnectingHandler(func(_ paho.Client, _ *paho.ClientOptions) {
		s.log.Debug().Msg("mqtt: reconnecting")
	})
	o.SetConnectionNotificationHandler(func(_ paho.Client, n paho.ConnectionNotification) {
		f, ok := n.(paho.ConnectionNotificationFailed)
		if !ok || s.connects.Load() == 0 { // first-connection failures are logged by connect
			return
		}
		if refusedForGood(f.Reason) {
			s.log.Error().Err(f.Reason).Str("user", s.opts.Username).
				Msg("mqtt: reconnect refused by the broker; check username, password and ACL (retrying)")
			return
		}
		s.log.Warn().Err(f.Reason).Msg("mqtt: reconnect failed (retrying with backoff)")
	})
	o.SetDefaultPublishHandler(s.onMessage(r, nil))
	client := paho.NewClient(o)
	// Routes before connecting: a persistent session may deliver queued
	// messages as soon as the connection is up, before we subscribe.
	for _, sub := range s.subs {
		client.AddRoute(sub.filter, s.onMessage(r, sub))
	}
	return client
}

// connect makes the first connection, retrying network errors with
// backoff and giving up at once on a refusal.
func (s *Subscriber) connect(ctx context.Context, client paho.Client) error {
	delay := s.opts.MinReconnectDelay
	brokers := strings.Join(s.opts.Brokers, ",")
	for attempt := 1; ; attempt++ {
		tok := client.Connect()
		select {
		case <-tok.Done():
		case <-ctx.Done():
			tok.WaitTimeout(s.opts.ConnectTimeout + time.Second)
			client.Disconnect(0)
			return ctx.Err()
		}
		err := tok.Error()
		if err == nil {
			return nil
		}
		if refusedForGood(err) {
			user := s.opts.Username
			if user == "" {
				user = "(anonymous)"
			}
			return fmt.Errorf("mqtt %s as user %s, client id %s: %w: %w; check username, password and the broker's ACL",
				brokers, user, s.opts.ClientID, ErrRefused, err)
		}
		s.log.Warn().Err(err).Str("broker", brokers).Int("attempt", attempt).Dur("retry_in", delay).
			Msg("mqtt: cannot connect")
		select {
		case <-time.After(delay):
		case <-ctx.Done():
			return ctx.Err()
		}
		delay *= 2
		if delay > s.opts.MaxReconnectDelay {
			delay = s.opts.MaxReconnectDelay
		}
	}
}

func refusedForGood(err error) bool {
	return errors.Is(err, packets.ErrorRefusedBadUsernameOrPassword) ||
		errors.Is(err, packets.ErrorRefusedNotAuthorised) ||
		errors.Is(err, packets.ErrorRefusedIDRejected) ||
		errors.Is(err, packets.ErrorRefusedBadProtocolVersion)
}

// onConnect (re)subscribes; it runs on every connection.
func (s *Subscriber) onConnect(ctx context.Context, c paho.Client) {
	if ctx.Err() != nil {
		return
	}
	filters := make(map[string]byte, len(s.subs))
	for _, sub := range s.subs {
		filters[sub.filter] = *s.opts.QoS
	}
	tok := c.SubscribeMultiple(filters, nil) // nil: the routes added before connecting handle messages
	if !tok.WaitTimeout(s.opts.ConnectTimeout) {
		s.subFailures.Add(uint64(len(filters)))
		s.log.Error().Msg("mqtt: subscribe timed out; will retry on the next connection")
		return
	}
	if err := tok.Error(); err != nil {
		s.subFailures.Add(uint64(len(filters)))
		s.log.Error().Err(err).Msg("mqtt: subscribe failed; will retry on the next connection")
		return
	}
	if st, ok := tok.(*paho.SubscribeToken); ok {
		for filter, code := range st.Result() {
			if code >= 0x80 {
				s.subFailures.Add(1)
				s.log.Error().Str("filter", filter).Str("user", s.opts.Username).
					Msg("mqtt: broker refused the subscription (check its ACL)")
			}
		}
	}
	s.connects.Add(1)
	s.connected.Store(true)
	s.log.Info().Int("subscriptions", len(filters)).Msg("mqtt: connected and subscribed")
}

// onMessage returns the paho handler of a subscription. It does no work
// besides queueing the message for the dispatcher; it waits only when
// MaxInFlight messages are unacknowledged, which holds back the broker
// (TCP backpressure) until acknowledgements free a slot.
func (s *Subscriber) onMessage(r *run, sub *subscription) paho.MessageHandler {
	return func(_ paho.Client, m paho.Message) {
		s.received.Add(1)
		select {
		case r.slots <- struct{}{}:
		default:
			s.throttled.Add(1)
			select {
			case r.slots <- struct{}{}:
			case <-r.ctx.Done():
				return // not acknowledged: the broker redelivers it
			}
		}
		s.inflight.Add(1)
		im := inMsg{msg: m, sub: sub, received: s.opts.Now().UnixMilli()}
		s.mu.Lock()
		s.queue = append(s.queue, im)
		s.mu.Unlock()
		select {
		case s.wake <- struct{}{}:
		default:
		}
	}
}

// dispatch decodes queued messages and hands batches to the handler.
func (s *Subscriber) dispatch(r *run) {
	var (
		batch []model.Sample
		msgs  []paho.Message
	)
	for {
		select {
		case <-r.ctx.Done():
			return
		case <-s.wake:
		}
		for {
			s.mu.Lock()
			q := s.queue
			s.queue = nil
			s.mu.Unlock()
			if len(q) == 0 {
				break
			}
			for _, im := range q {
				if r.ctx.Err() != nil {
					return // unacknowledged: the broker redelivers them
				}
				batch = s.decode(batch, im)
				msgs = append(msgs, im.msg)
				if len(batch) >= s.opts.MaxBatch {
					s.flush(r, batch, msgs)
					batch, msgs = nil, nil
				}
			}
		}
		if len(msgs) > 0 {
			s.flush(r, batch, msgs)
			batch, msgs = nil, nil
		}
	}
}

func (s *Subscriber) flush(r *run, batch []model.Sample, msgs []paho.Message) {
	ack := s.ackFunc(r, msgs)
	if len(batch) == 0 {
		ack() // only malformed messages: nothing to store
		return
	}
	s.samples.Add(uint64(len(batch)))
	s.batches.Add(1)
	s.handler(r.ctx, batch, ack)
}

// ackFunc returns the ack of one batch: it hands the messages to the acker
// (so the caller does not wait for the network) and frees their slots.
func (s *Subscriber) ackFunc(r *run, msgs []paho.Message) func() {
	var once sync.Once
	return func() {
		once.Do(func() {
			select {
			case r.acks <- msgs:
			case <-r.ctx.Done():
				// The connection is gone; paho would drop the ack anyway
				// and the broker redelivers.
			}
			for range msgs {
				select {
				case <-r.slots:
				default:
				}
			}
			s.inflight.Add(-int64(len(msgs)))
		})
	}
}

// acker sends acknowledgements in the order the batches were acked.
func (s *Subscriber) acker(r *run) {
	for {
		select {
		case <-r.ctx.Done():
			return
		case msgs := <-r.acks:
			for _, m := range msgs {
				m.Ack()
			}
			s.acked.Add(uint64(len(msgs)))
		}
	}
}

// decode appends the samples of one message to batch, labelled and
// checked; problems are counted and logged, never fatal.
func (s *Subscriber) decode(batch []model.Sample, im inMsg) []model.Sample {
	payload := im.msg.Payload()
	if im.sub == nil {
		s.reportBad(im, errors.New("no subscription matches the topic (left over from an earlier configuration?)"))
		return batch
	}
	if len(payload) > s.opts.MaxPayload {
		s.reportBad(im, fmt.Errorf("payload of %d bytes is over max_payload %d", len(payload), s.opts.MaxPayload))
		return batch
	}
	ti, ok := s.topicLabels(im.sub, im.msg.Topic())
	if !ok {
		s.reportBad(im, fmt.Errorf("topic does not fit template %s", im.sub.tmpl))
		return batch
	}
	meta := Meta{Labels: ti.labels, Parameter: ti.param, Received: im.received, Rename: im.sub.cfg.Rename}
	n := len(batch)
	batch, err := im.sub.decode(batch, payload, &meta)
	j := n
	var labelErr error
	for i := n; i < len(batch); i++ {
		smp := batch[i]
		if e := s.enrich(&smp); e != nil {
			s.dropped.Add(1)
			if labelErr == nil {
				labelErr = e
			}
			continue
		}
		batch[j] = smp
		j++
	}
	batch = batch[:j]
	if err != nil || labelErr != nil {
		s.reportBad(im, errors.Join(err, labelErr))
	}
	return batch
}

// topicInfo is what a topic gives every message on it.
type topicInfo struct {
	labels model.Labels // from the template, the subscription and the station table
	param  string
}

// maxTopicCache bounds the per-subscription cache of topic labels; stations
// publish on a fixed set of topics, so it rarely fills.
const maxTopicCache = 10000

// topicLabels matches a topic and adds the subscription's and the station
// table's labels, caching the result per topic. Only the dispatcher calls it.
func (s *Subscriber) topicLabels(sub *subscription, topic string) (topicInfo, bool) {
	if ti, ok := sub.topics[topic]; ok {
		return ti, true
	}
	labels, param, ok := sub.tmpl.Match(topic)
	if !ok {
		return topicInfo{}, false
	}
	labels = mergeLabels(labels, sub.labels)
	labels = s.stationLabels(labels)
	ti := topicInfo{labels: labels, param: param}
	if sub.topics == nil || len(sub.topics) >= maxTopicCache {
		sub.topics = make(map[string]topicInfo)
	}
	sub.topics[topic] = ti
	return ti, true
}

// mergeLabels adds the static labels that ls does not have.
func mergeLabels(ls, static model.Labels) model.Labels {
	if len(static) == 0 {
		return ls
	}
	out := ls
	for _, l := range static {
		if ls.Get(l.Name) == "" {
			if len(out) == len(ls) {
				out = append(model.Labels(nil), ls...)
			}
			out = append(out, l)
		}
	}
	if len(out) != len(ls) {
		out.Sort()
	}
	return out
}

// stationLabels adds province and kind from the station table to the
// labels of a message whose topic names the station, once per message
// rather than once per sample.
func (s *Subscriber) stationLabels(ls model.Labels) model.Labels {
	st, ok := s.stations[ls.Get(model.LabelStation)]
	if !ok {
		return ls
	}
	var add model.Labels
	if st.Province != "" && ls.Get(model.LabelProvince) == "" {
		add = append(add, model.Label{Name: model.LabelProvince, Value: st.Province})
	}
	if st.Kind != "" && ls.Get(model.LabelKind) == "" {
		add = append(add, model.Label{Name: model.LabelKind, Value: st.Kind})
	}
	return mergeLabels(ls, add)
}

// enrich fills province and kind from the station table and checks the
// sample.
func (s *Subscriber) enrich(smp *model.Sample) error {
	station := smp.Labels.Get(model.LabelStation)
	if station == "" {
		return fmt.Errorf("%s: no station label (from the topic, the payload or the subscription's labels)", smp.Labels.Metric())
	}
	if st, ok := s.stations[station]; ok {
		if st.Province != "" && smp.Labels.Get(model.LabelProvince) == "" {
			smp.Labels = smp.Labels.With(model.LabelProvince, st.Province)
		}
		if st.Kind != "" && smp.Labels.Get(model.LabelKind) == "" {
			smp.Labels = smp.Labels.With(model.LabelKind, st.Kind)
		}
	}
	for _, name := range []string{model.LabelProvince, model.LabelKind} {
		if smp.Labels.Get(name) == "" {
			return fmt.Errorf("station %q: no %s label (add the station to the station table or %s to the subscription's labels)", station, name, name)
		}
	}
	return smp.Validate()
}

func (s *Subscriber) reportBad(im inMsg, err error) {
	s.malformed.Add(1)
	if !s.logLimit.allow() {
		return
	}
	ev := s.log.Warn().Str("topic", im.msg.Topic()).Str("payload", excerpt(im.msg.Payload())).Err(err)
	if n := s.logLimit.takeSuppressed(); n > 0 {
		ev = ev.Uint64("suppressed", n)
	}
	ev.Msg("mqtt: bad message")
}

// logLimiter lets at most max log lines through per window and counts the rest.
type logLimiter struct {
	mu         sync.Mutex
	max        int
	window     time.Duration
	start      time.Time
	n          int
	suppressed uint64
}

func (l *logLimiter) allow() bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	now := time.Now()
	if now.Sub(l.start) > l.window {
		l.start, l.n = now, 0
	}
	if l.n < l.max {
		l.n++
		return true
	}
	l.suppressed++
	return false
}

func (l *logLimiter) takeSuppressed() uint64 {
	l.mu.Lock()
	defer l.mu.Unlock()
	n := l.suppressed
	l.suppressed = 0
	return n
}
