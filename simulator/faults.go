package simulator

import (
	"fmt"
	"sort"
	"sync"
	"time"
)

// FaultKind names a fault the simulator can inject.
type FaultKind string

// Fault kinds. Which transports each applies to is in the comment.
const (
	FaultOffline       FaultKind = "offline"        // all: no answer / nothing published or written
	FaultSlow          FaultKind = "slow"           // modbus: answer after Delay; mqtt, txt: deliver Delay late
	FaultException     FaultKind = "exception"      // modbus: answer with exception Code
	FaultDrop          FaultKind = "drop"           // modbus: close the TCP connection on each request
	FaultStuck         FaultKind = "stuck"          // all: values frozen at the fault's start
	FaultSpike         FaultKind = "spike"          // all: a share of samples multiplied by Factor
	FaultCalibration   FaultKind = "calibration"    // all: status 01
	FaultDeviceError   FaultKind = "device_error"   // all: status 02
	FaultClockSkew     FaultKind = "clock_skew"     // mqtt, txt: timestamps off by Skew
	FaultMalformed     FaultKind = "malformed"      // mqtt: unparseable payloads
	FaultDuplicate     FaultKind = "duplicate"      // mqtt: every message twice; txt: file written twice
	FaultOutOfOrder    FaultKind = "out_of_order"   // mqtt: messages in swapped pairs
	FaultBrokerRestart FaultKind = "broker_restart" // embedded broker down for the fault's duration
	FaultHalfWritten   FaultKind = "half_written"   // txt: written in place in two halves, Delay apart
)

// FaultKinds lists every fault kind.
var FaultKinds = []FaultKind{FaultOffline, FaultSlow, FaultException, FaultDrop, FaultStuck, FaultSpike,
	FaultCalibration, FaultDeviceError, FaultClockSkew, FaultMalformed, FaultDuplicate, FaultOutOfOrder,
	FaultBrokerRestart, FaultHalfWritten}

// Fault is one fault with its parameters. Zero parameters take defaults.
type Fault struct {
	// Station id, or "*" for every station. Empty for broker_restart.
	Station string    `yaml:"station" json:"station"`
	Kind    FaultKind `yaml:"kind" json:"kind"`
	// Delay for slow (default 3s) and half_written (pause between the
	// halves, default 2s).
	Delay time.Duration `yaml:"delay" json:"delay,omitempty"`
	// Code is the Modbus exception code (1-4, 5, 6, 8, 10, 11); default 6
	// (server device busy).
	Code int `yaml:"code" json:"code,omitempty"`
	// Skew for clock_skew (may be negative); default 5m.
	Skew time.Duration `yaml:"skew" json:"skew,omitempty"`
	// Factor for spike; default 5.
	Factor float64 `yaml:"factor" json:"factor,omitempty"`
	// Probability that one sample (spike) or message (malformed,
	// duplicate) is affected; default 0.2 for spike, 1 otherwise.
	Probability float64 `yaml:"probability" json:"probability,omitempty"`
	// Params limits stuck and spike to these parameters; empty: all.
	Params []string `yaml:"params" json:"params,omitempty"`
}

func (f *Fault) validate() error {
	known := false
	for _, k := range FaultKinds {
		if f.Kind == k {
			known = true
		}
	}
	if !known {
		return fmt.Errorf("fault kind %q: want one of %v", f.Kind, FaultKinds)
	}
	if f.Kind != FaultBrokerRestart && f.Station == "" {
		return fmt.Errorf("fault %s: station required (or \"*\")", f.Kind)
	}
	switch f.Code {
	case 0, 1, 2, 3, 4, 5, 6, 8, 10, 11:
	default:
		return fmt.Errorf("fault %s: exception code %d: want 1-6, 8, 10 or 11", f.Kind, f.Code)
	}
	if f.Delay < 0 || f.Factor < 0 || f.Probability < 0 || f.Probability > 1 {
		return fmt.Errorf("fault %s: delay, factor must not be negative, probability in [0, 1]", f.Kind)
	}
	for _, p := range f.Params {
		if _, ok := params[p]; !ok {
			return fmt.Errorf("fault %s: unknown parameter %q", f.Kind, p)
		}
	}
	return nil
}

