package alerting

import (
	"time"

	"github.com/quantrac/quantrac/model"
)

// Late data. A collector back from an outage sends hours of buffered
// samples at once. The alert state follows them exactly (every transition
// is in the alert's history with its sample time), but what the officers
// get is the truth now, not a replay: changes caused by late samples are
// held, an alert that fired and resolved within late data sends nothing,
// and an alert still firing (or at another level than they were told) when
// its series catches up sends one notification saying since when.

// backlogChunk is how many late samples are evaluated in one step; fresh
// samples that arrive meanwhile go between two steps.
const backlogChunk = 20_000

// backlog holds the samples of series with late data, in arrival order,
// until they are evaluated. Only the evaluation loop uses it.
type backlog struct {
	batches []queuedBatch
	n       int             // samples held
	series  map[string]bool // series (station) with samples held
}

// seriesOf is the key that keeps samples in order: the station, or the
// whole series for samples without one.
func seriesOf(ls model.Labels) string {
	if st := ls.Get(model.LabelStation); st != "" {
		return st
	}
	return "\x00" + ls.String()
}

// split sets aside the samples that are late at now, and every later
// sample of their series, and returns the rest (fresh) to be evaluated
// first. lateAfter < 0: nothing is late.
func (b *backlog) split(q []queuedBatch, now time.Time, lateAfter time.Duration) []queuedBatch {
	if lateAfter < 0 && b.n == 0 {
		return q
	}
	cutoff := now.Add(-lateAfter).UnixMilli()
	held := func(s *model.Sample) bool {
		if lateAfter >= 0 && s.T < cutoff {
			return true
		}
		return len(b.series) > 0 && b.series[seriesOf(s.Labels)]
	}
	fresh := q[:0:0]
	for _, qb := range q {
		mixed := false
		for i := range qb.samples {
			if held(&qb.samples[i]) {
				mixed = true
				break
			}
		}
		if !mixed {
			fresh = append(fresh, qb)
			continue
		}
		var f, l []model.Sample
		for i := range qb.samples {
			s := &qb.samples[i]
			if held(s) {
				if b.series == nil {
					b.series = map[string]bool{}
				}
				b.series[seriesOf(s.Labels)] = true
				l = append(l, *s)
			} else {
				f = append(f, *s)
			}
		}
		if len(f) > 0 {
			fresh = append(fresh, queuedBatch{samples: f, at: qb.at})
		}
		b.batches = append(b.batches, queuedBatch{samples: l, at: qb.at})
		b.n += len(l)
	}
	return fresh
}

// trim drops the oldest held batches while more than max samples are held
// and returns how many samples were dropped.
func (b *backlog) trim(max int) int {
	dropped := 0
	for b.n > max && len(b.batches) > 1 {
		dropped += len(b.batches[0].samples)
		b.n -= len(b.batches[0].samples)
		b.batches[0] = queuedBatch{}
		b.batches = b.batches[1:]
	}
	return dropped
}

// next takes up to max held samples, oldest first.
func (b *backlog) next(max int) []queuedBatch {
	var out []queuedBatch
	n := 0
	for len(b.batches) > 0 && n < max {
		qb := b.batches[0]
		if take := max - n; len(qb.samples) > take {
			out = append(out, queuedBatch{samples: qb.samples[:take], at: qb.at})
			b.batches[0].samples = qb.samples[take:]
			n += take
			break
		}
		out = append(out, qb)
		n += len(qb.samples)
		b.batches[0] = queuedBatch{}
		b.batches = b.batches[1:]
	}
	b.n -= n
	if b.n == 0 {
		b.batches = nil
		b.series = nil
	}
	return out
}

// lateAfter is the age past which r's samples are late (< 0: never).
func (e *Engine) lateAfter(r *Rule) time.Duration {
	if r != nil && r.lateAfter > 0 {
		return r.lateAfter
	}
	return e.opts.LateAfter
}

// isLate reports whether a change caused by the sample of time at is late:
// only streaming evaluation (observed set) sees late samples. Caller holds mu.
func (e *Engine) isLate(r *Rule, at, observed time.Time) bool {
	if observed.IsZero() || e.evalNow.IsZero() {
		return false
	}
	la := e.lateAfter(r)
	return la >= 0 && e.evalNow.Sub(at) > la
}

// hold marks a as changed by late data: its notifications wait for the
// series to catch up. Caller holds mu.
func (e *Engine) hold(p *pending, a *Alert) {
	a.Late = true
	a.lateSeen, a.lateT = e.evalNow, a.LastValueAt.UnixMilli()
	e.setLate(a)
	p.touch(a)
}

