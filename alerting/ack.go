package alerting

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"
	"unicode"

	bolt "go.etcd.io/bbolt"
)

// Ack acknowledges a pending or firing alert: escalation stops. by names
// who took it.
func (e *Engine) Ack(ctx context.Context, id uint64, by, note string) (*Alert, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	a := e.byID[id]
	if a == nil {
		if old, err := e.st.getAlert(id); err == nil && old != nil {
			return nil, fmt.Errorf("alert %d is %s: %w", id, old.State, ErrBadState)
		}
		return nil, fmt.Errorf("alert %d: %w", id, ErrNotFound)
	}
	if a.State == StateAcknowledged {
		return a.clone(), nil // idempotent: a second "OK" changes nothing
	}
	now := e.clock.Now()
	a.State = StateAcknowledged
	a.AckedAt = now
	a.AckBy = by
	a.AckNote = note
	a.record(Transition{At: now, Event: EventAcknowledged, Level: a.LevelName, Value: a.Value})
	p := &pending{}
	p.touch(a)
	text := fmt.Sprintf("Đã ghi nhận: %s nhận xử lý cảnh báo #%d", by, a.ID)
	// Everyone told about the alert learns who took it (and the officer
	// who replied by SMS sees that the reply worked).
	p.events = append(p.events, &Event{AlertID: a.ID, Kind: EventAcknowledged, Rule: a.Rule, Severity: a.Severity,
		Level: a.LevelName, Text: text, Labels: a.Labels, Value: a.Value, Limit: a.Limit, At: now, Team: a.Team,
		To: append([]string(nil), a.Notified...), SMS: len(a.Notified) > 0, By: by})
	e.commit(p)
	e.log.Info().Uint64("alert", id).Str("by", by).Msg("alert acknowledged")
	return a.clone(), nil
}

// Resolve closes an alert by hand with a note (the condition may fire it
// again as a new alert if it still holds).
func (e *Engine) Resolve(ctx context.Context, id uint64, by, note string) (*Alert, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	a := e.byID[id]
	if a == nil {
		if old, err := e.st.getAlert(id); err == nil && old != nil {
			return nil, fmt.Errorf("alert %d is already %s: %w", id, old.State, ErrBadState)
		}
		return nil, fmt.Errorf("alert %d: %w", id, ErrNotFound)
	}
	r := e.ruleByName[a.Rule]
	p := &pending{}
	a.ResolveNote = note
	if a.State == StatePending {
		a.State = StateFiring // keep a record of the manual resolution
	}
	e.resolve(p, a, r, by, e.clock.Now(), time.Time{}, true)
	e.commit(p)
	return a.clone(), nil
}

// AlertFilter selects alerts for listing; empty fields match all.
type AlertFilter struct {
	State    State
	Severity string
	Station  string
	Province string
	Rule     string
	Limit    int // default 500
}

// Alerts lists alerts, newest first: active ones from memory, resolved
// ones from the store.
func (e *Engine) Alerts(f AlertFilter) ([]*Alert, error) {
	if f.Limit <= 0 {
		f.Limit = 500
	}
	match := func(a *Alert) bool {
		return (f.State == "" || a.State == f.State) && (f.Severity == "" || a.Severity == f.Severity) &&
			(f.Station == "" || a.Labels["station"] == f.Station) && (f.Rule == "" || a.Rule == f.Rule) &&
			(f.Province == "" || a.Labels["province"] == f.Province)
	}
	e.mu.Lock()
	now := e.clock.Now()
	var out []*Alert
	for _, a := range e.active {
		if match(a) {
			c := a.clone()
			c.Silenced = e.silenced(a.Labels, now)
			out = append(out, c)
		}
	}
	e.mu.Unlock()
	sort.Slice(out, func(i, j int) bool { return out[i].ID > out[j].ID })
	if len(out) >= f.Limit {
		return out[:f.Limit], nil
	}
	if f.State == "" || f.State == StateResolved {
		old, err := e.st.listAlerts(func(a *Alert) bool { return a.State == StateResolved && match(a) }, f.Limit-len(out))
		if err != nil {
			return nil, fmt.Errorf("list resolved alerts: %w", err)
		}
		out = append(out, old...)
	}
	return out, nil
}

// Alert returns one alert by id.
func (e *Engine) Alert(id uint64) (*Alert, error) {
	e.mu.Lock()
	if a := e.byID[id]; a != nil {
		c := a.clone()
		e.mu.Unlock()
		return c, nil
	}
	e.mu.Unlock()
	a, err := e.st.getAlert(id)
	if err != nil {
		return nil, err
	}
	if a == nil {
		return nil, fmt.Errorf("alert %d: %w", id, ErrNotFound)
	}
	return a, nil
}

// Silences lists silences (expired ones included until they are deleted).
func (e *Engine) Silences() []*Silence {
	e.mu.Lock()
	defer e.mu.Unlock()
	out := make([]*Silence, 0, len(e.silences))
	for _, s := range e.silences {
		c := *s
		out = append(out, &c)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Created.Before(out[j].Created) })
	return out
}

