package sms

import (
	"context"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/quantrac/quantrac/alerting"
	"github.com/quantrac/quantrac/model"
)

type fixedClock struct{ t time.Time }

func (c fixedClock) Now() time.Time { return c.t }

// startEngine runs an alerting engine whose SMS go through snd.
func startEngine(t *testing.T, snd *Sender) *alerting.Engine {
	t.Helper()
	eng, err := alerting.New(alerting.Options{DataDir: t.TempDir(), RulesDir: "../testdata/rules",
		RosterFile: "../testdata/oncall.yaml", Logger: zerolog.Nop(), Interval: time.Hour,
		Clock:     fixedClock{time.Date(2026, 11, 24, 19, 0, 0, 0, time.UTC)},
		GroupWait: 20 * time.Millisecond, RetryBackoff: 20 * time.Millisecond, RetryMax: 100 * time.Millisecond,
		Receivers: []alerting.Receiver{{Name: "smpp", Notifier: snd, SMS: true}}})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); eng.Run(ctx) }()
	t.Cleanup(func() { cancel(); <-done; eng.Close() })
	return eng
}

func level(station string, v float64, t time.Time) []model.Sample {
	return []model.Sample{{Labels: model.New("water_level_m", "station", station, "province", "HN", "kind", "hydrological"), T: t.UnixMilli(), V: v}}
}

func outboxDone(t *testing.T, eng *alerting.Engine, want int) func() bool {
	return func() bool {
		msgs, err := eng.OutboxMessages()
		if err != nil {
			t.Fatal(err)
		}
		n := 0
		for _, m := range msgs {
			if m.Status == alerting.OutSent {
				n++
			}
		}
		return n == want
	}
}

// An SMSC that is down for a while: every alert SMS arrives once when it
// is back, the officer's "OK" reply acknowledges, receipts are recorded.
func TestEngineSMSCDownThenBack(t *testing.T) {
	sc := newSMSC(t)
	px := newProxy(t, sc.srv.Addr())
	snd := startSender(t, px.ln.Addr().String(), Config{})
	eng := startEngine(t, snd)
	px.set(false)
	waitFor(t, "unbind", func() bool { return !snd.Bound() })
	t0 := time.Date(2026, 11, 24, 19, 0, 0, 0, time.UTC)
	// Three floods, noticed one after another: three SMS to the officer on duty.
	for i, v := range []float64{9.6, 10.6, 11.6} {
		eng.Observe(context.Background(), level("HN-LongBien", v, t0.Add(time.Duration(i)*time.Minute)))
		waitFor(t, "message in the outbox", func() bool { msgs, _ := eng.OutboxMessages(); return len(msgs) == i+1 })
	}
	waitFor(t, "failed attempts", func() bool { msgs, _ := eng.OutboxMessages(); return msgs[0].Attempts >= 2 })
	if n := len(sc.submits()); n != 0 {
		t.Fatalf("SMSC down but got %d submits", n)
	}
	msgs, _ := eng.OutboxMessages()
	if len(msgs) != 3 || msgs[0].Attempts < 2 || msgs[0].Status != alerting.OutPending {
		t.Fatalf("outbox while down: %d messages, first %+v", len(msgs), msgs[0])
	}
	px.set(true)
	waitFor(t, "all sent", outboxDone(t, eng, 3))
	got := reassemble(t, sc.submits())["84901000001"]
	if len(got) != 3 {
		t.Fatalf("want 3 SMS once each, got %d: %q", len(got), got)
	}
	for i, w := range []string{"Báo động I", "Báo động II", "Báo động III"} {
		if !strings.Contains(got[i], w+"!") {
			t.Fatalf("SMS %d %q lacks %q", i, got[i], w)
		}
	}
	waitFor(t, "receipts", func() bool {
		msgs, _ := eng.OutboxMessages()
		for _, m := range msgs {
			if m.Delivered != "DELIVRD" {
				return false
			}
		}
		return true
	})
	// The officer replies from his phone; an unknown number is ignored.
	alerts, _ := eng.Alerts(alerting.AlertFilter{State: alerting.StateFiring})
	if len(alerts) != 1 {
		t.Fatalf("firing: %d", len(alerts))
	}
	sc.mo("84999000000", "OK "+strconv.FormatUint(alerts[0].ID, 10))
	sc.mo("84901000001", "OK "+strconv.FormatUint(alerts[0].ID, 10))
	waitFor(t, "ack by SMS", func() bool {
		a, _ := eng.Alert(alerts[0].ID)
		return a.State == alerting.StateAcknowledged && a.AckBy == "Nguyễn Văn An (SMS)"
	})
}

// The SMSC drops the bind in the middle of a three-part SMS: the outbox
// retries after the rebind and the handset gets every part exactly once.
func TestEngineSMSCDropsMidMessage(t *testing.T) {
	sc := newSMSC(t)
	sc.mu.Lock()
	sc.dropAt[2] = true
	sc.mu.Unlock()
	snd := startSender(t, sc.srv.Addr(), Config{})
	eng := startEngine(t, snd)
	// Ten stations at once, grouped into one long SMS for the officer.
	var batch []model.Sample
	t0 := time.Date(2026, 11, 24, 19, 0, 0, 0, time.UTC)
	for i := 0; i < 10; i++ {
		batch = append(batch, level("HN-LongBien", 9.6, t0)...)
		batch[i].Labels = model.New("pm25_ugm3", "station", "HN-A"+strconv.Itoa(i), "province", "HN", "kind", "hydrological")
		batch[i].V = 90
	}
	eng.Observe(context.Background(), batch)
	waitFor(t, "sent", outboxDone(t, eng, 1))
	sc.mu.Lock()
	dropped := sc.dropped
	sc.mu.Unlock()
	if dropped != 1 {
		t.Fatalf("the SMSC should have dropped once, dropped %d", dropped)
	}
	got := reassemble(t, sc.submits()) // fails on a duplicate part
	if len(got) != 1 || len(got["84901000001"]) != 1 || !strings.HasPrefix(got["84901000001"][0], "10 cảnh báo: ") {
		t.Fatalf("got %q", got)
	}
	if n := len(sc.submits()); n < 3 {
		t.Fatalf("a grouped SMS of 10 alerts should take several parts, got %d", n)
	}
}