// setLate and unsetLate keep the set of late alerts and each rule's count
// of them (so that fresh samples of rules without late alerts cost
// nothing). Caller holds mu.
func (e *Engine) setLate(a *Alert) {
	if e.late[a.Key] == a {
		return
	}
	e.late[a.Key] = a
	if r := e.ruleByName[a.Rule]; r != nil {
		r.lateN++
	}
}

func (e *Engine) unsetLate(a *Alert) {
	a.Late = false
	if e.late[a.Key] != a {
		return
	}
	delete(e.late, a.Key)
	if r := e.ruleByName[a.Rule]; r != nil && r.lateN > 0 {
		r.lateN--
	}
}

// afterSample is called for every sample a streaming rule evaluated: a
// late sample keeps the alert's catch-up waiting, a fresh one means the
// series has caught up. Caller holds mu.
func (e *Engine) afterSample(p *pending, r *Rule, sc *sampleKey, observed time.Time) {
	a := e.late[sc.key(r)]
	if a == nil {
		return
	}
	if e.isLate(r, time.UnixMilli(sc.s.T), observed) && !a.livePace(sc.s.T, e.evalNow) {
		return
	}
	e.catchUp(p, a, r)
}

// livePace records a late sample of a held alert's series and reports
// whether the series now advances at the pace of the clock: sample time
// moved on at most twice as far as the clock since the previous late
// sample. A backlog moves hours of sample time in moments; a datalogger
// whose clock lags behind sends late samples at the pace of the clock and
// will not catch up, so waiting for it would hold its alerts for ever.
func (a *Alert) livePace(t int64, now time.Time) bool {
	prevT, prevNow := a.lateT, a.lateSeen
	if t <= prevT {
		return false // resent or out of order: tells nothing about pace
	}
	a.lateT, a.lateSeen = t, now
	if prevT == 0 || prevNow.IsZero() {
		return false
	}
	return 2*now.Sub(prevNow).Milliseconds() >= t-prevT
}

// checkCaughtUp catches up alerts whose series sent late samples and then
// nothing for LateSettle (the backlog ended, no fresh sample followed).
// Caller holds mu.
func (e *Engine) checkCaughtUp(p *pending, now time.Time) {
	for _, a := range e.late {
		if now.Sub(a.lateSeen) >= e.opts.LateSettle {
			e.catchUp(p, a, e.ruleByName[a.Rule])
		}
	}
}

// catchUp ends the hold on a and sends the one notification that tells
// the officers the state now, when it is news to them: an alert nobody
// was told about, or a level other than the last one notified. Escalation
// counts from now. Caller holds mu.
func (e *Engine) catchUp(p *pending, a *Alert, r *Rule) {
	e.unsetLate(a)
	p.touch(a)
	if !a.active() || a.State == StatePending || r == nil {
		return
	}
	var kind string
	switch {
	case a.Untold:
		kind = EventFiring
	case a.LevelName != a.ToldLevel:
		kind = EventLevelUp
		for i, l := range r.Levels {
			if l.Name == a.ToldLevel && i > a.Level {
				kind = EventLevelDown
			}
		}
	default:
		return // the officers know this state already
	}
	switch kind {
	case EventFiring:
		a.EscLevel = 0 // escalation counts from now
	case EventLevelUp:
		// A worse level needs an owner again, as for fresh data.
		a.State = StateFiring
		a.EscLevel = 0
		a.AckedAt, a.AckBy, a.AckNote = time.Time{}, "", ""
	}
	ev := e.event(p, a, r, kind, a.LastValueAt, time.Time{}, true)
	ev.Late, ev.Since = true, a.ActiveAt
	ev.Text = e.lateText(a) + ev.Text
	a.Message = ev.Text
	e.log.Info().Uint64("alert", a.ID).Str("rule", a.Rule).Str("key", a.Key).Str("event", kind).Str("level", a.LevelName).
		Time("since", a.ActiveAt).Msg("series caught up after late data: alert notified once")
}

// lateText is the head of a catch-up notification: since when the alert
// (and its current level) holds, in the roster's time zone.
func (e *Engine) lateText(a *Alert) string {
	loc := e.roster.Location()
	const layout = "15:04 02/01"
	s := "Dữ liệu truyền bù: cảnh báo từ " + a.ActiveAt.In(loc).Format(layout)
	if a.LevelName != "" && a.LevelAt.After(a.ActiveAt) {
		s += ", " + a.LevelName + " từ " + a.LevelAt.In(loc).Format(layout)
	}
	return s + ". "
}
