package alerting

import (
	"context"
	"fmt"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rs/zerolog"
	bolt "go.etcd.io/bbolt"
	"go.uber.org/goleak"

	"github.com/quantrac/quantrac/model"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *fakeClock) Now() time.Time      { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *fakeClock) Set(t time.Time)     { c.mu.Lock(); c.t = t; c.mu.Unlock() }
func (c *fakeClock) Add(d time.Duration) { c.mu.Lock(); c.t = c.t.Add(d); c.mu.Unlock() }

// recorder is a receiver that keeps what it was given; fail makes it
// refuse (retryably) while set.
type recorder struct {
	mu   sync.Mutex
	msgs []*Message
	fail bool
}

func (r *recorder) Notify(ctx context.Context, m *Message) (bool, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.fail {
		return true, fmt.Errorf("gateway down")
	}
	r.msgs = append(r.msgs, m)
	return false, nil
}

func (r *recorder) all() []*Message {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]*Message(nil), r.msgs...)
}

func (r *recorder) setFail(v bool) { r.mu.Lock(); r.fail = v; r.mu.Unlock() }

type harness struct {
	t      *testing.T
	eng    *Engine
	clock  *fakeClock
	sms    *recorder
	hook   *recorder
	cancel context.CancelFunc
	done   chan struct{}
	dir    string
	rules  string
	sent   int64 // samples given to send
}

// t0 is 2026-11-25 02:00 in Ha Noi (Wednesday: an is on duty for thuy-van).
var t0 = time.Date(2026, 11, 24, 19, 0, 0, 0, time.UTC)

func newHarness(t *testing.T, dir, rulesDir string, clock *fakeClock) *harness {
	t.Helper()
	h := &harness{t: t, clock: clock, sms: &recorder{}, hook: &recorder{}, dir: dir, rules: rulesDir}
	h.start()
	return h
}

func (h *harness) start() {
	h.t.Helper()
	eng, err := New(Options{DataDir: h.dir, RulesDir: h.rules, RosterFile: "testdata/oncall.yaml", Clock: h.clock,
		Logger: zerolog.Nop(), Interval: time.Hour, GroupWait: 20 * time.Millisecond, RetryBackoff: 10 * time.Millisecond,
		RetryMax:  50 * time.Millisecond,
		Receivers: []Receiver{{Name: "sms", Notifier: h.sms, SMS: true}, {Name: "ioc", Notifier: h.hook}}})
	if err != nil {
		h.t.Fatal(err)
	}
	eng.SetStations([]model.Station{{ID: "HN-LongBien", Name: "Trạm thủy văn Long Biên"}})
	h.eng = eng
	h.sent = 0
	ctx, cancel := context.WithCancel(context.Background())
	h.cancel = cancel
	h.done = make(chan struct{})
	go func() { defer close(h.done); eng.Run(ctx) }()
}

func (h *harness) stop() {
	h.cancel()
	<-h.done
	if err := h.eng.Close(); err != nil {
		h.t.Fatal(err)
	}
}

// observe sends one sample stamped with the clock's now and waits until it
// is evaluated, as a live feed is: the test's clock may move on at once.
func (h *harness) observe(metric, station, kind string, v float64, q model.Quality) {
	h.observeAt(metric, station, kind, h.clock.Now(), v, q)
}

func (h *harness) observeAt(metric, station, kind string, at time.Time, v float64, q model.Quality) {
	ls := model.New(metric, "station", station, "province", "HN", "kind", kind)
	h.send([]model.Sample{{Labels: ls, T: at.UnixMilli(), V: v, Q: q}})
}

// send passes samples to Observe and waits until they are evaluated.
func (h *harness) send(batch []model.Sample) {
	h.t.Helper()
	h.sent += int64(len(batch))
	h.eng.Observe(context.Background(), batch)
	for deadline := time.Now().Add(10 * time.Second); h.eng.done.Load()+h.eng.Dropped() < h.sent; time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) {
			h.t.Fatal("samples not evaluated")
		}
	}
}

