package alerting

import (
	"context"
	"fmt"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/quantrac/quantrac/model"
)

func smsTo(msgs []*Message) []string {
	var out []string
	for _, m := range msgs {
		kinds := make([]string, 0, len(m.Events))
		for _, ev := range m.Events {
			kinds = append(kinds, ev.Kind)
		}
		out = append(out, m.Person+":"+strings.Join(kinds, "+"))
	}
	return out
}

func TestEscalationRestartAndAck(t *testing.T) {
	dir := t.TempDir()
	clock := &fakeClock{t: t0}
	h := newHarness(t, dir, "testdata/rules", clock)
	h.observe("water_level_m", "HN-LongBien", "hydrological", 10.0, 0)
	h.settle()
	clock.Add(5 * time.Minute)
	h.eng.Tick(context.Background())
	clock.Add(5 * time.Minute) // +10m: first step
	h.eng.Tick(context.Background())
	h.eng.Tick(context.Background()) // again: nothing new
	h.settle()
	if got := strings.Join(smsTo(h.sms.all()), ","); got != "an:firing,truong-phong:escalation" {
		t.Fatalf("before restart: %s", got)
	}
	if txt := h.sms.all()[1].Text; !strings.HasPrefix(txt, "CHUYỂN CẤP 1: chưa ai nhận xử lý sau 10 phút. Trạm thủy văn Long Biên") {
		t.Fatalf("escalation text %q", txt)
	}
	h.stop()

	// Restart in the middle of the escalation: the next step comes once.
	sms1 := h.sms
	h = newHarness(t, dir, "testdata/rules", clock)
	defer h.stop()
	clock.Add(19 * time.Minute)
	h.eng.Tick(context.Background())
	h.settle()
	if n := len(h.sms.all()); n != 0 {
		t.Fatalf("restart re-sent %v", smsTo(h.sms.all()))
	}
	clock.Add(time.Minute) // +30m
	h.eng.Tick(context.Background())
	h.settle()
	if got := strings.Join(smsTo(h.sms.all()), ","); got != "giam-doc:escalation" {
		t.Fatalf("after restart: %s (before: %v)", got, smsTo(sms1.all()))
	}
	// The director acknowledges by SMS; nothing more escalates.
	h.eng.SMSReply(context.Background(), "0901000006", "ok 1")
	h.eng.SMSReply(context.Background(), "+84999999999", "OK 1") // unknown: ignored
	a, err := h.eng.Alert(1)
	if err != nil || a.State != StateAcknowledged || a.AckBy != "Vũ Thị Giang (SMS)" {
		t.Fatalf("ack: %+v %v", a, err)
	}
	clock.Add(time.Hour)
	h.eng.Tick(context.Background())
	h.settle()
	// Everyone told hears who took it; nothing escalates any more.
	if got := strings.Join(smsTo(h.sms.all()), ","); got != "giam-doc:escalation,an:acknowledged,truong-phong:acknowledged,giam-doc:acknowledged" {
		t.Fatalf("after ack: %s", got)
	}
	if txt := h.sms.all()[1].Text; txt != "Đã ghi nhận: Vũ Thị Giang (SMS) nhận xử lý cảnh báo #1" {
		t.Fatalf("ack text %q", txt)
	}
	// Resolution reaches everyone who was told.
	h.observe("water_level_m", "HN-LongBien", "hydrological", 9.0, 0)
	h.settle()
	got := smsTo(h.sms.all())[4:]
	if strings.Join(got, ",") != "an:resolved,truong-phong:resolved,giam-doc:resolved" {
		t.Fatalf("resolution to %v", got)
	}
}

