package collector

import (
	"sort"
	"strconv"
	"sync"
	"time"

	"github.com/VictoriaMetrics/metrics"
	"github.com/rs/zerolog"

	"github.com/quantrac/quantrac/model"
)

// StationStatus is what /status shows for one station: the integrator's
// "last value / last error" view.
type StationStatus struct {
	ID          string                 `json:"id"`
	Driver      string                 `json:"driver"`
	LastSuccess int64                  `json:"last_success,omitempty"` // unix ms
	LastError   string                 `json:"last_error,omitempty"`
	LastErrorAt int64                  `json:"last_error_at,omitempty"` // unix ms
	LastPollMs  float64                `json:"last_poll_ms,omitempty"`
	Polls       uint64                 `json:"polls"`
	Errors      uint64                 `json:"errors"`
	MissedPolls uint64                 `json:"missed_polls"`
	Values      map[string]ValueStatus `json:"values,omitempty"`
}

// ValueStatus is the last value of one series of a station.
type ValueStatus struct {
	T int64   `json:"t"`
	V float64 `json:"v"`
	Q string  `json:"q"`
}

type stationState struct {
	mu       sync.Mutex
	st       StationStatus
	missed   *metrics.Counter
	errors   *metrics.Counter
	samples  *metrics.Counter
	duration *metrics.Histogram

	// error log rate limit
	lastLogged time.Time
	suppressed int
}

// tracker keeps per-station state and metrics.
type tracker struct {
	set *metrics.Set
	log zerolog.Logger
	// LogEvery is the least time between two error logs of one station.
	logEvery time.Duration

	mu       sync.Mutex
	stations map[string]*stationState
}

func newTracker(set *metrics.Set, log zerolog.Logger) *tracker {
	return &tracker{set: set, log: log, logEvery: time.Minute, stations: map[string]*stationState{}}
}

func (t *tracker) get(id, driver string) *stationState {
	t.mu.Lock()
	defer t.mu.Unlock()
	s := t.stations[id]
	if s != nil {
		if driver != "" {
			s.mu.Lock()
			s.st.Driver = driver
			s.mu.Unlock()
		}
		return s
	}
	s = &stationState{st: StationStatus{ID: id, Driver: driver, Values: map[string]ValueStatus{}}}
	l := `{station=` + strconv.Quote(id) + `}`
	s.missed = t.set.GetOrCreateCounter(`quantrac_collector_missed_polls_total` + l)
	s.errors = t.set.GetOrCreateCounter(`quantrac_collector_errors_total` + l)
	s.samples = t.set.GetOrCreateCounter(`quantrac_collector_samples_total` + l)
	s.duration = t.set.GetOrCreateHistogram(`quantrac_collector_poll_duration_seconds` + l)
	t.set.GetOrCreateGauge(`quantrac_collector_last_success_timestamp_seconds`+l, func() float64 {
		s.mu.Lock()
		defer s.mu.Unlock()
		return float64(s.st.LastSuccess) / 1e3
	})
	t.set.GetOrCreateGauge(`quantrac_collector_last_error_timestamp_seconds`+l, func() float64 {
		s.mu.Lock()
		defer s.mu.Unlock()
		return float64(s.st.LastErrorAt) / 1e3
	})
	t.stations[id] = s
	return s
}

// polled records a poll's duration and outcome.
func (t *tracker) polled(s *stationState, d time.Duration, err error, now time.Time) {
	s.duration.Update(d.Seconds())
	s.mu.Lock()
	s.st.Polls++
	s.st.LastPollMs = float64(d.Microseconds()) / 1e3
	s.mu.Unlock()
	if err != nil {
		t.failed(s, err, now)
	}
}

// failed records an error and logs it, at most once per logEvery per
// station (the count of suppressed repeats goes with the next line).
func (t *tracker) failed(s *stationState, err error, now time.Time) {
	s.errors.Inc()
	s.mu.Lock()
	s.st.Errors++
	s.st.LastError = err.Error()
	s.st.LastErrorAt = now.UnixMilli()
	logIt := now.Sub(s.lastLogged) >= t.logEvery
	suppressed := s.suppressed
	if logIt {
		s.lastLogged = now
		s.suppressed = 0
	} else {
		s.suppressed++
	}
	id := s.st.ID
	s.mu.Unlock()
	if logIt {
		ev := t.log.Warn().Str("station", id).Err(err)
		if suppressed > 0 {
			ev = ev.Int("suppressed_repeats", suppressed)
		}
		ev.Msg("station read failed")
	}
}

func (t *tracker) missed(s *stationState, n int) {
	s.missed.Add(n)
	s.mu.Lock()
	s.st.MissedPolls += uint64(n)
	s.mu.Unlock()
}

// stored records samples that reached the queue.
func (t *tracker) stored(s *stationState, samples []model.Sample, now time.Time) {
	s.samples.Add(len(samples))
	s.mu.Lock()
	defer s.mu.Unlock()
	s.st.LastSuccess = now.UnixMilli()
	for _, x := range samples {
		name := x.Labels.Metric()
		if old, ok := s.st.Values[name]; ok && old.T > x.T {
			continue
		}
		s.st.Values[name] = ValueStatus{T: x.T, V: x.V, Q: x.Q.String()}
	}
}

// retain forgets stations not in keep (after a reload removed them) that
// were configured before; their metrics stay registered until restart.
func (t *tracker) retain(keep map[string]*StationConfig) {
	t.mu.Lock()
	defer t.mu.Unlock()
	for id, s := range t.stations {
		s.mu.Lock()
		configured := s.st.Driver != ""
		s.mu.Unlock()
		if _, ok := keep[id]; !ok && configured {
			delete(t.stations, id)
		}
	}
}

// snapshot returns every station's status, sorted by id.
func (t *tracker) snapshot() []StationStatus {
	t.mu.Lock()
	list := make([]*stationState, 0, len(t.stations))
	for _, s := range t.stations {
		list = append(list, s)
	}
	t.mu.Unlock()
	out := make([]StationStatus, 0, len(list))
	for _, s := range list {
		s.mu.Lock()
		st := s.st
		st.Values = make(map[string]ValueStatus, len(s.st.Values))
		for k, v := range s.st.Values {
			st.Values[k] = v
		}
		s.mu.Unlock()
		out = append(out, st)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out
}
