package simulator

import (
	"context"
	"fmt"
	"math"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"
)

// publisher sends one MQTT message.
type publisher interface {
	publish(topic string, payload []byte) error
	close()
}

type brokerPublisher struct {
	b   *Broker
	qos byte
}

func (p brokerPublisher) publish(topic string, payload []byte) error {
	return p.b.Publish(topic, payload, p.qos)
}
func (p brokerPublisher) close() {}

// pahoPublisher publishes to an external broker with one client.
type pahoPublisher struct {
	c   paho.Client
	qos byte
}

func newPahoPublisher(url, user, pass, clientID string, qos byte) (*pahoPublisher, error) {
	o := paho.NewClientOptions().AddBroker(url).SetClientID(clientID).
		SetUsername(user).SetPassword(pass).SetAutoReconnect(true).SetConnectRetry(true).
		SetConnectTimeout(5 * time.Second).SetCleanSession(true)
	c := paho.NewClient(o)
	tok := c.Connect()
	if !tok.WaitTimeout(10 * time.Second) {
		c.Disconnect(0)
		return nil, fmt.Errorf("mqtt %s: connect timed out", url)
	}
	if err := tok.Error(); err != nil {
		return nil, fmt.Errorf("mqtt %s: connect: %w", url, err)
	}
	return &pahoPublisher{c: c, qos: qos}, nil
}

func (p *pahoPublisher) publish(topic string, payload []byte) error {
	if !p.c.IsConnectionOpen() {
		return fmt.Errorf("mqtt publish %s: not connected", topic)
	}
	p.c.Publish(topic, p.qos, false, payload)
	return nil
}

func (p *pahoPublisher) close() { p.c.Disconnect(250) }

// topicFor returns the topic a station publishes on (a template with
// {parameter} for the number format).
func topicFor(st *station) string {
	switch st.cfg.Format {
	case FormatNumber:
		return "stations/" + st.cfg.Province + "/" + st.cfg.ID + "/{parameter}"
	case FormatSenML:
		return "senml/" + st.cfg.Province + "/" + st.cfg.ID
	}
	return "stations/" + st.cfg.Province + "/" + st.cfg.ID
}

// message is one MQTT message.
type message struct {
	topic   string
	payload []byte
}

func (s *Simulator) startMQTT() error {
	var mq []*station
	for _, st := range s.stations {
		if st.info.Transport == TransportMQTT {
			mq = append(mq, st)
		}
	}
	cfg := s.sc.MQTT
	if len(mq) == 0 {
		return nil // no broker needed
	}
	if cfg.URL != "" {
		if !cfg.StationClients {
			p, err := newPahoPublisher(cfg.URL, cfg.Username, cfg.Password, fmt.Sprintf("quantrac-simulator-%d", s.sc.Seed), cfg.QoS)
			if err != nil {
				return err
			}
			s.mqttPub = p
		}
	} else {
		b, err := NewBroker(cfg.Listen, cfg.Username, cfg.Password, cfg.Users)
		if err != nil {
			return err
		}
		if err := b.Start(); err != nil {
			return err
		}
		s.broker = b
		s.mqttPub = brokerPublisher{b: b, qos: cfg.QoS}
		s.goRun(s.watchBroker)
	}
	if cfg.StationClients && len(mq) > 0 {
		if err := s.connectStations(mq); err != nil {
			return err
		}
	}
	for _, st := range mq {
		st := st
		st.embedded = s.broker != nil
		s.goRun(func(ctx context.Context) { s.runMQTTStation(ctx, st) })
	}
	return nil
}

