package alerting

import (
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/quantrac/quantrac/model"
)

// hourlyReader answers Aggregate with fixed hourly means per series.
type hourlyReader struct {
	model.Reader
	mu    sync.Mutex
	value float64
	hours int
}

func (r *hourlyReader) set(v float64, hours int) {
	r.mu.Lock()
	r.value, r.hours = v, hours
	r.mu.Unlock()
}

func (r *hourlyReader) Aggregate(ctx context.Context, q model.AggregateQuery, fn model.SeriesFunc) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if q.Step != time.Hour || q.Func != model.AggAvg || q.To-q.From != 24*3600_000-1 {
		return nil
	}
	var pts []model.Point
	for i := 0; i < r.hours; i++ {
		pts = append(pts, model.Point{T: q.From + int64(i)*3600_000, V: r.value})
	}
	return fn(model.New("pm25_ugm3", "station", "HN-HoanKiem", "kind", "air"), pts)
}

func (r *hourlyReader) Latest(ctx context.Context, ms []*model.Matcher, fn func(model.Labels, model.Point) error) error {
	return nil
}

func TestOtherKinds(t *testing.T) {
	clock := &fakeClock{t: t0}
	rd := &hourlyReader{}
	var qmu sync.Mutex
	var qres []model.Sample
	sms := &recorder{}
	eng, err := New(Options{DataDir: t.TempDir(), RulesDir: "testdata/kinds", RosterFile: "testdata/oncall.yaml", Clock: clock,
		Logger: zerolog.Nop(), Interval: time.Hour, GroupWait: 10 * time.Millisecond, Reader: rd,
		Query: func(ctx context.Context, expr string, at time.Time) ([]model.Sample, error) {
			qmu.Lock()
			defer qmu.Unlock()
			return qres, nil
		},
		Receivers: []Receiver{{Name: "sms", Notifier: sms, SMS: true}}})
	if err != nil {
		t.Fatal(err)
	}
	h := &harness{t: t, eng: eng, clock: clock, sms: sms, hook: &recorder{}}
	ctx, cancel := context.WithCancel(context.Background())
	h.cancel, h.done = cancel, make(chan struct{})
	go func() { defer close(h.done); eng.Run(ctx) }()
	defer h.stop()

	// rate: +0.1 m per 10 min = 0.6 m/h.
	for i := 0; i <= 6; i++ {
		h.observe("water_level_m", "HN-LongBien", "hydrological", 8+0.1*float64(i), 0)
		clock.Add(10 * time.Minute)
	}
	h.settle()
	got := sms.all()
	if len(got) != 1 || !strings.Contains(got[0].Text, "thay đổi nhanh 0,6 m/giờ (giới hạn 0,3)") {
		t.Fatalf("rate: %v %q", smsTo(got), got[0].Text)
	}
	for i := 0; i <= 6; i++ { // flat for an hour: resolves
		h.observe("water_level_m", "HN-LongBien", "hydrological", 8.6, 0)
		clock.Add(10 * time.Minute)
	}
	h.settle()
	if got := smsTo(sms.all()); len(got) != 2 || got[1] != "an:resolved" {
		t.Fatalf("rate resolve: %v", got)
	}

	// window: 24 hourly means of 60, but only 12 hours: not enough data.
	rd.set(60, 12)
	clock.Add(time.Minute)
	eng.Tick(ctx)
	h.settle()
	if n := len(sms.all()); n != 2 {
		t.Fatalf("window with 12 of 18 hours fired")
	}
	rd.set(60, 24)
	clock.Add(time.Minute)
	eng.Tick(ctx)
	h.settle()
	got = sms.all()
	if len(got) != 3 || !strings.Contains(got[2].Text, "trung bình 24h 60") {
		t.Fatalf("window: %v %q", smsTo(got), got[len(got)-1].Text)
	}
	rd.set(44, 24)
	clock.Add(30 * time.Second) // not due yet (every 1m)
	eng.Tick(ctx)
	clock.Add(30 * time.Second)
	eng.Tick(ctx)
	h.settle()
	if got := smsTo(sms.all()); len(got) != 4 || got[3] != "dung:resolved" {
		t.Fatalf("window resolve: %v", got)
	}

	// quality: device error for 5 minutes fires; a good sample resolves.
	h.observe("do_mgl", "HN-ToLich", "water", 3, model.QualityDeviceError)
	clock.Add(5 * time.Minute)
	h.observe("do_mgl", "HN-ToLich", "water", 3, model.QualityDeviceError)
	h.settle()
	got = sms.all()
	if len(got) != 5 || !strings.Contains(got[4].Text, "HN-ToLich: thiết bị đo DO báo lỗi") {
		t.Fatalf("quality: %v", smsTo(got))
	}
	h.observe("do_mgl", "HN-ToLich", "water", 3, 0)
	h.settle()
	if n := len(sms.all()); n != 6 {
		t.Fatalf("quality resolve: %v", smsTo(sms.all()))
	}

	// promql: a series in the result fires; gone from it, resolves.
	qmu.Lock()
	qres = []model.Sample{{Labels: model.New("", "station", "HN-Lang"), V: 320}}
	qmu.Unlock()
	clock.Add(time.Minute)
	eng.Tick(ctx)
	h.settle()
	got = sms.all()
	if len(got) != 7 || !strings.Contains(got[6].Text, "Cảnh báo expr tại HN-Lang: giá trị 320") {
		t.Fatalf("promql: %v %q", smsTo(got), got[len(got)-1].Text)
	}
	qmu.Lock()
	qres = nil
	qmu.Unlock()
	clock.Add(time.Minute)
	eng.Tick(ctx)
	h.settle()
	if n := len(sms.all()); n != 8 {
		t.Fatalf("promql resolve: %v", smsTo(sms.all()))
	}
}

