package alerting

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/quantrac/quantrac/model"
)

// Local times in Ha Noi (UTC+7) for the backlog tests: the station went
// offline at 21:00 on 24/11, came back at 00:00 on 25/11 and sent the
// three hours it had buffered at once.
var (
	hanoi       = time.FixedZone("ICT", 7*3600)
	outageStart = time.Date(2026, 11, 24, 21, 0, 0, 0, hanoi)
	backOnline  = time.Date(2026, 11, 25, 0, 0, 0, 0, hanoi)
)

// levelSamples samples f every 5 minutes in [from, to) for Long Biên.
func levelSamples(from, to time.Time, f func(time.Time) float64) []model.Sample {
	ls := model.New("water_level_m", "station", "HN-LongBien", "province", "HN", "kind", "hydrological")
	var out []model.Sample
	for t := from; t.Before(to); t = t.Add(5 * time.Minute) {
		out = append(out, model.Sample{Labels: ls, T: t.UnixMilli(), V: f(t)})
	}
	return out
}

// ramp rises from 9.0 at 21:00 by 0.1 m per 5 minutes (9.5, level I, at
// 21:25), up to top, then stays there.
func ramp(top float64) func(time.Time) float64 {
	return func(t time.Time) float64 {
		v := 9.0 + 0.1*float64(t.Sub(outageStart)/(5*time.Minute))
		if v > top {
			v = top
		}
		return v
	}
}

func transitions(a *Alert) string {
	var out []string
	for _, tr := range a.History {
		s := tr.Event + ":" + tr.Level + "@" + tr.At.In(hanoi).Format("15:04")
		if tr.Late {
			s += "(late)"
		}
		out = append(out, s)
	}
	return strings.Join(out, ",")
}

// A flood wave that rises to level III and recedes entirely inside a
// three-hour backlog sends nothing; the alert list keeps what happened.
func TestBacklogWaveInsideGapSendsNothing(t *testing.T) {
	clock := &fakeClock{t: backOnline.Add(5 * time.Minute)}
	h := newHarness(t, t.TempDir(), "testdata/rules", clock)
	defer h.stop()
	// 21:00 9.0 → crest 11.7 at 22:30 → back to 9.0 at 00:00.
	wave := func(t time.Time) float64 {
		d := t.Sub(outageStart)
		if d > 90*time.Minute {
			d = 3*time.Hour - d
		}
		return 9.0 + 0.15*float64(d/(5*time.Minute))
	}
	h.send(levelSamples(outageStart, backOnline, wave))
	h.observe("water_level_m", "HN-LongBien", "hydrological", 9.0, 0) // live again
	h.settle()
	clock.Add(5 * time.Minute)
	h.eng.Tick(context.Background())
	h.settle()
	if got := h.sms.all(); len(got) != 0 {
		t.Fatalf("backlog sent SMS %v: %q", smsTo(got), got[0].Text)
	}
	if got := h.hook.all(); len(got) != 0 {
		t.Fatalf("backlog sent webhook calls %v", eventKinds(got))
	}
	alerts, err := h.eng.Alerts(AlertFilter{})
	if err != nil || len(alerts) != 1 {
		t.Fatalf("alerts %+v %v", alerts, err)
	}
	a := alerts[0]
	if a.State != StateResolved || !a.DuringGap || a.ResolveNote == "" || a.Untold || a.Late {
		t.Fatalf("alert %+v", a)
	}
	if !a.FiredAt.Equal(time.Date(2026, 11, 24, 21, 20, 0, 0, hanoi)) || !a.ResolvedAt.Equal(time.Date(2026, 11, 24, 23, 50, 0, 0, hanoi)) {
		t.Fatalf("fired %v resolved %v: want the sample times", a.FiredAt.In(hanoi), a.ResolvedAt.In(hanoi))
	}
	want := "firing:Báo động I@21:20(late),level_up:Báo động II@21:50(late),level_up:Báo động III@22:25(late)," +
		"level_down:Báo động II@22:45(late),level_down:Báo động I@23:15(late),resolved:Báo động I@23:50(late)"
	if got := transitions(a); got != want {
		t.Fatalf("history\n got %s\nwant %s", got, want)
	}
}

