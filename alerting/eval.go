package alerting

import (
	"math"
	"strings"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/quantrac/quantrac/model"
)

// pending collects the alert changes and events of one evaluation step;
// commit writes them in one transaction, so an event exists exactly when
// the state change that caused it is durable.
type pending struct {
	changed map[uint64]*Alert
	deleted []uint64
	events  []*Event
}

func (p *pending) touch(a *Alert) {
	if p.changed == nil {
		p.changed = map[uint64]*Alert{}
	}
	p.changed[a.ID] = a
}

// commit persists p. Caller holds e.mu.
func (e *Engine) commit(p *pending) {
	if len(p.changed) == 0 && len(p.deleted) == 0 && len(p.events) == 0 {
		return
	}
	err := e.st.db.Update(func(tx *bolt.Tx) error {
		b := tx.Bucket([]byte(bucketAlerts))
		if b.Sequence() < e.nextID {
			if err := b.SetSequence(e.nextID); err != nil {
				return err
			}
		}
		for _, id := range p.deleted {
			if err := b.Delete(u64key(id)); err != nil {
				return err
			}
		}
		for _, a := range p.changed {
			if err := putAlert(tx, a); err != nil {
				return err
			}
		}
		for _, ev := range p.events {
			if err := putEvent(tx, ev); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		e.log.Error().Err(err).Int("alerts", len(p.changed)).Int("events", len(p.events)).Msg("persist alert state")
		return
	}
	if len(p.events) > 0 {
		e.signalGroup()
	}
}

// newAlert creates a pending alert for key.
func (e *Engine) newAlert(p *pending, r *Rule, key string, ls model.Labels, at time.Time) *Alert {
	e.nextID++
	labels := make(map[string]string, len(ls)+len(r.Labels)+1)
	for _, l := range ls {
		labels[l.Name] = l.Value
	}
	for k, v := range r.Labels {
		labels[k] = v
	}
	labels["alertname"] = r.Name
	a := &Alert{ID: e.nextID, Rule: r.Name, Kind: r.Kind, Key: key, Labels: labels, State: StatePending,
		Severity: r.Severity, Level: -1, Unit: r.Unit, ActiveAt: at}
	a.Team = r.Team
	if a.Team == "" {
		a.Team = e.roster.Route(labels)
	}
	e.active[key] = a
	e.byID[a.ID] = a
	e.activeByRule[a.Rule]++
	p.touch(a)
	return a
}

// forget removes a from the active set.
func (e *Engine) forget(a *Alert) {
	if e.active[a.Key] == a {
		delete(e.active, a.Key)
		e.activeByRule[a.Rule]--
	}
	delete(e.byID, a.ID)
	e.unsetLate(a)
}

// drop forgets a pending alert that never fired (no notification).
func (e *Engine) drop(p *pending, a *Alert) {
	e.forget(a)
	if p.changed != nil {
		delete(p.changed, a.ID)
	}
	p.deleted = append(p.deleted, a.ID)
}

func (e *Engine) tdata(a *Alert, r *Rule, kind string, at time.Time) *TemplateData {
	loc := e.roster.Location()
	st := a.Labels[model.LabelStation]
	d := &TemplateData{ID: a.ID, Rule: a.Rule, Event: kind, Severity: a.Severity, Level: a.LevelName, PrevLevel: a.PrevLevel,
		Value: a.Value, Limit: a.Limit, Unit: a.Unit, Station: st, StationName: e.stationName(st),
		Province: a.Labels[model.LabelProvince], Metric: a.Labels[model.MetricName], Labels: a.Labels,
		T: at.In(loc), Time: at.In(loc).Format(timeLayout), Since: a.ActiveAt.In(loc).Format(timeLayout)}
	d.Param = paramName(d.Metric)
	if r != nil {
		if r.window > 0 {
			d.Window = strings.TrimSuffix(strings.TrimSuffix(r.window.String(), "0s"), "0m")
		}
		d.Below = r.Below != nil
		if r.Kind == KindLevels && a.Level >= 0 && a.Level < len(r.Levels) {
			d.Below = r.Levels[a.Level].Below != nil
			if a.Level+1 < len(r.Levels) {
				d.PrevLimit = displayLimit(r.Levels[a.Level+1].limit())
			}
		}
	}
	return d
}

// event renders and queues an event for a.
func (e *Engine) event(p *pending, a *Alert, r *Rule, kind string, at, observed time.Time, sms bool) *Event {
	d := e.tdata(a, r, kind, at)
	var text string
	switch kind {
	case EventResolved:
		var t = (*Rule)(nil)
		if r != nil {
			t = r
		}
		def := "resolved"
		if t != nil && t.Kind == KindNoData {
			def = resolvedNoData
		}
		if t != nil && t.resT != nil {
			text = render(t.resT, def, d)
		} else {
			text = render(nil, def, d)
		}
	default:
		tmpl := r.msgT
		if r.Kind == KindLevels && a.Level >= 0 && a.Level < len(r.Levels) && r.Levels[a.Level].msgT != nil {
			tmpl = r.Levels[a.Level].msgT
		}
		text = render(tmpl, r.Kind, d)
		a.Message = text
	}
	ev := &Event{AlertID: a.ID, Kind: kind, Rule: a.Rule, Severity: a.Severity, Level: a.LevelName, Text: text,
		Labels: a.Labels, Value: a.Value, Limit: a.Limit, At: at, Team: a.Team, SMS: sms, ObservedAt: observed}
	if d.Station != "" && d.StationName == d.Station {
		ev.Unnamed = d.Station
	}
	if kind == EventResolved || kind == EventLevelDown {
		ev.To = append(ev.To, a.Notified...)
	}
	switch kind {
	case EventFiring, EventLevelUp:
		a.EscalateFrom = e.clock.Now() // escalation counts from the notification
		fallthrough
	case EventLevelDown:
		a.ToldLevel = a.LevelName
		a.Untold = false
	}
	p.events = append(p.events, ev)
	return ev
}

// holdFiring reports whether a cleared alert stays firing because of the
// rule's keep_firing_for, starting the clear period when needed.
func (e *Engine) holdFiring(p *pending, a *Alert, r *Rule, at time.Time) bool {
	if r == nil || r.keep <= 0 || a.State == StatePending {
		return false
	}
	if a.ClearSince.IsZero() {
		a.ClearSince = at
		p.touch(a)
	}
	return at.Sub(a.ClearSince) < r.keep
}

// fire moves a pending alert to firing and notifies.
func (e *Engine) fire(p *pending, a *Alert, r *Rule, at, observed time.Time) {
	a.State = StateFiring
	a.FiredAt = at
	a.EscLevel = 0
	p.touch(a)
	late := e.isLate(r, at, observed)
	a.record(Transition{At: at, Event: EventFiring, Level: a.LevelName, Value: a.Value, Late: late})
	if late {
		a.Untold = true
		e.hold(p, a)
		e.log.Info().Uint64("alert", a.ID).Str("rule", a.Rule).Str("key", a.Key).Str("level", a.LevelName).Time("at", at).Msg("alert firing in late data: notification held until the series catches up")
		return
	}
	e.event(p, a, r, EventFiring, at, observed, true)
	e.log.Info().Uint64("alert", a.ID).Str("rule", a.Rule).Str("key", a.Key).Str("level", a.LevelName).Float64("value", a.Value).Msg("alert firing")
}

// resolve ends an alert; pending ones are dropped silently.
func (e *Engine) resolve(p *pending, a *Alert, r *Rule, by string, at, observed time.Time, sms bool) {
	if a.State == StatePending {
		e.drop(p, a)
		return
	}
	a.State = StateResolved
	a.ResolvedAt = at
	a.ResolvedBy = by
	late := e.isLate(r, at, observed)
	e.forget(a)
	p.touch(a)
	a.record(Transition{At: at, Event: EventResolved, Level: a.LevelName, Value: a.Value, Late: late})
	if a.Untold {
		// Nobody was told it fired: its end is no news either.
		a.Untold = false
		a.DuringGap = true
		if a.ResolveNote == "" {
			a.ResolveNote = "fired in late data (data gap) and resolved before anyone was told: not notified"
		}
		e.log.Info().Uint64("alert", a.ID).Str("rule", a.Rule).Str("key", a.Key).Time("at", at).Msg("alert resolved in late data: nothing notified")
		return
	}
	e.event(p, a, r, EventResolved, at, observed, sms)
	e.log.Info().Uint64("alert", a.ID).Str("rule", a.Rule).Str("key", a.Key).Str("by", by).Msg("alert resolved")
}

func (e *Engine) evalBatches(q []queuedBatch) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.evalNow = e.clock.Now()
	defer func() { e.evalNow = time.Time{} }()
	p := &pending{}
	n := 0
	for _, b := range q {
		for i := range b.samples {
			e.evalSample(p, &b.samples[i], b.at)
		}
		n += len(b.samples)
	}
	e.commit(p)
	e.done.Add(int64(n))
}

func (e *Engine) evalSample(p *pending, s *model.Sample, observed time.Time) {
	metric := s.Labels.Metric()
	rules := e.byMetric[metric]
	var stRules []*Rule
	if bs := e.byStation[metric]; bs != nil {
		stRules = bs[s.Labels.Get(model.LabelStation)]
	}
	if len(rules) == 0 && len(stRules) == 0 && len(e.anyMetric) == 0 {
		return
	}
	sc := &sampleKey{s: s}
	eval := func(r *Rule) {
		if !model.MatchLabels(r.matchers, s.Labels) {
			return
		}
		e.evaluated.Add(1)
		switch r.Kind {
		case KindNoData:
			e.evalNoDataSample(p, r, s, observed)
			return
		case KindQuality:
			e.evalQuality(p, r, sc, observed)
			return
		}
		if r.Quality != "any" && !s.Q.Good() {
			return
		}
		if math.IsNaN(s.V) || math.IsInf(s.V, 0) {
			return
		}
		switch r.Kind {
		case KindThreshold:
			e.evalThreshold(p, r, sc, observed)
		case KindLevels:
			e.evalLevels(p, r, sc, observed)
		case KindRate:
			e.evalRate(p, r, sc, observed)
		}
	}
	check := func(r *Rule) {
		eval(r)
		if r.lateN > 0 && r.Kind != KindNoData && model.MatchLabels(r.matchers, s.Labels) {
			e.afterSample(p, r, sc, observed)
		}
	}
	for _, r := range rules {
		check(r)
	}
	for _, r := range stRules {
		check(r)
	}
	for _, r := range e.anyMetric {
		check(r)
	}
}

func ruleKey(r *Rule, series string) string { return r.Name + "\x00" + series }

// sampleKey renders a sample's series key once, and only when a rule needs
// it: most samples meet rules with no active alert and no crossing.
type sampleKey struct {
	s      *model.Sample
	series string
}

func (k *sampleKey) key(r *Rule) string {
	if k.series == "" {
		k.series = k.s.Labels.String()
	}
	return ruleKey(r, k.series)
}

// onCondition drives the common lifecycle for a two-state condition:
// trig starts it, clear ends it, otherwise the alert holds. value and
// limit are stored for messages.
func (e *Engine) onCondition(p *pending, r *Rule, key string, ls model.Labels, at time.Time, trig, cleared bool, value, limit float64, observed time.Time) {
	a := e.active[key]
	if a == nil {
		if !trig {
			return
		}
		a = e.newAlert(p, r, key, ls, at)
		a.Value, a.Limit, a.LastValueAt = value, displayLimit(limit), at
		if r.forDur == 0 {
			e.fire(p, a, r, at, observed)
		}
		return
	}
	a.Value, a.LastValueAt = value, at
	if trig {
		a.Limit = displayLimit(limit)
	}
	if cleared {
		if e.holdFiring(p, a, r, at) {
			return
		}
		e.resolve(p, a, r, "", at, observed, true)
		return
	}
	if !a.ClearSince.IsZero() {
		a.ClearSince = time.Time{} // back before keep_firing_for ran out: same alert
		p.touch(a)
	}
	if a.State == StatePending && at.Sub(a.ActiveAt) >= r.forDur {
		e.fire(p, a, r, at, observed)
	}
}

func (e *Engine) evalThreshold(p *pending, r *Rule, sc *sampleKey, observed time.Time) {
	s := sc.s
	lim, up := r.limit()
	clr := r.clearLevel()
	v := s.V
	var trig, cleared bool
	if up {
		trig, cleared = v >= lim, v < clr
	} else {
		trig, cleared = v <= lim, v > clr
	}
	if !trig && e.activeByRule[r.Name] == 0 {
		return // nothing to start, nothing to update
	}
	e.onCondition(p, r, sc.key(r), s.Labels, time.UnixMilli(s.T), trig, cleared, v, lim, observed)
}

func (e *Engine) evalQuality(p *pending, r *Rule, sc *sampleKey, observed time.Time) {
	s := sc.s
	trig := s.Q&r.qmask != 0
	for _, st := range r.qstatus {
		if s.Q.Status() == st {
			trig = true
		}
	}
	if !trig && e.activeByRule[r.Name] == 0 {
		return
	}
	e.onCondition(p, r, sc.key(r), s.Labels, time.UnixMilli(s.T), trig, !trig, s.V, 0, observed)
}

// levelFor returns the level index v is at, given the current level cur
// (-1 none): a level is reached at its limit and kept down to its clear.
func levelFor(r *Rule, v float64, cur int) int {
	for i := len(r.Levels) - 1; i >= 0; i-- {
		l := r.Levels[i]
		if l.Above != nil {
			if v >= *l.Above || (i <= cur && v >= l.clearLevel()) {
				return i
			}
		} else if l.Below != nil {
			if v <= *l.Below || (i <= cur && v <= l.clearLevel()) {
				return i
			}
		}
	}
	return -1
}

func (e *Engine) setLevel(a *Alert, r *Rule, lvl int, at time.Time) {
	if a.Level != lvl {
		a.LevelAt = at
	}
	a.Level = lvl
	l := r.Levels[lvl]
	if a.LevelName != l.Name {
		a.PrevLevel = a.LevelName
	}
	a.LevelName = l.Name
	a.Severity = l.Severity
	a.Limit = displayLimit(l.limit())
}

func (e *Engine) evalLevels(p *pending, r *Rule, sc *sampleKey, observed time.Time) {
	s := sc.s
	if e.activeByRule[r.Name] == 0 && levelFor(r, s.V, -1) < 0 {
		return
	}
	key := sc.key(r)
	at := time.UnixMilli(s.T)
	a := e.active[key]
	cur := -1
	if a != nil {
		cur = a.Level
	}
	nl := levelFor(r, s.V, cur)
	if a == nil {
		if nl < 0 {
			return
		}
		a = e.newAlert(p, r, key, s.Labels, at)
		a.Value, a.LastValueAt = s.V, at
		e.setLevel(a, r, nl, at)
		if r.forDur == 0 {
			e.fire(p, a, r, at, observed)
		}
		return
	}
	a.Value, a.LastValueAt = s.V, at
	if nl < 0 {
		if e.holdFiring(p, a, r, at) {
			return
		}
		e.resolve(p, a, r, "", at, observed, true)
		return
	}
	if !a.ClearSince.IsZero() {
		a.ClearSince = time.Time{}
		p.touch(a)
	}
	if a.State == StatePending {
		if nl != cur {
			e.setLevel(a, r, nl, at)
			p.touch(a)
		}
		if at.Sub(a.ActiveAt) >= r.forDur {
			e.fire(p, a, r, at, observed)
		}
		return
	}
	if nl == cur {
		return
	}
	e.setLevel(a, r, nl, at)
	p.touch(a)
	kind := EventLevelDown
	if nl > cur {
		kind = EventLevelUp
	}
	late := e.isLate(r, at, observed)
	a.record(Transition{At: at, Event: kind, Level: a.LevelName, Value: s.V, Late: late})
	if late || a.Late {
		// Told when the series catches up, if still news then.
		e.hold(p, a)
		return
	}
	if nl > cur {
		// A worse level needs an owner again: back to firing, escalation restarts.
		a.State = StateFiring
		a.FiredAt = at
		a.EscLevel = 0
		a.AckedAt, a.AckBy, a.AckNote = time.Time{}, "", ""
		e.event(p, a, r, EventLevelUp, at, observed, true)
	} else {
		e.event(p, a, r, EventLevelDown, at, observed, true)
	}
	e.log.Info().Uint64("alert", a.ID).Str("rule", a.Rule).Str("level", a.LevelName).Float64("value", s.V).Msg("alert level changed")
}

// rateState keeps the recent points of one series for a rate rule.
type rateState struct {
	t []int64
	v []float64
}

func (e *Engine) evalRate(p *pending, r *Rule, sc *sampleKey, observed time.Time) {
	s := sc.s
	key := sc.key(r)
	h := e.rateHist[key]
	if h == nil {
		h = &rateState{}
		e.rateHist[key] = h
	}
	if n := len(h.t); n > 0 && s.T <= h.t[n-1] {
		return // out of order or duplicate: rate is computed on arrival order
	}
	h.t = append(h.t, s.T)
	h.v = append(h.v, s.V)
	cut := s.T - r.over.Milliseconds()
	i := 0
	for i < len(h.t)-1 && h.t[i] < cut {
		i++
	}
	if i > 0 {
		h.t = append(h.t[:0], h.t[i:]...)
		h.v = append(h.v[:0], h.v[i:]...)
	}
	dt := s.T - h.t[0]
	if dt < r.over.Milliseconds()/2 {
		return // not enough history for a stable rate
	}
	rate := (s.V - h.v[0]) / (float64(dt) / float64(time.Hour.Milliseconds()))
	var trig, hold bool
	limit := 0.0
	if r.Rise != nil {
		clr := *r.Rise
		if r.Clear != nil {
			clr = *r.Clear
		}
		if rate >= *r.Rise {
			trig, limit = true, *r.Rise
		}
		hold = hold || rate >= clr
	}
	if r.Fall != nil {
		clr := *r.Fall
		if r.Clear != nil {
			clr = *r.Clear
		}
		if -rate >= *r.Fall {
			trig, limit = true, *r.Fall
		}
		hold = hold || -rate >= clr
	}
	e.onCondition(p, r, key, s.Labels, time.UnixMilli(s.T), trig, !trig && !hold, rate, limit, observed)
}

// groupLabels keeps the labels of ls named in by (all of ls when empty).
func groupLabels(ls model.Labels, by []string) model.Labels {
	if len(by) == 0 {
		return ls
	}
	out := make(model.Labels, 0, len(by))
	for _, l := range ls {
		for _, b := range by {
			if l.Name == b {
				out = append(out, l)
			}
		}
	}
	return out
}

func (e *Engine) evalNoDataSample(p *pending, r *Rule, s *model.Sample, observed time.Time) {
	g := groupLabels(s.Labels, r.GroupBy)
	gk := g.String()
	m := e.lastSeen[r.Name]
	if m == nil {
		m = map[string]*seenGroup{}
		e.lastSeen[r.Name] = m
	}
	sg := m[gk]
	if sg == nil {
		sg = &seenGroup{labels: g}
		m[gk] = sg
	}
	// Silence is measured on arrival (the engine's clock), not on sample
	// time: a logger with a wrong clock or a store-and-forward backlog
	// still counts as reporting.
	now := e.clock.Now()
	if t := now.UnixMilli(); t > sg.t {
		sg.t = t
	}
	if a := e.active[ruleKey(r, gk)]; a != nil {
		a.Value = 0
		e.resolve(p, a, r, "", now, observed, true)
	}
}