func TestWriteMetrics(t *testing.T) {
	clock := &fakeClock{t: t0}
	h := newHarness(t, t.TempDir(), "testdata/rules", clock)
	defer h.stop()
	h.observe("water_level_m", "HN-LongBien", "hydrological", 10, 0)
	h.settle()
	var b strings.Builder
	h.eng.WriteMetrics(&b)
	for _, want := range []string{`quantrac_alerting_alerts{state="firing"} 1`, `quantrac_alerting_notifications_sent_total{receiver="sms"} 1`, "quantrac_alerting_rules 4", `quantrac_alerting_outbox_pending{receiver="ioc"} 0`} {
		if !strings.Contains(b.String(), want) {
			t.Fatalf("metrics lack %q:\n%s", want, b.String())
		}
	}
}

// A sensor that spikes on and off gives one SMS with keep_firing_for, and
// the resolution comes once it has been quiet that long.
func TestKeepFiringFor(t *testing.T) {
	clock := &fakeClock{t: t0}
	h := newHarness(t, t.TempDir(), "testdata/rules", clock)
	defer h.stop()
	for i := 0; i < 12; i++ {
		v := 40.0
		if i%3 == 0 {
			v = 200
		}
		h.observe("pm10_ugm3", "HP-Spiky", "air", v, 0)
		clock.Add(3 * time.Minute)
	}
	h.settle()
	if got := smsTo(h.sms.all()); len(got) != 1 || got[0] != "dung:firing" {
		t.Fatalf("spiky sensor: %v", got)
	}
	// Quiet samples for 10 minutes resolve it.
	for i := 0; i < 5; i++ {
		h.observe("pm10_ugm3", "HP-Spiky", "air", 40, 0)
		clock.Add(3 * time.Minute)
	}
	h.settle()
	if got := smsTo(h.sms.all()); len(got) != 2 || got[1] != "dung:resolved" {
		t.Fatalf("after quiet: %v", got)
	}
	// Cleared, then silent: the clock resolves it.
	h.observe("pm10_ugm3", "HP-Quiet", "air", 200, 0)
	h.observe("pm10_ugm3", "HP-Quiet", "air", 10, 0)
	h.settle()
	clock.Add(11 * time.Minute)
	h.eng.Tick(context.Background())
	h.settle()
	if got := smsTo(h.sms.all()); len(got) != 4 || got[3] != "dung:resolved" {
		t.Fatalf("silent after clearing: %v", got)
	}
}