// A backlog that ends with the river still above level II sends one SMS
// naming level II and since when, once; escalation counts from that SMS.
func TestBacklogEndingAboveLevelIISendsOne(t *testing.T) {
	clock := &fakeClock{t: backOnline}
	h := newHarness(t, t.TempDir(), "testdata/rules", clock)
	defer h.stop()
	// Level I at 21:25, level II (10.5) at 22:15, then 10.8.
	h.send(levelSamples(outageStart, backOnline.Add(-10*time.Minute), ramp(10.8)))
	h.settle()
	if n := len(h.sms.all()); n != 0 {
		t.Fatalf("SMS before the series caught up: %v", smsTo(h.sms.all()))
	}
	if err := h.eng.Reload(); err != nil { // new rule objects: the hold survives
		t.Fatal(err)
	}
	h.observe("water_level_m", "HN-LongBien", "hydrological", 10.8, 0)
	h.settle()
	clock.Add(time.Minute)
	h.observe("water_level_m", "HN-LongBien", "hydrological", 10.8, 0)
	h.eng.Tick(context.Background())
	h.settle()
	got := h.sms.all()
	if len(got) != 1 || len(got[0].Events) != 1 || got[0].Person != "an" {
		t.Fatalf("want one SMS to an, got %v", smsTo(got))
	}
	ev := got[0].Events[0]
	txt := got[0].Text
	for _, w := range []string{"Báo động II", "từ 21:25 24/11", "Báo động II từ 22:15 24/11", "10,8 m", "OK 1"} {
		if !strings.Contains(txt, w) {
			t.Fatalf("SMS %q lacks %q", txt, w)
		}
	}
	if ev.Kind != EventFiring || !ev.Late || ev.Level != "Báo động II" || !ev.Since.Equal(time.Date(2026, 11, 24, 21, 25, 0, 0, hanoi)) {
		t.Fatalf("event %+v", ev)
	}
	if hk := h.hook.all(); len(hk) != 1 {
		t.Fatalf("webhook calls %v", eventKinds(hk))
	}
	a, err := h.eng.Alert(1)
	if err != nil || a.State != StateFiring || a.Late || a.Untold || !a.FiredAt.Equal(time.Date(2026, 11, 24, 21, 25, 0, 0, hanoi)) {
		t.Fatalf("alert %+v %v", a, err)
	}
	// Escalation: 10 minutes after the SMS, not after 21:25.
	clock.Add(8 * time.Minute)
	h.eng.Tick(context.Background())
	h.settle()
	if n := len(h.sms.all()); n != 1 {
		t.Fatalf("escalated from the sample time: %v", smsTo(h.sms.all()))
	}
	clock.Add(2 * time.Minute)
	h.eng.Tick(context.Background())
	h.settle()
	if got := smsTo(h.sms.all()); strings.Join(got, ",") != "an:firing,truong-phong:escalation" {
		t.Fatalf("escalation: %v", got)
	}
	// The river keeps rising live: level III is notified at once.
	h.observe("water_level_m", "HN-LongBien", "hydrological", 11.6, 0)
	h.settle()
	if got := eventKinds(h.sms.all()[2:]); strings.Join(got, ",") != "level_up:Báo động III" {
		t.Fatalf("live level III: %v", smsTo(h.sms.all()))
	}
}