// AddSilence validates and stores a silence; an empty ID gets a new one,
// an existing ID is replaced. Start defaults to now.
func (e *Engine) AddSilence(s *Silence) (*Silence, error) {
	now := e.clock.Now()
	if s.Start.IsZero() {
		s.Start = now
	}
	if err := s.Validate(); err != nil {
		return nil, err
	}
	if s.ID == "" {
		var b [8]byte
		if _, err := rand.Read(b[:]); err != nil {
			return nil, fmt.Errorf("silence id: %w", err)
		}
		s.ID = hex.EncodeToString(b[:])
	}
	s.Created = now
	e.mu.Lock()
	defer e.mu.Unlock()
	err := e.st.db.Update(func(tx *bolt.Tx) error {
		return putJSON(tx.Bucket([]byte(bucketSilences)), []byte(s.ID), s)
	})
	if err != nil {
		return nil, fmt.Errorf("store silence %s: %w", s.ID, err)
	}
	e.silences[s.ID] = s
	e.log.Info().Str("silence", s.ID).Str("matchers", s.Matchers).Time("end", s.End).Str("author", s.Author).Msg("silence added")
	c := *s
	return &c, nil
}

// DeleteSilence removes a silence.
func (e *Engine) DeleteSilence(id string) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.silences[id] == nil {
		return fmt.Errorf("silence %s: %w", id, ErrNotFound)
	}
	err := e.st.db.Update(func(tx *bolt.Tx) error {
		return tx.Bucket([]byte(bucketSilences)).Delete([]byte(id))
	})
	if err != nil {
		return fmt.Errorf("delete silence %s: %w", id, err)
	}
	delete(e.silences, id)
	return nil
}

// OnCallNow returns who is on duty for every team now.
func (e *Engine) OnCallNow() []Duty {
	e.mu.Lock()
	r := e.roster
	e.mu.Unlock()
	return r.NowAll(e.clock.Now())
}

// inbound passes SMS replies and receipts from one receiver to the engine.
type inbound struct {
	e        *Engine
	receiver string
}

func (in inbound) SMSReply(ctx context.Context, from, text string) { in.e.SMSReply(ctx, from, text) }

func (in inbound) DeliveryReceipt(ctx context.Context, ref, status string) {
	seq, ok, err := in.e.st.markDelivered(in.receiver, ref, status)
	switch {
	case err != nil:
		in.e.log.Error().Err(err).Str("ref", ref).Msg("record delivery receipt")
	case !ok:
		in.e.log.Warn().Str("receiver", in.receiver).Str("ref", ref).Str("status", status).Msg("delivery receipt for an unknown message")
	default:
		in.e.log.Info().Str("receiver", in.receiver).Uint64("msg", seq).Str("ref", ref).Str("status", status).Msg("delivery receipt")
	}
}

// SMSReply handles an SMS from a phone: "OK 123" (also "ok123", "XN 123",
// several ids "OK 12 13") acknowledges those alerts; "OK" alone
// acknowledges every firing alert the sender was told about. Unknown
// senders and other texts are logged and ignored.
func (e *Engine) SMSReply(ctx context.Context, from, text string) {
	e.mu.Lock()
	p := e.roster.PersonByPhone(from)
	e.mu.Unlock()
	if p == nil {
		e.log.Warn().Str("from", from).Str("text", text).Msg("SMS from an unknown number ignored")
		return
	}
	ids, ok := parseAckText(text)
	if !ok {
		e.log.Warn().Str("from", from).Str("person", p.ID).Str("text", text).Msg("SMS reply not understood: want \"OK <id>\"")
		return
	}
	if len(ids) == 0 {
		e.mu.Lock()
		for _, a := range e.active {
			if a.State == StateFiring && a.notified(p.ID) {
				ids = append(ids, a.ID)
			}
		}
		e.mu.Unlock()
	}
	by := p.Name + " (SMS)"
	for _, id := range ids {
		if _, err := e.Ack(ctx, id, by, "SMS: "+text); err != nil {
			e.log.Warn().Err(err).Str("person", p.ID).Uint64("alert", id).Msg("SMS acknowledgement refused")
		}
	}
}

// parseAckText reads "OK 123", "ok123", "XN 12 13", "OK". ok is false when
// the text is not an acknowledgement.
func parseAckText(text string) (ids []uint64, ok bool) {
	t := strings.ToUpper(strings.TrimSpace(text))
	switch {
	case strings.HasPrefix(t, "OK"):
		t = t[2:]
	case strings.HasPrefix(t, "XN"):
		t = t[2:]
	default:
		return nil, false
	}
	fields := strings.FieldsFunc(t, func(r rune) bool { return !unicode.IsDigit(r) && r != '#' })
	for _, f := range fields {
		f = strings.TrimPrefix(f, "#")
		if f == "" {
			continue
		}
		id, err := strconv.ParseUint(f, 10, 64)
		if err != nil {
			return nil, false
		}
		ids = append(ids, id)
	}
	// Anything other than digits, separators and '#' after OK is not an ack.
	for _, r := range t {
		if !unicode.IsDigit(r) && !unicode.IsSpace(r) && r != '#' && r != ',' && r != ';' {
			return nil, false
		}
	}
	return ids, true
}

// Now is the engine's clock (the injected one in tests).
func (e *Engine) Now() time.Time { return e.clock.Now() }
