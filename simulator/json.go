package simulator

import (
	"encoding/json"
	"fmt"
	"time"
)

// jsonDuration renders a duration as Go text ("5s", "1h30m0s") in JSON and
// reads text or nanoseconds back.
type jsonDuration time.Duration

func (d jsonDuration) MarshalJSON() ([]byte, error) {
	return json.Marshal(time.Duration(d).String())
}

func (d *jsonDuration) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		var n int64
		if err2 := json.Unmarshal(b, &n); err2 != nil {
			return fmt.Errorf("duration %s: want text such as \"5s\"", b)
		}
		*d = jsonDuration(n)
		return nil
	}
	v, err := time.ParseDuration(s)
	if err != nil {
		return fmt.Errorf("duration %q: %w", s, err)
	}
	*d = jsonDuration(v)
	return nil
}

type stationInfoJSON struct {
	stationInfoAlias
	Interval jsonDuration `json:"interval"`
}

type stationInfoAlias StationInfo

// MarshalJSON writes the interval as text.
func (s StationInfo) MarshalJSON() ([]byte, error) {
	return json.Marshal(stationInfoJSON{stationInfoAlias(s), jsonDuration(s.Interval)})
}

// UnmarshalJSON reads what MarshalJSON writes.
func (s *StationInfo) UnmarshalJSON(b []byte) error {
	var v stationInfoJSON
	if err := json.Unmarshal(b, &v); err != nil {
		return err
	}
	*s = StationInfo(v.stationInfoAlias)
	s.Interval = time.Duration(v.Interval)
	return nil
}

type floodJSON struct {
	Start  jsonDuration `json:"start"`
	Rise   jsonDuration `json:"rise"`
	Hold   jsonDuration `json:"hold"`
	Fall   jsonDuration `json:"fall"`
	Peak   float64      `json:"peak"`
	Levels []float64    `json:"levels,omitempty"`
}

// MarshalJSON writes durations as text.
func (f FloodConfig) MarshalJSON() ([]byte, error) {
	return json.Marshal(floodJSON{jsonDuration(f.Start), jsonDuration(f.Rise), jsonDuration(f.Hold), jsonDuration(f.Fall), f.Peak, f.Levels})
}

// UnmarshalJSON reads what MarshalJSON writes.
func (f *FloodConfig) UnmarshalJSON(b []byte) error {
	var v floodJSON
	if err := json.Unmarshal(b, &v); err != nil {
		return err
	}
	*f = FloodConfig{time.Duration(v.Start), time.Duration(v.Rise), time.Duration(v.Hold), time.Duration(v.Fall), v.Peak, v.Levels}
	return nil
}

type faultWindowJSON struct {
	ID          int          `json:"id"`
	Station     string       `json:"station"`
	Kind        FaultKind    `json:"kind"`
	From        time.Time    `json:"from"`
	To          *time.Time   `json:"to,omitempty"`
	Delay       jsonDuration `json:"delay,omitempty"`
	Code        int          `json:"code,omitempty"`
	Skew        jsonDuration `json:"skew,omitempty"`
	Factor      float64      `json:"factor,omitempty"`
	Probability float64      `json:"probability,omitempty"`
	Params      []string     `json:"params,omitempty"`
}

// MarshalJSON writes the window flat, durations as text, no "to" while
// open.
func (w FaultWindow) MarshalJSON() ([]byte, error) {
	v := faultWindowJSON{ID: w.ID, Station: w.Station, Kind: w.Kind, From: w.From, Delay: jsonDuration(w.Delay),
		Code: w.Code, Skew: jsonDuration(w.Skew), Factor: w.Factor, Probability: w.Probability, Params: w.Params}
	if !w.To.IsZero() {
		to := w.To
		v.To = &to
	}
	return json.Marshal(v)
}

// UnmarshalJSON reads what MarshalJSON writes.
func (w *FaultWindow) UnmarshalJSON(b []byte) error {
	var v faultWindowJSON
	if err := json.Unmarshal(b, &v); err != nil {
		return err
	}
	*w = FaultWindow{ID: v.ID, From: v.From, Fault: Fault{Station: v.Station, Kind: v.Kind, Delay: time.Duration(v.Delay),
		Code: v.Code, Skew: time.Duration(v.Skew), Factor: v.Factor, Probability: v.Probability, Params: v.Params}}
	if v.To != nil {
		w.To = *v.To
	}
	return nil
}