// settle waits until the engine has evaluated everything queued and the
// outboxes have nothing left.
func (h *harness) settle() {
	h.t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		h.eng.qmu.Lock()
		q := len(h.eng.queue) + int(h.eng.backlog.Load())
		h.eng.qmu.Unlock()
		pend := 0
		msgs, err := h.eng.OutboxMessages()
		if err != nil {
			h.t.Fatal(err)
		}
		for _, m := range msgs {
			if m.Status == OutPending {
				pend++
			}
		}
		var events int
		h.eng.st.db.View(func(tx *bolt.Tx) error { events = tx.Bucket([]byte(bucketEvents)).Stats().KeyN; return nil })
		if q == 0 && pend == 0 && events == 0 {
			time.Sleep(30 * time.Millisecond) // a batch being evaluated right now
			h.eng.mu.Lock()
			h.eng.mu.Unlock()
			h.eng.qmu.Lock()
			q = len(h.eng.queue) + int(h.eng.backlog.Load())
			h.eng.qmu.Unlock()
			h.eng.st.db.View(func(tx *bolt.Tx) error { events = tx.Bucket([]byte(bucketEvents)).Stats().KeyN; return nil })
			if q == 0 && events == 0 {
				time.Sleep(3 * h.eng.opts.GroupWait)
				msgs, _ = h.eng.OutboxMessages()
				pend = 0
				for _, m := range msgs {
					if m.Status == OutPending {
						pend++
					}
				}
				if pend == 0 {
					return
				}
			}
		}
		time.Sleep(5 * time.Millisecond)
	}
	h.t.Fatal("engine did not settle")
}

func eventKinds(msgs []*Message) []string {
	var out []string
	for _, m := range msgs {
		for _, ev := range m.Events {
			out = append(out, ev.Kind+":"+ev.Level)
		}
	}
	return out
}

func TestFloodLevels(t *testing.T) {
	clock := &fakeClock{t: t0}
	h := newHarness(t, t.TempDir(), "testdata/rules", clock)
	defer h.stop()
	levels := []float64{9.0, 9.6, 10.0, 10.6, 11.6, 11.45, 11.2, 10.45, 10.3, 9.45, 9.3, 9.0}
	for _, v := range levels {
		h.observe("water_level_m", "HN-LongBien", "hydrological", v, 0)
		h.settle()
		clock.Add(10 * time.Second)
	}
	got := eventKinds(h.sms.all())
	want := []string{"firing:Báo động I", "level_up:Báo động II", "level_up:Báo động III", "level_down:Báo động II", "level_down:Báo động I", "resolved:Báo động I"}
	if strings.Join(got, ",") != strings.Join(want, ",") {
		t.Fatalf("SMS events:\n got %v\nwant %v", got, want)
	}
	for _, m := range h.sms.all() {
		if m.To != "+84901000001" || m.Person != "an" {
			t.Fatalf("SMS to %s (%s), want an +84901000001", m.To, m.Person)
		}
	}
	first := h.sms.all()[0].Text
	for _, w := range []string{"Trạm thủy văn Long Biên", "Báo động I", "9,6 m", "mốc 9,5", "02:00 25/11/2026", "OK 1"} {
		if !strings.Contains(first, w) {
			t.Fatalf("first SMS %q lacks %q", first, w)
		}
	}
	if got := eventKinds(h.hook.all()); strings.Join(got, ",") != strings.Join(want, ",") {
		t.Fatalf("webhook events: %v", got)
	}
	alerts, err := h.eng.Alerts(AlertFilter{})
	if err != nil || len(alerts) != 1 || alerts[0].State != StateResolved {
		t.Fatalf("alerts: %+v %v", alerts, err)
	}
}

func TestHoveringNoStorm(t *testing.T) {
	clock := &fakeClock{t: t0}
	h := newHarness(t, t.TempDir(), "testdata/rules", clock)
	defer h.stop()
	for i := 0; i < 60; i++ {
		v := 49.0 + float64(i%4) // 49 50 51 52 49 ...: around the limit, never under clear 45
		h.observe("pm25_ugm3", "HN-HoanKiem", "air", v, 0)
		clock.Add(time.Minute)
	}
	// Bad-quality samples under clear do not resolve.
	h.observe("pm25_ugm3", "HN-HoanKiem", "air", 10, model.QualityCalibrating)
	h.settle()
	if got := eventKinds(h.sms.all()); len(got) != 1 || got[0] != "firing:" {
		t.Fatalf("hovering gave %v", got)
	}
	// Level hovering around 9.5 with clear 9.4: one alert.
	for i := 0; i < 40; i++ {
		h.observe("water_level_m", "HN-LongBien", "hydrological", 9.45+0.1*float64(i%2), 0)
		clock.Add(time.Minute)
	}
	h.observe("pm25_ugm3", "HN-HoanKiem", "air", 44, 0)
	h.settle()
	got := eventKinds(h.sms.all())
	if strings.Join(got, ",") != "firing:,firing:Báo động I,resolved:" {
		t.Fatalf("got %v", got)
	}
}

func readFile(p string) ([]byte, error) { return os.ReadFile(p) }

func writeFile(t *testing.T, p string, data []byte) {
	t.Helper()
	if err := os.WriteFile(p, data, 0o644); err != nil {
		t.Fatal(err)
	}
}