// A station reporting live while another's backlog is evaluated is not
// held behind it: its samples are evaluated first, even when they came in
// the same batch after the backlog.
func TestFreshSamplesGoBeforeBacklog(t *testing.T) {
	clock := &fakeClock{t: backOnline}
	h := newHarness(t, t.TempDir(), "testdata/rules", clock)
	defer h.stop()
	batch := levelSamples(outageStart, backOnline.Add(-10*time.Minute), ramp(10.8))
	pm := model.New("pm25_ugm3", "station", "HN-HoanKiem", "province", "HN", "kind", "air")
	batch = append(batch, model.Sample{Labels: pm, T: backOnline.UnixMilli(), V: 80})
	// Long Biên's live sample, behind its own backlog in the batch.
	batch = append(batch, model.Sample{Labels: batch[0].Labels, T: backOnline.UnixMilli(), V: 10.8})
	h.send(batch)
	h.settle()
	alerts, err := h.eng.Alerts(AlertFilter{})
	if err != nil || len(alerts) != 2 {
		t.Fatalf("alerts %+v %v", alerts, err)
	}
	// Newest first: the flood alert was created after the PM2.5 one.
	if alerts[1].Rule != "pm25-high" || alerts[0].Rule != "longbien-flood" {
		t.Fatalf("evaluation order: %s (#%d) before %s (#%d)", alerts[1].Rule, alerts[1].ID, alerts[0].Rule, alerts[0].ID)
	}
	got := eventKinds(h.sms.all())
	if strings.Join(got, ",") != "firing:,firing:Báo động II" {
		t.Fatalf("SMS %v", smsTo(h.sms.all()))
	}
	if h.sms.all()[0].Person != "dung" {
		t.Fatalf("first SMS %v", smsTo(h.sms.all()))
	}
}

func TestBacklogSplitKeepsSeriesOrder(t *testing.T) {
	now := backOnline
	a := model.New("water_level_m", "station", "A")
	b := model.New("water_level_m", "station", "B")
	old, fresh := now.Add(-time.Hour).UnixMilli(), now.UnixMilli()
	var bl backlog
	q := []queuedBatch{
		{samples: []model.Sample{{Labels: a, T: old, V: 1}, {Labels: b, T: fresh, V: 2}, {Labels: a, T: fresh, V: 3}}},
		{samples: []model.Sample{{Labels: b, T: fresh, V: 4}}},
		{samples: []model.Sample{{Labels: a, T: fresh, V: 5}}},
	}
	f := bl.split(q, now, 10*time.Minute)
	var fv, lv []float64
	for _, qb := range f {
		for _, s := range qb.samples {
			fv = append(fv, s.V)
		}
	}
	if bl.n != 3 {
		t.Fatalf("held %d", bl.n)
	}
	for bl.n > 0 {
		for _, qb := range bl.next(2) {
			for _, s := range qb.samples {
				lv = append(lv, s.V)
			}
		}
	}
	if len(fv) != 2 || fv[0] != 2 || fv[1] != 4 || len(lv) != 3 || lv[0] != 1 || lv[1] != 3 || lv[2] != 5 {
		t.Fatalf("fresh %v, held %v", fv, lv)
	}
	if bl.series != nil || bl.batches != nil {
		t.Fatal("backlog not reset when empty")
	}
	// Series A is no longer behind a backlog: its fresh samples go first again.
	if f := bl.split([]queuedBatch{{samples: []model.Sample{{Labels: a, T: fresh, V: 6}}}}, now, 10*time.Minute); len(f) != 1 || bl.n != 0 {
		t.Fatalf("fresh after the backlog: %v, held %d", f, bl.n)
	}
	// Negative LateAfter: nothing is late.
	if f := bl.split([]queuedBatch{{samples: []model.Sample{{Labels: a, T: old, V: 7}}}}, now, -1); len(f) != 1 || bl.n != 0 {
		t.Fatal("late with LateAfter < 0")
	}
}