func (f *Fault) delay() time.Duration {
	if f.Delay > 0 {
		return f.Delay
	}
	if f.Kind == FaultHalfWritten {
		return 2 * time.Second
	}
	return 3 * time.Second
}

func (f *Fault) code() int {
	if f.Code == 0 {
		return 6
	}
	return f.Code
}

func (f *Fault) skew() time.Duration {
	if f.Skew == 0 {
		return 5 * time.Minute
	}
	return f.Skew
}

func (f *Fault) factor() float64 {
	if f.Factor == 0 {
		return 5
	}
	return f.Factor
}

func (f *Fault) probability() float64 {
	if f.Probability > 0 {
		return f.Probability
	}
	if f.Kind == FaultSpike {
		return 0.2
	}
	return 1
}

func (f *Fault) appliesTo(param string) bool {
	if len(f.Params) == 0 {
		return true
	}
	for _, p := range f.Params {
		if p == param {
			return true
		}
	}
	return false
}

// FaultWindow is a fault on the timeline: active from From until To (To
// zero: still active).
type FaultWindow struct {
	ID    int       `json:"id"`
	Fault           // what
	From  time.Time `json:"from"`
	To    time.Time `json:"to,omitzero"`
}

// Active reports whether the window covers t.
func (w *FaultWindow) Active(t time.Time) bool {
	return !t.Before(w.From) && (w.To.IsZero() || t.Before(w.To))
}

// faultBook is the fault timeline. It keeps every window ever opened so that
// past values can be recomputed.
type faultBook struct {
	mu      sync.RWMutex
	next    int
	windows []*FaultWindow
	byKey   map[string][]*FaultWindow // station ("*", "" for broker) → windows
}

func newFaultBook() *faultBook {
	return &faultBook{byKey: map[string][]*FaultWindow{}}
}

// add opens a window and returns it.
func (b *faultBook) add(f Fault, from, to time.Time) *FaultWindow {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.next++
	w := &FaultWindow{ID: b.next, Fault: f, From: from, To: to}
	b.windows = append(b.windows, w)
	b.byKey[f.Station] = append(b.byKey[f.Station], w)
	return w
}

// stop closes at t every open window of station and kind (kind "" = all
// kinds; station "" = any) that is active at t, and returns how many.
func (b *faultBook) stop(station string, kind FaultKind, id int, t time.Time) int {
	b.mu.Lock()
	defer b.mu.Unlock()
	n := 0
	for _, w := range b.windows {
		if id != 0 && w.ID != id {
			continue
		}
		if station != "" && w.Station != station {
			continue
		}
		if kind != "" && w.Kind != kind {
			continue
		}
		if w.To.IsZero() || w.To.After(t) {
			if w.From.After(t) {
				w.To = w.From // never started: empty window
			} else {
				w.To = t
			}
			n++
		}
	}
	return n
}

// active returns the window of kind that covers station at t, or nil
// (the latest opened wins).
func (b *faultBook) active(station string, kind FaultKind, t time.Time) *FaultWindow {
	b.mu.RLock()
	defer b.mu.RUnlock()
	var best *FaultWindow
	for _, key := range [2]string{station, "*"} {
		for _, w := range b.byKey[key] {
			if w.Kind == kind && w.Active(t) && (best == nil || w.ID > best.ID) {
				best = w
			}
		}
	}
	return best
}

// activeFor lists the kinds active on station at t, sorted.
func (b *faultBook) activeFor(station string, t time.Time) []FaultKind {
	b.mu.RLock()
	defer b.mu.RUnlock()
	set := map[FaultKind]bool{}
	for _, key := range [2]string{station, "*"} {
		for _, w := range b.byKey[key] {
			if w.Active(t) {
				set[w.Kind] = true
			}
		}
	}
	out := make([]FaultKind, 0, len(set))
	for k := range set {
		out = append(out, k)
	}
	sort.Slice(out, func(i, j int) bool { return out[i] < out[j] })
	return out
}

// list returns a copy of every window.
func (b *faultBook) list() []FaultWindow {
	b.mu.RLock()
	defer b.mu.RUnlock()
	out := make([]FaultWindow, len(b.windows))
	for i, w := range b.windows {
		out[i] = *w
	}
	return out
}
