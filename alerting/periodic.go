package alerting

import (
	"context"
	"fmt"
	"math"
	"strings"
	"time"

	"github.com/quantrac/quantrac/model"
)

// Tick runs one periodic evaluation at the clock's now: no-data rules,
// window and promql rules that are due, and escalation. Run calls it every
// Interval; tests with a fake clock call it directly.
func (e *Engine) Tick(ctx context.Context) {
	now := e.clock.Now()
	e.mu.Lock()
	var due []*Rule
	for _, r := range e.rules {
		if r.Disabled {
			continue
		}
		switch r.Kind {
		case KindWindow, KindPromQL:
			if last, ok := e.lastRun[r.Name]; !ok || now.Sub(last) >= r.every {
				e.lastRun[r.Name] = now
				due = append(due, r)
			}
		}
	}
	p := &pending{}
	e.checkNoData(p, now)
	e.checkHeld(p, now)
	e.checkKeepFiring(p, now)
	e.checkStalePending(p, now)
	e.checkCaughtUp(p, now)
	e.checkEscalation(p, now)
	e.commit(p)
	prune := now.Sub(e.lastPrune) >= time.Hour
	if prune {
		e.lastPrune = now
	}
	e.mu.Unlock()
	if prune {
		if n, err := e.st.prune(now.Add(-e.opts.Retention)); err != nil {
			e.log.Error().Err(err).Msg("prune old alerts and messages")
		} else if n > 0 {
			e.log.Info().Int("records", n).Msg("pruned old alerts and messages")
		}
	}

	// Queries run without the lock; their results are applied under it.
	for _, r := range due {
		if ctx.Err() != nil {
			return
		}
		var res []condResult
		var err error
		switch r.Kind {
		case KindWindow:
			res, err = e.queryWindow(ctx, r, now)
		case KindPromQL:
			res, err = e.queryPromQL(ctx, r, now)
		}
		if err != nil {
			e.log.Warn().Err(err).Str("rule", r.Name).Msg("periodic rule evaluation failed")
			continue
		}
		if res == nil {
			continue
		}
		e.mu.Lock()
		p := &pending{}
		e.applyPeriodic(p, r, res, now)
		e.commit(p)
		e.mu.Unlock()
	}
}

// condResult is the outcome of a periodic query for one series.
type condResult struct {
	labels       model.Labels
	value, limit float64
	trig, clear  bool
}

func (e *Engine) applyPeriodic(p *pending, r *Rule, res []condResult, now time.Time) {
	seen := map[string]bool{}
	for _, c := range res {
		key := ruleKey(r, c.labels.String())
		seen[key] = true
		e.evaluated.Add(1)
		e.onCondition(p, r, key, c.labels, now, c.trig, c.clear, c.value, c.limit, time.Time{})
		if a := e.active[key]; a != nil && a.State == StatePending && now.Sub(a.ActiveAt) >= r.forDur {
			e.fire(p, a, r, now, time.Time{})
		}
	}
	if r.Kind == KindPromQL {
		// A series gone from the result has cleared.
		prefix := r.Name + "\x00"
		for key, a := range e.active {
			if strings.HasPrefix(key, prefix) && !seen[key] {
				e.resolve(p, a, r, "", now, time.Time{}, true)
			}
		}
	}
}

