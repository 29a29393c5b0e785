package simulator

import (
	"math"
	"time"

	"github.com/quantrac/quantrac/model"
)

// StationInfo describes a running station and where it can be reached.
type StationInfo struct {
	model.Station
	Transport string        `json:"transport"`
	Interval  time.Duration `json:"interval"`
	Speed     float64       `json:"speed"`
	// Modbus: address tcp://host:port, unit id and register map path.
	Address string `json:"address,omitempty"`
	UnitID  int    `json:"unit_id,omitempty"`
	Map     string `json:"map,omitempty"`
	// MQTT: topic (template for number) and payload format.
	Topic      string `json:"topic,omitempty"`
	Format     string `json:"format,omitempty"`
	TimeFormat string `json:"time_format,omitempty"`
	// TXT: spool directory and facility code.
	Spool    string `json:"spool,omitempty"`
	Facility string `json:"facility,omitempty"`
	// Replay is the Beijing station replayed, if any.
	Replay string       `json:"replay,omitempty"`
	Flood  *FloodConfig `json:"flood,omitempty"`
	// Faults active now.
	Faults []FaultKind `json:"faults,omitempty"`
}

// Reading is the ground truth of one parameter of one station at one time
// step: what the station serves, and why it may serve nothing.
type Reading struct {
	Station string `json:"station"`
	Param   string `json:"param"`
	// T is the start of the time step (wall clock, Unix ms): MQTT and TXT
	// stations stamp their messages with it; a Modbus station serves the
	// value from T until T+interval.
	T int64 `json:"t"`
	// Stamp is the timestamp the station writes when a clock skew fault
	// makes it differ from T.
	Stamp int64 `json:"stamp,omitempty"`
	// OK is false when the station delivers no value for this step.
	OK bool `json:"ok"`
	// V is the value served (after faults and after the transport's
	// encoding); nil when OK is false.
	V *float64 `json:"v,omitempty"`
	// True is the physical value before faults, when it differs from V.
	True *float64 `json:"true,omitempty"`
	// Status is the Circular 10 status sent with it: 00, 01 or 02.
	Status string `json:"status"`
	// Faults active on the station during the step.
	Faults []FaultKind `json:"faults,omitempty"`
	// Reason says why there is no value or why it differs from the truth.
	Reason string `json:"reason,omitempty"`
}

// Quality returns the status as a model.Quality.
func (r Reading) Quality() model.Quality {
	q, _ := model.ParseStatus(r.Status)
	return q
}

// station is the runtime of one station.
type station struct {
	info     StationInfo
	cfg      StationConfig
	clock    Clock
	interval time.Duration
	params   []string
	signals  map[string]Signal
	// quant turns a value into what the transport delivers (Modbus:
	// decode(encode(v))); ok false when it cannot be encoded.
	quant  map[string]func(float64) (float64, bool)
	spikes noiseKey
	faults *faultBook
	// embedded is set for MQTT stations publishing to the embedded broker
	// (the only one a broker_restart fault can stop).
	embedded bool
	// pub is the station's own MQTT connection (station_clients), or nil.
	pub publisher
}

// step returns the index of the time step containing w and its start.
func (s *station) step(w time.Time) (int64, time.Time) {
	iv := int64(s.interval)
	n := w.UnixNano()
	k := n / iv
	if n < 0 && n%iv != 0 {
		k--
	}
	return k, time.Unix(0, k*iv)
}

// raw is the physical value of param at the step starting at t.
func (s *station) raw(param string, t time.Time) (float64, bool) {
	sig := s.signals[param]
	if sig == nil {
		return 0, false
	}
	return sig.At(s.clock.Sim(t))
}

// maxHold bounds how far back a Modbus station looks for the last value it
// had when the current one is missing.
const maxHold = 5000

// reading computes the truth of param at wall time w.
func (s *station) reading(param string, w time.Time) Reading {
	k, t := s.step(w)
	r := Reading{Station: s.info.ID, Param: param, T: t.UnixMilli(), Status: "00"}
	// A Modbus station is read live: faults count at the instant of the
	// read. MQTT and TXT stations send the step at its start.
	ft := t
	if s.info.Transport == TransportModbus {
		ft = w
	}
	r.Faults = s.faults.activeFor(s.info.ID, ft)
	if s.info.Transport == TransportMQTT && s.embedded {
		if bw := s.faults.active("", FaultBrokerRestart, ft); bw != nil {
			r.Faults = append(r.Faults, FaultBrokerRestart)
			r.Reason = "broker down"
			return r
		}
	}
	if s.faults.active(s.info.ID, FaultOffline, ft) != nil {
		r.Reason = "offline"
		return r
	}
	v, ok := s.raw(param, t)
	held := false
	if !ok && s.info.Transport == TransportModbus {
		// A logger keeps serving the last value it had.
		tt := t
		for i := 0; i < maxHold && !ok; i++ {
			tt = tt.Add(-s.interval)
			v, ok = s.raw(param, tt)
		}
		if !ok {
			v, ok = 0, true
		}
		held = true
	}
	if !ok {
		r.Reason = "no data"
		return r
	}
	truth := v
	if fw := s.faults.active(s.info.ID, FaultStuck, ft); fw != nil && fw.appliesTo(param) {
		_, t0 := s.step(fw.From)
		if sv, ok := s.raw(param, t0); ok {
			v = sv
		}
	}
	if fw := s.faults.active(s.info.ID, FaultSpike, ft); fw != nil && fw.appliesTo(param) {
		if s.spikes.unit(k^int64(hashString(param))) < fw.probability() {
			f := fw.factor()
			if math.Abs(v) < 1 {
				v += f * 10
			} else {
				v *= f
			}
			v = round(v, params[param].Decimals)
			r.Reason = "spike"
		}
	}
	if s.faults.active(s.info.ID, FaultCalibration, ft) != nil {
		r.Status = "01"
	}
	if s.faults.active(s.info.ID, FaultDeviceError, ft) != nil {
		r.Status = "02"
	}
	if s.info.Transport == TransportMQTT {
		if fw := s.faults.active(s.info.ID, FaultMalformed, ft); fw != nil && s.spikes.unit(-k) < fw.probability() {
			r.Reason = "malformed payload"
			return r
		}
	}
	if s.info.Transport != TransportModbus {
		if fw := s.faults.active(s.info.ID, FaultClockSkew, ft); fw != nil {
			r.Stamp = t.Add(fw.skew()).UnixMilli()
		}
	}
	if q := s.quant[param]; q != nil {
		qv, ok := q(v)
		if !ok {
			r.Reason = "value does not fit the register"
			return r
		}
		v = qv
		if qt, ok := q(truth); ok {
			truth = qt
		}
	}
	r.OK = true
	r.V = &v
	if truth != v {
		r.True = &truth
	}
	if held && r.Reason == "" {
		r.Reason = "missing value, last value held"
	}
	return r
}

// readings computes the truth of every parameter at w.
func (s *station) readings(w time.Time) []Reading {
	out := make([]Reading, 0, len(s.params))
	for _, p := range s.params {
		out = append(out, s.reading(p, w))
	}
	return out
}

// status returns the status the station reports at w.
func (s *station) status(w time.Time) string {
	t := w
	if s.info.Transport != TransportModbus {
		_, t = s.step(w)
	}
	switch {
	case s.faults.active(s.info.ID, FaultDeviceError, t) != nil:
		return "02"
	case s.faults.active(s.info.ID, FaultCalibration, t) != nil:
		return "01"
	}
	return "00"
}