// The engine restarts in the middle of a backlog: what was evaluated is on
// disk, the rest comes after the restart, and the officers get one SMS.
func TestBacklogRestartMidway(t *testing.T) {
	dir := t.TempDir()
	clock := &fakeClock{t: backOnline}
	h := newHarness(t, dir, "testdata/rules", clock)
	all := levelSamples(outageStart, backOnline.Add(-10*time.Minute), ramp(10.8))
	h.send(all[:len(all)/2]) // up to 22:20: level II since 22:15
	h.settle()
	h.stop()
	if n := len(h.sms.all()); n != 0 {
		t.Fatalf("SMS before the restart: %v", smsTo(h.sms.all()))
	}
	h = newHarness(t, dir, "testdata/rules", clock)
	if a, err := h.eng.Alert(1); err != nil || !a.Late || !a.Untold || a.LevelName != "Báo động II" {
		t.Fatalf("after restart: %+v %v", a, err)
	}
	h.send(all[len(all)/2:])
	h.observe("water_level_m", "HN-LongBien", "hydrological", 10.8, 0)
	h.settle()
	h.stop()
	h = newHarness(t, dir, "testdata/rules", clock) // and once more: nothing again
	defer h.stop()
	clock.Add(2 * time.Minute)
	h.observe("water_level_m", "HN-LongBien", "hydrological", 10.8, 0)
	h.eng.Tick(context.Background())
	h.settle()
	msgs, err := h.eng.OutboxMessages()
	if err != nil {
		t.Fatal(err)
	}
	var sms []*Message
	for _, om := range msgs {
		if om.Msg.Receiver == "sms" {
			sms = append(sms, om.Msg)
		}
	}
	if len(sms) != 1 || !strings.Contains(sms[0].Text, "từ 21:25 24/11, Báo động II từ 22:15 24/11") {
		t.Fatalf("SMS over the restarts: %v", smsTo(sms))
	}
	a, _ := h.eng.Alert(1)
	if len(a.History) != 2 || a.History[0].Event != EventFiring || a.History[1].Event != EventLevelUp || !a.History[1].Late {
		t.Fatalf("history %s", transitions(a))
	}
}

// A backlog that ends without a fresh sample (the station went quiet
// again): the alert is told LateSettle after its last late sample, also
// when the engine restarted meanwhile.
func TestBacklogWithoutFreshSample(t *testing.T) {
	dir := t.TempDir()
	clock := &fakeClock{t: backOnline}
	h := newHarness(t, dir, "testdata/rules", clock)
	h.send(levelSamples(outageStart, backOnline.Add(-30*time.Minute), ramp(10.8)))
	h.settle()
	h.stop()
	h = newHarness(t, dir, "testdata/rules", clock)
	defer h.stop()
	clock.Add(30 * time.Second)
	h.eng.Tick(context.Background())
	h.settle()
	if n := len(h.sms.all()); n != 0 {
		t.Fatalf("told before LateSettle: %v", smsTo(h.sms.all()))
	}
	var m strings.Builder
	h.eng.WriteMetrics(&m)
	if !strings.Contains(m.String(), "quantrac_alerting_late_alerts 1\n") {
		t.Fatalf("metrics:\n%s", m.String())
	}
	clock.Add(30 * time.Second)
	h.eng.Tick(context.Background())
	h.eng.Tick(context.Background())
	h.settle()
	if got := eventKinds(h.sms.all()); strings.Join(got, ",") != "firing:Báo động II" {
		t.Fatalf("after LateSettle: %v", smsTo(h.sms.all()))
	}
}