func TestGroupingAndSilence(t *testing.T) {
	clock := &fakeClock{t: t0}
	h := newHarness(t, t.TempDir(), "testdata/rules", clock)
	defer h.stop()
	if _, err := h.eng.AddSilence(&Silence{Matchers: `{station="HP-S09"}`, End: t0.Add(time.Hour), Author: "an", Comment: "bảo trì"}); err != nil {
		t.Fatal(err)
	}
	var batch []model.Sample
	for i := 0; i < 10; i++ {
		ls := model.New("pm25_ugm3", "station", "HP-S0"+string(rune('0'+i)), "province", "HN", "kind", "air")
		batch = append(batch, model.Sample{Labels: ls, T: t0.UnixMilli(), V: 80})
	}
	h.send(batch)
	h.settle()
	msgs := h.sms.all()
	if len(msgs) != 1 || len(msgs[0].Events) != 9 || msgs[0].Person != "dung" {
		t.Fatalf("want one grouped SMS with 9 events to dung, got %v", smsTo(msgs))
	}
	if !strings.HasPrefix(msgs[0].Text, "9 cảnh báo: ") || len([]rune(msgs[0].Text)) > 320 || !strings.Contains(msgs[0].Text, "cảnh báo khác") {
		t.Fatalf("grouped text %q", msgs[0].Text)
	}
	// "OK" alone acknowledges everything dung was told about.
	h.eng.SMSReply(context.Background(), "+84901000004", "OK")
	firing, _ := h.eng.Alerts(AlertFilter{State: StateFiring})
	acked, _ := h.eng.Alerts(AlertFilter{State: StateAcknowledged})
	if len(firing) != 1 || len(acked) != 9 || !firing[0].Silenced || !firing[0].Held {
		t.Fatalf("firing %d (silenced one expected), acked %d", len(firing), len(acked))
	}
	// The maintenance window ends with the station still over the limit:
	// the officer hears about it then, once.
	clock.Add(61 * time.Minute)
	h.eng.Tick(context.Background())
	h.eng.Tick(context.Background())
	h.settle()
	var held []*Event
	for _, m := range h.sms.all()[1:] {
		for _, ev := range m.Events {
			if ev.Kind != EventAcknowledged {
				held = append(held, ev)
			}
		}
	}
	if len(held) != 1 || !strings.HasPrefix(held[0].Text, "Sau thời gian tạm dừng cảnh báo, vẫn còn: ") || held[0].Labels["station"] != "HP-S09" {
		t.Fatalf("after the silence: %v", smsTo(h.sms.all()))
	}
}

func TestOutboxRetriesUntilGatewayBack(t *testing.T) {
	clock := &fakeClock{t: t0}
	h := newHarness(t, t.TempDir(), "testdata/rules", clock)
	defer h.stop()
	h.sms.setFail(true)
	h.observe("water_level_m", "HN-LongBien", "hydrological", 10.0, 0)
	// The webhook is delivered while the SMS gateway is down.
	deadline := time.Now().Add(5 * time.Second)
	for len(h.hook.all()) == 0 && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	time.Sleep(100 * time.Millisecond)
	msgs, _ := h.eng.OutboxMessages()
	if len(msgs) != 2 || len(h.hook.all()) != 1 {
		t.Fatalf("outbox %d, webhook %d", len(msgs), len(h.hook.all()))
	}
	var smsMsg *OutMsg
	for _, m := range msgs {
		if m.Msg.Receiver == "sms" {
			smsMsg = m
		}
	}
	if smsMsg == nil || smsMsg.Status != OutPending || smsMsg.Attempts < 2 {
		t.Fatalf("sms message while down: %+v", smsMsg)
	}
	h.sms.setFail(false)
	h.settle()
	if n := len(h.sms.all()); n != 1 {
		t.Fatalf("delivered %d times", n)
	}
}

func TestNoData(t *testing.T) {
	clock := &fakeClock{t: t0}
	h := newHarness(t, t.TempDir(), "testdata/rules", clock)
	defer h.stop()
	h.observe("water_level_m", "HN-LongBien", "hydrological", 5, 0)
	h.observe("pm25_ugm3", "HN-LongBien", "hydrological", 5, model.QualityDeviceError)
	h.settle()
	clock.Add(14 * time.Minute)
	h.eng.Tick(context.Background())
	clock.Add(time.Minute)
	h.eng.Tick(context.Background())
	h.eng.Tick(context.Background())
	h.settle()
	got := h.sms.all()
	if len(got) != 1 || !strings.Contains(got[0].Text, "mất dữ liệu từ 02:00 25/11/2026") || got[0].Events[0].Labels["station"] != "HN-LongBien" {
		t.Fatalf("nodata: %v", smsTo(got))
	}
	h.observe("water_level_m", "HN-LongBien", "hydrological", 5, 0)
	h.settle()
	if got := smsTo(h.sms.all()); len(got) != 2 || got[1] != "dung:resolved" {
		t.Fatalf("back online: %v", got)
	}
}