// connectStations gives every station its own connection, 32 connecting
// at a time.
func (s *Simulator) connectStations(mq []*station) error {
	cfg := s.sc.MQTT
	url := s.BrokerURL()
	sem := make(chan struct{}, 32)
	errs := make(chan error, len(mq))
	var wg sync.WaitGroup
	for _, st := range mq {
		wg.Add(1)
		sem <- struct{}{}
		go func(st *station) {
			defer wg.Done()
			defer func() { <-sem }()
			p, err := newPahoPublisher(url, cfg.Username, cfg.Password, st.info.ID, cfg.QoS)
			if err != nil {
				errs <- fmt.Errorf("station %s: %w", st.info.ID, err)
				return
			}
			st.pub = p
		}(st)
	}
	wg.Wait()
	close(errs)
	if err := <-errs; err != nil {
		s.closeStationClients()
		return err
	}
	return nil
}

// closeStationClients disconnects the stations' own connections.
func (s *Simulator) closeStationClients() {
	var wg sync.WaitGroup
	for _, st := range s.stations {
		if st.pub == nil {
			continue
		}
		wg.Add(1)
		go func(p publisher) {
			defer wg.Done()
			p.close()
		}(st.pub)
	}
	wg.Wait()
}

// watchBroker stops the embedded broker while a broker_restart fault is
// active and starts it again afterwards.
func (s *Simulator) watchBroker(ctx context.Context) {
	t := time.NewTicker(100 * time.Millisecond)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		down := s.faults.active("", FaultBrokerRestart, s.now()) != nil
		if down && s.broker.Up() {
			s.log.Warn().Str("addr", s.broker.Addr()).Msg("mqtt broker: restart fault, stopping")
			s.broker.Stop()
		} else if !down && !s.broker.Up() {
			if err := s.broker.Start(); err != nil {
				s.log.Error().Err(err).Msg("mqtt broker: start again")
			} else {
				s.log.Info().Str("addr", s.broker.Addr()).Msg("mqtt broker: up again")
			}
		}
	}
}

// phase spreads stations over the interval so they do not all publish at
// the same instant: a fixed offset within the first 80% of a step.
func (st *station) phase() time.Duration {
	return time.Duration(st.spikes.unit(-7) * 0.8 * float64(st.interval))
}

// sleepUntil waits until wall time t (by the simulator's clock).
func (s *Simulator) sleepUntil(ctx context.Context, t time.Time) bool {
	d := t.Sub(s.now())
	if d <= 0 {
		return ctx.Err() == nil
	}
	tm := time.NewTimer(d)
	defer tm.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-tm.C:
		return true
	}
}

// runMQTTStation publishes one step after the other.
func (s *Simulator) runMQTTStation(ctx context.Context, st *station) {
	k, _ := st.step(s.now())
	var held []message // out-of-order: the previous step's messages
	for {
		k++
		t := time.Unix(0, k*int64(st.interval))
		if !s.sleepUntil(ctx, t.Add(st.phase())) {
			return
		}
		msgs := st.mqttMessages(t)
		now := s.now()
		if w := s.faults.active(st.info.ID, FaultDuplicate, t); w != nil && st.spikes.unit(k+11) < w.probability() {
			msgs = append(msgs, msgs...)
		}
		if s.faults.active(st.info.ID, FaultOutOfOrder, t) != nil {
			if held == nil {
				held = msgs
				continue
			}
			msgs, held = append(msgs, held...), nil
		} else if held != nil {
			msgs, held = append(held, msgs...), nil
		}
		if len(msgs) == 0 {
			continue
		}
		if w := s.faults.active(st.info.ID, FaultSlow, now); w != nil {
			m := msgs
			s.wg.Add(1)
			go func() { // deliver late without holding up the next step
				defer s.wg.Done()
				if s.sleepUntil(ctx, s.now().Add(w.delay())) {
					s.send(st, m)
				}
			}()
			continue
		}
		s.send(st, msgs)
	}
}

func (s *Simulator) send(st *station, msgs []message) {
	pub := s.mqttPub
	if st.pub != nil {
		pub = st.pub
	}
	for _, m := range msgs {
		if err := pub.publish(m.topic, m.payload); err != nil {
			s.stats.mqttErrors.Add(1)
			continue
		}
		s.stats.mqttMessages.Add(1)
	}
}