// An alert the officers were told about before the outage: level changes
// inside the backlog are told once, only if the level at the end differs;
// its resolution inside the backlog is told (they knew it was firing).
func TestBacklogOfToldAlert(t *testing.T) {
	clock := &fakeClock{t: outageStart.Add(-10 * time.Minute)}
	h := newHarness(t, t.TempDir(), "testdata/rules", clock)
	defer h.stop()
	h.observe("water_level_m", "HN-LongBien", "hydrological", 9.6, 0) // level I, live
	h.settle()
	h.eng.SMSReply(context.Background(), "+84901000001", "OK 1")
	clock.Set(backOnline)
	// I → II → III → II → I inside the backlog, still level I at the end.
	up := levelSamples(outageStart, outageStart.Add(time.Hour), func(t time.Time) float64 { return 9.6 + 0.2*float64(t.Sub(outageStart)/(5*time.Minute)) })
	down := levelSamples(outageStart.Add(time.Hour), backOnline.Add(-15*time.Minute), func(time.Time) float64 { return 9.6 })
	h.send(append(up, down...))
	h.observe("water_level_m", "HN-LongBien", "hydrological", 9.6, 0)
	h.settle()
	if got := smsTo(h.sms.all()); strings.Join(got, ",") != "an:firing,an:acknowledged" {
		t.Fatalf("level I again after the backlog: %v", got)
	}
	a, _ := h.eng.Alert(1)
	if a.State != StateAcknowledged || a.LevelName != "Báo động I" || a.Late {
		t.Fatalf("alert %+v", a)
	}
	want := "firing:Báo động I@20:50,acknowledged:Báo động I@20:50,level_up:Báo động II@21:25(late)," +
		"level_up:Báo động III@21:50(late),level_down:Báo động I@22:00(late)"
	if got := transitions(a); got != want {
		t.Fatalf("history\n got %s\nwant %s", got, want)
	}
	// Next outage: up to II and staying there: one level_up, escalation restarts.
	clock.Add(2 * time.Hour)
	h.send(levelSamples(backOnline.Add(time.Hour), clock.Now().Add(-15*time.Minute), func(time.Time) float64 { return 10.7 }))
	h.observe("water_level_m", "HN-LongBien", "hydrological", 10.7, 0)
	h.settle()
	got := h.sms.all()
	if k := eventKinds(got[2:]); strings.Join(k, ",") != "level_up:Báo động II" || !strings.HasPrefix(got[2].Text, "Dữ liệu truyền bù: cảnh báo từ 20:50 24/11, Báo động II từ 01:00 25/11") {
		t.Fatalf("level II after the backlog: %v %q", k, got[len(got)-1].Text)
	}
	if a, _ := h.eng.Alert(1); a.State != StateFiring || a.AckBy != "" {
		t.Fatalf("level up kept the acknowledgement: %+v", a)
	}
	// Third outage: the river went down and the alert resolved inside it.
	clock.Add(time.Hour)
	h.send(levelSamples(clock.Now().Add(-50*time.Minute), clock.Now().Add(-15*time.Minute), func(time.Time) float64 { return 9.0 }))
	h.settle()
	if k := eventKinds(h.sms.all()[3:]); strings.Join(k, ",") != "resolved:Báo động II" {
		t.Fatalf("resolution in the backlog: %v", k)
	}
}

func TestRuleLateAfter(t *testing.T) {
	ok := "rules:\n  - {name: a, kind: threshold, select: pm25_ugm3, above: 50, late_after: 2h}\n"
	rs, err := ParseRules("ok.yaml", []byte(ok))
	if err != nil || rs[0].lateAfter != 2*time.Hour {
		t.Fatalf("late_after: %v %v", rs, err)
	}
	bad := "rules:\n  - {name: a, kind: nodata, select: pm25_ugm3, nodata: 10m, late_after: 2h}\n"
	if _, err := ParseRules("bad.yaml", []byte(bad)); err == nil || !strings.Contains(err.Error(), "late_after: not used by kind nodata") {
		t.Fatalf("late_after on nodata: %v", err)
	}
}

// A datalogger whose clock lags 15 minutes sends late samples at the pace
// of the clock: it never catches up, and its alerts are told anyway, at
// the next sample.
func TestLaggingClockIsNotABacklog(t *testing.T) {
	clock := &fakeClock{t: t0}
	h := newHarness(t, t.TempDir(), "testdata/rules", clock)
	defer h.stop()
	for i, v := range []float64{30, 80, 80, 80} {
		h.observeAt("pm25_ugm3", "HN-Lag", "air", clock.Now().Add(-15*time.Minute), v, 0)
		h.settle()
		if n := len(h.sms.all()); (i < 2 && n != 0) || (i >= 2 && n != 1) {
			t.Fatalf("sample %d: SMS %v", i, smsTo(h.sms.all()))
		}
		clock.Add(20 * time.Second)
	}
	if txt := h.sms.all()[0].Text; !strings.HasPrefix(txt, "Dữ liệu truyền bù: cảnh báo từ 01:45 25/11. HN-Lag: PM2.5 80 µg/m³ vượt ngưỡng 50 lúc 01:45 25/11/2026") {
		t.Fatalf("text %q", txt)
	}
}
