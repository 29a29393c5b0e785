package sms

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"sync"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/quantrac/quantrac/alerting"
	"github.com/quantrac/quantrac/model"
)

// timing wraps the SMPP sender and notes, for each message, the moment the
// SMSC receives its first submit_sm.
type timing struct {
	*Sender
	mu      sync.Mutex
	current *alerting.Message
	first   map[string]time.Time
	msgs    map[string]*alerting.Message
}

func (t *timing) Notify(ctx context.Context, m *alerting.Message) (bool, error) {
	t.mu.Lock()
	t.current = m
	t.msgs[m.ID] = m
	t.mu.Unlock()
	return t.Sender.Notify(ctx, m)
}

func (t *timing) onSubmit(submit) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.current != nil {
		if _, ok := t.first[t.current.ID]; !ok {
			t.first[t.current.ID] = time.Now()
		}
	}
}

// BenchmarkSampleToSubmitLatency feeds 100,000 samples/s (1,000 stations,
// batches of 1,000 every 10 ms) through Observe while one station a tick
// crosses a PM2.5 limit and falls back, and measures the time from Observe
// of the crossing sample to the first submit_sm at the SMSC. Each b.N is
// one second of load.
func BenchmarkSampleToSubmitLatency(b *testing.B) {
	for _, gw := range []time.Duration{200 * time.Millisecond, 50 * time.Millisecond} {
		b.Run("groupwait="+gw.String(), func(b *testing.B) { benchLatency(b, gw) })
	}
}

func benchLatency(b *testing.B, groupWait time.Duration) {
	sc := newSMSC(b)
	sc.noDLR = true
	snd, err := New(Config{Addr: sc.srv.Addr(), User: "client", Password: "secret", Source: "QUANTRAC", BindInterval: 50 * time.Millisecond}, zerolog.Nop())
	if err != nil {
		b.Fatal(err)
	}
	snd.Start(context.Background())
	defer snd.Close()
	for !snd.Bound() {
		time.Sleep(time.Millisecond)
	}
	tm := &timing{Sender: snd, first: map[string]time.Time{}, msgs: map[string]*alerting.Message{}}
	sc.onSub = tm.onSubmit
	rules := b.TempDir()
	os.WriteFile(filepath.Join(rules, "r.yaml"), []byte("rules:\n  - {name: pm25, kind: threshold, select: pm25_ugm3, above: 100, clear: 80}\n"), 0o644)
	eng, err := alerting.New(alerting.Options{DataDir: b.TempDir(), RulesDir: rules, RosterFile: "../testdata/oncall.yaml",
		Logger: zerolog.Nop(), GroupWait: groupWait, Receivers: []alerting.Receiver{{Name: "smpp", Notifier: tm, SMS: true}}})
	if err != nil {
		b.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); eng.Run(ctx) }()
	defer func() { cancel(); <-done; eng.Close() }()

	const stations, perTick = 1000, 1000
	labels := make([]model.Labels, stations)
	for i := range labels {
		labels[i] = model.New("pm25_ugm3", "station", fmt.Sprintf("HN-%04d", i), "province", "HN", "kind", "air")
	}
	batch := make([]model.Sample, perTick)
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	sent := 0
	b.ResetTimer()
	start := time.Now()
	for n := 0; n < b.N*100; n++ {
		<-tick.C
		now := time.Now()
		hot := n % stations // this station crosses now, and falls back next tick
		for j := range batch {
			v := 40.0
			if j == hot {
				v = 150
			}
			batch[j] = model.Sample{Labels: labels[j], T: now.UnixMilli(), V: v}
		}
		eng.Observe(ctx, batch)
		sent += len(batch)
	}
	rate := float64(sent) / time.Since(start).Seconds()
	time.Sleep(time.Second) // let the last group go out
	b.StopTimer()

	tm.mu.Lock()
	var lat []time.Duration
	for id, at := range tm.first {
		for _, ev := range tm.msgs[id].Events {
			if ev.Kind == alerting.EventFiring && !ev.ObservedAt.IsZero() {
				lat = append(lat, at.Sub(ev.ObservedAt))
			}
		}
	}
	tm.mu.Unlock()
	if len(lat) == 0 {
		b.Fatal("no alert reached the SMSC")
	}
	sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
	pct := func(p float64) float64 { return float64(lat[int(p*float64(len(lat)-1))].Microseconds()) / 1000 }
	b.ReportMetric(rate, "samples/s")
	b.ReportMetric(float64(len(lat)), "alerts")
	b.ReportMetric(pct(0.5), "p50-ms")
	b.ReportMetric(pct(0.99), "p99-ms")
	b.ReportMetric(float64(eng.Dropped()), "dropped")
}
