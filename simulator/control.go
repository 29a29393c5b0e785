package simulator

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// Handler returns the HTTP control endpoint:
//
//	GET  /stations                       stations and where each listens
//	GET  /truth                          current truth of every station
//	GET  /truth?station=ID[&param=P][&t=T]       one station (at time T)
//	GET  /truth?station=ID&param=P&from=T&to=T   every step in a range
//	GET  /faults                         the fault timeline
//	POST /faults                         switch a fault on or off
//	DELETE /faults?station=&kind=&id=    switch faults off
//	GET  /stats                          counters
//
// Times are RFC 3339 or Unix milliseconds.
func (s *Simulator) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /stations", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, s.Stations())
	})
	mux.HandleFunc("GET /truth", s.handleTruth)
	mux.HandleFunc("GET /faults", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, s.Faults())
	})
	mux.HandleFunc("POST /faults", s.handlePostFault)
	mux.HandleFunc("DELETE /faults", func(w http.ResponseWriter, r *http.Request) {
		q := r.URL.Query()
		id, _ := strconv.Atoi(q.Get("id"))
		n := s.StopFault(q.Get("station"), FaultKind(q.Get("kind")), id)
		writeJSON(w, http.StatusOK, map[string]int{"stopped": n})
	})
	mux.HandleFunc("GET /stats", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, s.Stats())
	})
	mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintln(w, "quantrac simulator: GET /stations, GET /truth, GET|POST|DELETE /faults, GET /stats")
	})
	return mux
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	_ = enc.Encode(v)
}

func writeErr(w http.ResponseWriter, code int, err error) {
	writeJSON(w, code, map[string]string{"error": err.Error()})
}

// parseTime reads RFC 3339 or Unix milliseconds.
func parseTime(s string) (time.Time, error) {
	if ms, err := strconv.ParseInt(s, 10, 64); err == nil {
		return time.UnixMilli(ms), nil
	}
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return time.Time{}, fmt.Errorf("time %q: want RFC 3339 or Unix milliseconds", s)
	}
	return t, nil
}

func (s *Simulator) handleTruth(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	id, param := q.Get("station"), q.Get("param")
	at := s.now()
	if v := q.Get("t"); v != "" {
		t, err := parseTime(v)
		if err != nil {
			writeErr(w, http.StatusBadRequest, err)
			return
		}
		at = t
	}
	status := func(err error) int {
		if errors.Is(err, ErrUnknown) {
			return http.StatusNotFound
		}
		return http.StatusBadRequest
	}
	if q.Get("from") != "" || q.Get("to") != "" {
		if id == "" || param == "" {
			writeErr(w, http.StatusBadRequest, errors.New("truth range: station and param required"))
			return
		}
		from, err := parseTime(q.Get("from"))
		if err != nil {
			writeErr(w, http.StatusBadRequest, err)
			return
		}
		to := s.now()
		if v := q.Get("to"); v != "" {
			if to, err = parseTime(v); err != nil {
				writeErr(w, http.StatusBadRequest, err)
				return
			}
		}
		rs, err := s.TruthRange(id, param, from, to, 0)
		if err != nil {
			writeErr(w, status(err), err)
			return
		}
		writeJSON(w, http.StatusOK, rs)
		return
	}
	if id != "" && param != "" {
		rd, err := s.Truth(id, param, at)
		if err != nil {
			writeErr(w, status(err), err)
			return
		}
		writeJSON(w, http.StatusOK, rd)
		return
	}
	ids := []string{id}
	if id == "" {
		ids = ids[:0]
		for _, st := range s.stations {
			ids = append(ids, st.info.ID)
		}
	}
	out := map[string]map[string]Reading{}
	for _, sid := range ids {
		rs, err := s.TruthAll(sid, at)
		if err != nil {
			writeErr(w, status(err), err)
			return
		}
		m := map[string]Reading{}
		for _, rd := range rs {
			m[rd.Param] = rd
		}
		out[sid] = m
	}
	writeJSON(w, http.StatusOK, map[string]any{"t": at.UnixMilli(), "stations": out})
}

// faultRequest is the body of POST /faults. Durations are Go durations
// ("30s", "5m").
type faultRequest struct {
	Station     string   `json:"station"`
	Kind        string   `json:"kind"`
	On          *bool    `json:"on"`  // default true
	For         string   `json:"for"` // how long; empty: until switched off
	Delay       string   `json:"delay"`
	Skew        string   `json:"skew"`
	Code        int      `json:"code"`
	Factor      float64  `json:"factor"`
	Probability float64  `json:"probability"`
	Params      []string `json:"params"`
	ID          int      `json:"id"` // with on=false: the window to stop
}

func (s *Simulator) handlePostFault(w http.ResponseWriter, r *http.Request) {
	var req faultRequest
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, 1<<16))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&req); err != nil {
		writeErr(w, http.StatusBadRequest, fmt.Errorf("fault request: %w", err))
		return
	}
	if req.On != nil && !*req.On {
		n := s.StopFault(req.Station, FaultKind(req.Kind), req.ID)
		writeJSON(w, http.StatusOK, map[string]int{"stopped": n})
		return
	}
	dur := func(name, v string) (time.Duration, error) {
		if v == "" {
			return 0, nil
		}
		d, err := time.ParseDuration(strings.TrimSpace(v))
		if err != nil {
			return 0, fmt.Errorf("fault request: %s %q: %w", name, v, err)
		}
		return d, nil
	}
	f := Fault{Station: req.Station, Kind: FaultKind(req.Kind), Code: req.Code, Factor: req.Factor, Probability: req.Probability, Params: req.Params}
	var d time.Duration
	var err error
	if d, err = dur("for", req.For); err == nil {
		if f.Delay, err = dur("delay", req.Delay); err == nil {
			f.Skew, err = dur("skew", req.Skew)
		}
	}
	if err != nil {
		writeErr(w, http.StatusBadRequest, err)
		return
	}
	win, err := s.AddFault(f, d)
	if err != nil {
		code := http.StatusBadRequest
		if errors.Is(err, ErrUnknown) {
			code = http.StatusNotFound
		}
		writeErr(w, code, err)
		return
	}
	writeJSON(w, http.StatusOK, win)
}
