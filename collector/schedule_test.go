package collector

import (
	"context"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/quantrac/quantrac/model"
)

func TestPollTolerance(t *testing.T) {
	for _, tc := range []struct{ iv, timeout, want time.Duration }{
		{time.Second, 5 * time.Second, 500 * time.Millisecond},
		{10 * time.Second, 2 * time.Second, 2 * time.Second},
		{time.Second, 0, 500 * time.Millisecond},
	} {
		if got := pollTolerance(tc.iv, tc.timeout); got != tc.want {
			t.Errorf("pollTolerance(%v, %v) = %v, want %v", tc.iv, tc.timeout, got, tc.want)
		}
	}
}

// TestNextPoll drives the slot decision with an injected clock.
func TestNextPoll(t *testing.T) {
	slot := time.Date(2026, 11, 25, 8, 0, 0, 0, time.UTC)
	const iv, tol = time.Second, 500 * time.Millisecond
	ms := func(n int) time.Duration { return time.Duration(n) * time.Millisecond }
	for _, tc := range []struct {
		name    string
		jitter  time.Duration
		now     time.Duration // after slot
		at      time.Duration // after slot
		skipped int
		poll    bool
	}{
		{"early wake waits", 0, ms(-5), 0, 0, false},
		{"on time keeps the slot", 0, 0, 0, 0, true},
		{"a little late keeps the slot", 0, ms(30), 0, 0, true},
		{"late by the tolerance keeps the slot", 0, tol, 0, 0, true},
		{"jitter: on time", ms(300), ms(300), 0, 0, true},
		{"jitter: late within tolerance", ms(300), ms(700), 0, 0, true},
		{"late beyond tolerance waits for the next slot", 0, ms(600), ms(1000), 1, false},
		{"1.7 s pause skips two slots, polls none late", 0, ms(1700), ms(2000), 2, false},
		{"1.5 s pause polls the current slot", 0, ms(1500), ms(1000), 1, true},
		{"1.2 s pause polls the current slot", 0, ms(1200), ms(1000), 1, true},
		{"long stall skips many, one poll", 0, ms(10_100), ms(10_000), 10, true},
		{"jitter: 1.7 s pause", ms(300), ms(2000), ms(2000), 2, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			at, skipped, poll := nextPoll(slot, slot.Add(tc.now), iv, tc.jitter, tol)
			if !at.Equal(slot.Add(tc.at)) || skipped != tc.skipped || poll != tc.poll {
				t.Fatalf("nextPoll(slot+%v) = (slot+%v, %d, %v), want (slot+%v, %d, %v)",
					tc.now, at.Sub(slot), skipped, poll, tc.at, tc.skipped, tc.poll)
			}
		})
	}
}

// fakeClock is real time plus an offset a test can jump, as a paused
// process sees the clock after it continues.
type fakeClock struct {
	mu  sync.Mutex
	off time.Duration
}

func (f *fakeClock) now() time.Time {
	f.mu.Lock()
	defer f.mu.Unlock()
	return time.Now().Add(f.off)
}

func (f *fakeClock) jump(d time.Duration) {
	f.mu.Lock()
	f.off += d
	f.mu.Unlock()
}

// clockPoller records the slot of each poll and, in order with them, the
// moment the clock jumped.
type clockPoller struct {
	clock  *fakeClock
	mu     sync.Mutex
	stamps []time.Time
	jumpAt int       // polls before the jump (-1: not yet)
	jumped time.Time // injected clock right after the jump
}

func (p *clockPoller) Poll(ctx context.Context, at time.Time) ([]model.Sample, error) {
	p.mu.Lock()
	p.stamps = append(p.stamps, at)
	p.mu.Unlock()
	return nil, nil
}

func (p *clockPoller) count() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.stamps)
}

// jump moves the clock by d while the loop waits for its next poll, as a
// process paused by SIGSTOP sees it after SIGCONT.
func (p *clockPoller) jump(d time.Duration) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.clock.jump(d)
	p.jumpAt = len(p.stamps)
	p.jumped = p.clock.now()
}

// TestPollLoopPause runs the real poll loop on an injected clock that
// jumps 1.7 intervals while the loop waits: the stale slots are skipped and
// counted, the first poll after the jump does not stamp a slot it started
// late for, and no polls stack up to catch up.
func TestPollLoopPause(t *testing.T) {
	clock := &fakeClock{}
	dir := t.TempDir()
	path := writeConfig(t, dir, `data_dir: `+filepath.Join(dir, "queue")+`
sink: {type: api, url: "http://127.0.0.1:1"}
stations:
  - {id: HN-Pause, kind: hydrological, province: HN, driver: modbus, modbus: {address: "tcp://127.0.0.1:1", slave_id: 1, map: maps/hydro-float-cdab.yaml, interval: 100ms, timeout: 50ms}}
`)
	cfg, err := LoadConfig(path)
	if err != nil {
		t.Fatal(err)
	}
	st := cfg.Stations[0]
	p := &clockPoller{clock: clock, jumpAt: -1}
	r := startCollector(t, cfg, Options{Logger: testLog(t), Now: clock.now, Drivers: Drivers{
		Modbus: func(*StationConfig, string, zerolog.Logger) (Poller, error) { return p, nil },
	}})
	waitFor(t, "three polls", 10*time.Second, func() bool { return p.count() >= 3 })
	time.Sleep(20 * time.Millisecond) // the loop now waits for the next slot
	p.jump(170 * time.Millisecond)
	waitFor(t, "polls after the pause", 10*time.Second, func() bool { return p.count() >= p.jumpAt+3 })

	p.mu.Lock()
	stamps := append([]time.Time(nil), p.stamps...)
	jumpAt, jumped := p.jumpAt, p.jumped
	p.mu.Unlock()
	for i := 1; i < len(stamps); i++ {
		if d := stamps[i].Sub(stamps[i-1]); d <= 0 || d%st.Modbus.Interval != 0 {
			t.Errorf("poll %d stamped %v after %v: not a later slot", i, stamps[i], stamps[i-1])
		}
	}
	tol := pollTolerance(st.Modbus.Interval, st.Modbus.Timeout)
	first := stamps[jumpAt].Add(st.Modbus.jitterFor(st.ID))
	if first.Before(jumped.Add(-tol)) {
		t.Errorf("first poll after the pause stamped a slot polled %v late (tolerance %v)", jumped.Sub(first), tol)
	}
	var missed uint64
	for _, s := range r.c.Status() {
		if s.ID == st.ID {
			missed = s.MissedPolls
		}
	}
	if missed == 0 {
		t.Error("the pause skipped slots but no missed polls were counted")
	}
}