// queryWindow averages the last complete hours of each matching series:
// the mean of hourly means, as QCVN 05:2023 builds 8 h and 24 h values.
func (e *Engine) queryWindow(ctx context.Context, r *Rule, now time.Time) ([]condResult, error) {
	if e.opts.Reader == nil {
		return nil, nil
	}
	end := now.Truncate(time.Hour)
	from := end.Add(-r.window)
	q := model.AggregateQuery{Matchers: r.matchers, From: from.UnixMilli(), To: end.UnixMilli() - 1, Step: time.Hour,
		Func: model.AggAvg, Location: e.roster.Location(), IncludeBad: r.Quality == "any"}
	lim, up := r.limit()
	clr := r.clearLevel()
	min := r.MinPoints
	if min < 1 {
		min = 1
	}
	var out []condResult
	err := e.opts.Reader.Aggregate(ctx, q, func(ls model.Labels, pts []model.Point) error {
		sum, n := 0.0, 0
		for _, pt := range pts {
			if pt.T < q.From || pt.T > q.To || math.IsNaN(pt.V) {
				continue
			}
			sum += pt.V
			n++
		}
		if n < min {
			return nil
		}
		v := sum / float64(n)
		c := condResult{labels: append(model.Labels(nil), ls...), value: v, limit: lim}
		if up {
			c.trig, c.clear = v >= lim, v < clr
		} else {
			c.trig, c.clear = v <= lim, v > clr
		}
		out = append(out, c)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("window rule %s: aggregate: %w", r.Name, err)
	}
	if out == nil {
		out = []condResult{}
	}
	return out, nil
}

func (e *Engine) queryPromQL(ctx context.Context, r *Rule, now time.Time) ([]condResult, error) {
	if e.opts.Query == nil {
		return nil, nil
	}
	res, err := e.opts.Query(ctx, r.Expr, now)
	if err != nil {
		return nil, fmt.Errorf("promql rule %s: %w", r.Name, err)
	}
	out := make([]condResult, 0, len(res))
	for _, s := range res {
		out = append(out, condResult{labels: s.Labels, value: s.V, trig: true})
	}
	return out, nil
}

// checkNoData fires no-data alerts for groups silent longer than the rule
// allows. Caller holds mu.
func (e *Engine) checkNoData(p *pending, now time.Time) {
	for _, r := range e.rules {
		if r.Kind != KindNoData || r.Disabled {
			continue
		}
		for gk, sg := range e.lastSeen[r.Name] {
			last := time.UnixMilli(sg.t)
			silent := now.Sub(last)
			key := ruleKey(r, gk)
			if silent < r.nodata {
				continue
			}
			a := e.active[key]
			if a == nil {
				a = e.newAlert(p, r, key, sg.labels, last)
				a.Value, a.Limit = silent.Minutes(), r.nodata.Minutes()
				a.LastValueAt = last
			}
			if a.State == StatePending && silent >= r.nodata+r.forDur {
				e.fire(p, a, r, now, time.Time{})
			}
		}
	}
}

// seedLastSeen asks the reader for the newest sample of every series of
// each no-data rule, so a station already silent at start is noticed.
func (e *Engine) seedLastSeen(ctx context.Context) {
	if e.opts.Reader == nil {
		return
	}
	e.mu.Lock()
	var rules []*Rule
	for _, r := range e.rules {
		if r.Kind == KindNoData && !r.Disabled {
			rules = append(rules, r)
		}
	}
	e.mu.Unlock()
	for _, r := range rules {
		type hit struct {
			g model.Labels
			t int64
		}
		var hits []hit
		err := e.opts.Reader.Latest(ctx, r.matchers, func(ls model.Labels, pt model.Point) error {
			hits = append(hits, hit{g: append(model.Labels(nil), groupLabels(ls, r.GroupBy)...), t: pt.T})
			return nil
		})
		if err != nil {
			e.log.Warn().Err(err).Str("rule", r.Name).Msg("no-data rule: read latest samples")
			continue
		}
		e.mu.Lock()
		m := e.lastSeen[r.Name]
		if m == nil {
			m = map[string]*seenGroup{}
			e.lastSeen[r.Name] = m
		}
		for _, h := range hits {
			gk := h.g.String()
			if sg := m[gk]; sg == nil {
				m[gk] = &seenGroup{t: h.t, labels: h.g}
			} else if h.t > sg.t {
				sg.t = h.t
			}
		}
		e.mu.Unlock()
	}
}

// checkEscalation sends the next escalation step of every firing alert
// whose step delay has passed without acknowledgement. Caller holds mu.
func (e *Engine) checkEscalation(p *pending, now time.Time) {
	for _, a := range e.active {
		if a.State != StateFiring || a.Late || a.Untold {
			continue // held alerts escalate from when they are told
		}
		tm := e.roster.Team(a.Team)
		if tm == nil || a.EscLevel >= len(tm.Escalation) {
			continue
		}
		step := tm.Escalation[a.EscLevel]
		from := a.EscalateFrom
		if from.IsZero() {
			from = a.FiredAt
		}
		if now.Sub(from) < step.after {
			continue
		}
		if e.silenced(a.Labels, now) {
			continue
		}
		to := e.roster.EscalationTargets(a.Team, a.EscLevel, now)
		a.EscLevel++
		p.touch(a)
		mins := int(step.after / time.Minute)
		text := fmt.Sprintf("CHUYỂN CẤP %d: chưa ai nhận xử lý sau %d phút. %s", a.EscLevel, mins, a.Message)
		ev := &Event{AlertID: a.ID, Kind: EventEscalation, Rule: a.Rule, Severity: a.Severity, Level: a.LevelName,
			Text: text, Labels: a.Labels, Value: a.Value, Limit: a.Limit, At: now, Team: a.Team, To: to, SMS: true}
		p.events = append(p.events, ev)
		e.log.Warn().Uint64("alert", a.ID).Int("step", a.EscLevel).Strs("to", to).Msg("alert escalated: not acknowledged in time")
	}
}

// checkHeld tells the officers about alerts that fired during a silence
// and still fire now that it is over; escalation starts from now. Caller
// holds mu.
func (e *Engine) checkHeld(p *pending, now time.Time) {
	for _, a := range e.active {
		if !a.Held || e.silenced(a.Labels, now) {
			continue
		}
		a.Held = false
		p.touch(a)
		if a.State != StateFiring {
			continue
		}
		a.FiredAt = now
		a.EscalateFrom = now
		a.EscLevel = 0
		text := "Sau thời gian tạm dừng cảnh báo, vẫn còn: " + a.Message
		p.events = append(p.events, &Event{AlertID: a.ID, Kind: EventFiring, Rule: a.Rule, Severity: a.Severity, Level: a.LevelName,
			Text: text, Labels: a.Labels, Value: a.Value, Limit: a.Limit, At: now, Team: a.Team, SMS: true})
	}
}

// checkStalePending forgets pending alerts of streaming rules whose series
// stopped reporting before `for` elapsed: the condition can no longer be
// confirmed (a no-data rule covers the silence). Caller holds mu.
func (e *Engine) checkStalePending(p *pending, now time.Time) {
	if e.backlog.Load() > 0 {
		return // old samples still to evaluate: their series are reporting
	}
	for _, a := range e.active {
		if a.State != StatePending {
			continue
		}
		switch a.Kind {
		case KindThreshold, KindLevels, KindRate, KindQuality:
		default:
			continue
		}
		var forDur time.Duration
		if r := e.ruleByName[a.Rule]; r != nil {
			forDur = r.forDur
		}
		if now.Sub(a.LastValueAt) > 2*forDur+10*time.Minute {
			e.drop(p, a)
		}
	}
}

// checkKeepFiring resolves alerts whose condition cleared longer than the
// rule's keep_firing_for ago by the clock, for series that went quiet
// after clearing. Caller holds mu.
func (e *Engine) checkKeepFiring(p *pending, now time.Time) {
	if e.backlog.Load() > 0 {
		return // the condition may return in samples still to evaluate
	}
	for _, a := range e.active {
		if a.ClearSince.IsZero() {
			continue
		}
		r := e.ruleByName[a.Rule]
		if r == nil || now.Sub(a.ClearSince) >= r.keep {
			e.resolve(p, a, r, "", now, time.Time{}, true)
		}
	}
}