func TestReloadKeepsState(t *testing.T) {
	dir := t.TempDir()
	rules := t.TempDir()
	src, _ := readFile("testdata/rules/flood.yaml")
	writeFile(t, rules+"/r.yaml", src)
	clock := &fakeClock{t: t0}
	h := newHarness(t, dir, rules, clock)
	defer h.stop()
	h.observe("water_level_m", "HN-LongBien", "hydrological", 10.0, 0)
	h.observe("pm25_ugm3", "HN-X", "air", 99, 0)
	h.settle()
	writeFile(t, rules+"/r.yaml", []byte("rules:\n  - name: pm25-high\n    kind: threshold\n    select: pm25_ugm3\n    abov: 50\n"))
	if err := h.eng.Reload(); err == nil || !strings.Contains(err.Error(), "r.yaml:5") {
		t.Fatalf("bad reload: %v", err)
	}
	// Drop the flood rule, keep pm25.
	writeFile(t, rules+"/r.yaml", []byte("rules:\n  - name: pm25-high\n    kind: threshold\n    select: pm25_ugm3\n    above: 50\n    clear: 45\n"))
	if err := h.eng.Reload(); err != nil {
		t.Fatal(err)
	}
	act, _ := h.eng.Alerts(AlertFilter{State: StateFiring})
	if len(act) != 1 || act[0].Rule != "pm25-high" {
		t.Fatalf("after reload: %+v", act)
	}
	h.observe("pm25_ugm3", "HN-X", "air", 98, 0)
	h.settle()
	if got := smsTo(h.sms.all()); len(got) != 2 {
		t.Fatalf("reload re-notified or lost: %v", got)
	}
}

// A crash after an alert fired but before its SMS was built: the event is
// in the store, and the next start sends it, once.
func TestRestartSendsPendingEventsOnce(t *testing.T) {
	dir := t.TempDir()
	clock := &fakeClock{t: t0}
	eng, err := New(Options{DataDir: dir, RulesDir: "testdata/rules", RosterFile: "testdata/oncall.yaml", Clock: clock, Logger: zerolog.Nop()})
	if err != nil {
		t.Fatal(err)
	}
	ls := model.New("water_level_m", "station", "HN-LongBien", "province", "HN", "kind", "hydrological")
	eng.evalBatches([]queuedBatch{{samples: []model.Sample{{Labels: ls, T: t0.UnixMilli(), V: 9.7}}, at: time.Now()}})
	eng.Close() // "crash": Run never flushed
	h := newHarness(t, dir, "testdata/rules", clock)
	defer h.stop()
	h.settle()
	if got := smsTo(h.sms.all()); len(got) != 1 || got[0] != "an:firing" {
		t.Fatalf("after restart: %v", got)
	}
	h.observe("water_level_m", "HN-LongBien", "hydrological", 9.8, 0)
	h.settle()
	if n := len(h.sms.all()); n != 1 {
		t.Fatalf("restart re-notified: %v", smsTo(h.sms.all()))
	}
}

// refuser refuses every message for good.
type refuser struct{ n atomic.Int32 }

func (r *refuser) Notify(ctx context.Context, m *Message) (bool, error) {
	r.n.Add(1)
	return false, fmt.Errorf("invalid destination")
}

func TestOutboxGivesUpOnPermanentErrors(t *testing.T) {
	clock := &fakeClock{t: t0}
	ref := &refuser{}
	eng, err := New(Options{DataDir: t.TempDir(), RulesDir: "testdata/rules", RosterFile: "testdata/oncall.yaml", Clock: clock,
		Logger: zerolog.Nop(), GroupWait: 10 * time.Millisecond, Receivers: []Receiver{{Name: "sms", Notifier: ref, SMS: true}}})
	if err != nil {
		t.Fatal(err)
	}
	h := &harness{t: t, eng: eng, clock: clock, sms: &recorder{}, hook: &recorder{}}
	ctx, cancel := context.WithCancel(context.Background())
	h.cancel, h.done = cancel, make(chan struct{})
	go func() { defer close(h.done); eng.Run(ctx) }()
	defer h.stop()
	h.observe("water_level_m", "HN-LongBien", "hydrological", 10.0, 0)
	h.settle()
	msgs, _ := eng.OutboxMessages()
	if len(msgs) != 1 || msgs[0].Status != OutFailed || msgs[0].Attempts != 1 || ref.n.Load() != 1 || msgs[0].LastError != "invalid destination" {
		t.Fatalf("gave up? %+v (attempts seen %d)", msgs[0], ref.n.Load())
	}
}