// malformedPayloads are what a broken station firmware sends.
var malformedPayloads = []string{
	`{"time":"2026-`,
	`NaN`,
	`[{"bn":"x:","v":}]`,
	"\x00\xff\xfe garbage",
	`{"status":"00","pm25_ugm3":"mười hai"}`,
	``,
}

// mqttMessages builds the messages of the step starting at t.
func (st *station) mqttMessages(t time.Time) []message {
	rs := st.readings(t)
	stamp := t
	status := "00"
	var ok []Reading
	for _, r := range rs {
		if r.Reason == "offline" || r.Reason == "broker down" {
			return nil
		}
		if r.Reason == "malformed payload" {
			k, _ := st.step(t)
			topic := strings.Replace(st.info.Topic, "{parameter}", r.Param, 1)
			return []message{{topic, []byte(malformedPayloads[int(uint64(k)%uint64(len(malformedPayloads)))])}}
		}
		if r.Stamp != 0 {
			stamp = time.UnixMilli(r.Stamp)
		}
		status = r.Status
		if r.OK {
			ok = append(ok, r)
		}
	}
	if len(ok) == 0 {
		return nil
	}
	switch st.cfg.Format {
	case FormatNumber:
		out := make([]message, 0, len(ok))
		for _, r := range ok {
			topic := "stations/" + st.cfg.Province + "/" + st.cfg.ID + "/" + r.Param
			out = append(out, message{topic, []byte(formatFloat(*r.V))})
		}
		return out
	case FormatSenML:
		return []message{{st.info.Topic, senml(st.cfg.ID, stamp, ok)}}
	}
	return []message{{st.info.Topic, flatJSON(stamp, st.cfg.TimeFormat, status, ok)}}
}

func formatFloat(v float64) string {
	if v == math.Trunc(v) && math.Abs(v) < 1e15 {
		return strconv.FormatFloat(v, 'f', -1, 64)
	}
	return strconv.FormatFloat(v, 'g', -1, 64)
}

// flatJSON renders {"time":...,"status":"00","param":v,...} with parameters
// in name order.
func flatJSON(stamp time.Time, timeFormat, status string, rs []Reading) []byte {
	var b strings.Builder
	b.WriteString(`{"time":`)
	switch timeFormat {
	case TimeUnix:
		b.WriteString(strconv.FormatInt(stamp.Unix(), 10))
	case TimeUnixMs:
		b.WriteString(strconv.FormatInt(stamp.UnixMilli(), 10))
	default:
		b.WriteString(strconv.Quote(stamp.In(VietnamTime).Format(time.RFC3339Nano)))
	}
	b.WriteString(`,"status":"`)
	b.WriteString(status)
	b.WriteByte('"')
	sorted := append([]Reading(nil), rs...)
	sort.Slice(sorted, func(i, j int) bool { return sorted[i].Param < sorted[j].Param })
	for _, r := range sorted {
		b.WriteString(`,"`)
		b.WriteString(r.Param)
		b.WriteString(`":`)
		b.WriteString(formatFloat(*r.V))
	}
	b.WriteByte('}')
	return []byte(b.String())
}

// senml renders an RFC 8428 pack: base name "<station>:" and base time on
// the first record.
func senml(id string, stamp time.Time, rs []Reading) []byte {
	var b strings.Builder
	b.WriteByte('[')
	bt := float64(stamp.UnixMilli()) / 1000
	for i, r := range rs {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteByte('{')
		if i == 0 {
			b.WriteString(`"bn":`)
			b.WriteString(strconv.Quote(id + ":"))
			b.WriteString(`,"bt":`)
			b.WriteString(strconv.FormatFloat(bt, 'f', -1, 64))
			b.WriteByte(',')
		}
		b.WriteString(`"n":`)
		b.WriteString(strconv.Quote(r.Param))
		b.WriteString(`,"u":`)
		b.WriteString(strconv.Quote(params[r.Param].Unit))
		b.WriteString(`,"v":`)
		b.WriteString(formatFloat(*r.V))
		b.WriteByte('}')
	}
	b.WriteByte(']')
	return []byte(b.String())
}
