package api

import (
	"context"
	"sort"
	"strconv"
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/quantrac/quantrac/model"
)

// parseMatch parses the native match parameter (a series selector).
func parseMatch(c *fiber.Ctx, required bool) ([]*model.Matcher, error) {
	m := c.Query("match")
	if m == "" {
		if required {
			return nil, badRequest("match: parameter is required (a series selector such as pm25_ugm3{station=\"HN-01\"})")
		}
		return nil, nil
	}
	ms, err := model.ParseSelector(m)
	if err != nil {
		return nil, badRequest("match: %v", err)
	}
	for _, x := range ms {
		if !x.Matches("") {
			return ms, nil
		}
	}
	return nil, badRequest("match %q: a selector needs at least one matcher that does not match the empty string", m)
}

func parseQuality(s string) (bool, error) {
	switch s {
	case "", "good":
		return false, nil
	case "all":
		return true, nil
	}
	return false, badRequest("quality %q: want good or all", s)
}

// seriesQuery is a parsed native range query.
type seriesQuery struct {
	ms         []*model.Matcher
	from, to   int64
	step       time.Duration
	agg        model.AggFunc
	loc        *time.Location
	includeBad bool
}

// parseSeriesQuery reads match/from/to/step/agg/tz/quality.
// Raw ranges are capped by limits.max_raw_range unless streamed (CSV).
func (s *Server) parseSeriesQuery(c *fiber.Ctx, ms []*model.Matcher, streamed bool) (seriesQuery, error) {
	q := seriesQuery{ms: scopeMatchers(principalOf(c), ms)}
	var err error
	if q.loc, err = s.loadTZ(c.Query("tz")); err != nil {
		return q, err
	}
	if q.from, q.to, err = timeRange(c.Query("from"), c.Query("to"), q.loc, 24*time.Hour, time.Now()); err != nil {
		return q, err
	}
	if q.includeBad, err = parseQuality(c.Query("quality")); err != nil {
		return q, err
	}
	if st := c.Query("step"); st != "" && st != "raw" {
		if q.step, err = parseStep(st); err != nil {
			return q, badRequest("step: %v", err)
		}
		if q.step < time.Second {
			return q, badRequest("step %s: the smallest step is 1s", q.step)
		}
		if n := (q.to - q.from) / q.step.Milliseconds(); n > int64(s.cfg.Limits.MaxPoints) {
			return q, badRequest("range/step gives %d buckets per series; the limit is %d (limits.max_points): use a larger step or a shorter range", n, s.cfg.Limits.MaxPoints)
		}
		q.agg = model.AggAvg
		if a := c.Query("agg"); a != "" {
			if q.agg, err = model.ParseAggFunc(a); err != nil {
				return q, badRequest("agg: %v", err)
			}
		}
	} else {
		if c.Query("agg") != "" {
			return q, badRequest("agg needs step (for example step=1h&agg=avg)")
		}
		if !streamed && time.Duration(q.to-q.from)*time.Millisecond > s.cfg.Limits.MaxRawRange {
			return q, badRequest("range of %s is longer than %s for raw points (limits.max_raw_range): pass step and agg", time.Duration(q.to-q.from)*time.Millisecond, s.cfg.Limits.MaxRawRange)
		}
	}
	return q, nil
}

// run executes the query, raw or aggregated.
func (s *Server) runSeriesQuery(ctx context.Context, q seriesQuery, fn model.SeriesFunc) error {
	if q.step > 0 {
		return s.store.Aggregate(ctx, model.AggregateQuery{
			Matchers: q.ms, From: q.from, To: q.to, Step: q.step, Func: q.agg, Location: q.loc, IncludeBad: q.includeBad,
		}, fn)
	}
	return s.store.Select(ctx, model.SelectQuery{Matchers: q.ms, From: q.from, To: q.to, IncludeBad: q.includeBad}, fn)
}

func appendLabelsJSON(b []byte, ls model.Labels) []byte {
	b = append(b, '{')
	for i, l := range ls {
		if i > 0 {
			b = append(b, ',')
		}
		b = appendJSONString(b, l.Name)
		b = append(b, ':')
		b = appendJSONString(b, l.Value)
	}
	return append(b, '}')
}

func appendNumber(b []byte, v float64) []byte {
	return strconv.AppendFloat(b, v, 'g', -1, 64)
}

// handleSeries is GET /api/v1/series: the native range query, or the
// Prometheus series metadata query when match[] is given.
func (s *Server) handleSeries(c *fiber.Ctx) error {
	if c.Context().QueryArgs().Has("match[]") {
		return s.prom.handleSeries(c)
	}
	if err := checkParams(c, "match", "from", "to", "step", "agg", "tz", "quality"); err != nil {
		return err
	}
	ms, err := parseMatch(c, true)
	if err != nil {
		return err
	}
	q, err := s.parseSeriesQuery(c, ms, false)
	if err != nil {
		return err
	}
	b := make([]byte, 0, 4096)
	b = append(b, `{"series":[`...)
	n, points := 0, 0
	err = s.runSeriesQuery(c.UserContext(), q, func(ls model.Labels, pts []model.Point) error {
		points += len(pts)
		if points > s.cfg.Limits.MaxPoints {
			return badRequest("more than %d points (limits.max_points): use step and agg or a shorter range", s.cfg.Limits.MaxPoints)
		}
		if n > 0 {
			b = append(b, ',')
		}
		n++
		b = append(b, `{"labels":`...)
		b = appendLabelsJSON(b, ls)
		b = append(b, `,"points":[`...)
		for i, p := range pts {
			if i > 0 {
				b = append(b, ',')
			}
			b = append(b, '[')
			b = strconv.AppendInt(b, p.T, 10)
			b = append(b, ',')
			b = appendNumber(b, p.V)
			if q.includeBad && q.step == 0 {
				b = append(b, ',')
				b = appendJSONString(b, p.Q.String())
			}
			b = append(b, ']')
		}
		b = append(b, "]}"...)
		return nil
	})
	if err != nil {
		return err
	}
	b = append(b, "]}"...)
	c.Set(fiber.HeaderContentType, fiber.MIMEApplicationJSONCharsetUTF8)
	return c.Send(b)
}

// handleLatest is GET /api/v1/latest?match=: the newest sample of each series.
func (s *Server) handleLatest(c *fiber.Ctx) error {
	if err := checkParams(c, "match"); err != nil {
		return err
	}
	ms, err := parseMatch(c, true)
	if err != nil {
		return err
	}
	ms = scopeMatchers(principalOf(c), ms)
	now := time.Now().UnixMilli()
	b := []byte(`{"series":[`)
	n := 0
	err = s.store.Latest(c.UserContext(), ms, func(ls model.Labels, p model.Point) error {
		if n > 0 {
			b = append(b, ',')
		}
		n++
		b = append(b, `{"labels":`...)
		b = appendLabelsJSON(b, ls)
		b = append(b, `,"t":`...)
		b = strconv.AppendInt(b, p.T, 10)
		b = append(b, `,"v":`...)
		b = appendNumber(b, p.V)
		b = append(b, `,"q":`...)
		b = appendJSONString(b, p.Q.String())
		b = append(b, `,"age_s":`...)
		b = strconv.AppendInt(b, (now-p.T)/1000, 10)
		b = append(b, '}')
		return nil
	})
	if err != nil {
		return err
	}
	b = append(b, "]}"...)
	c.Set(fiber.HeaderContentType, fiber.MIMEApplicationJSONCharsetUTF8)
	return c.Send(b)
}

// stationValue is a current reading in the stations answer.
type stationValue struct {
	T int64   `json:"t"`
	V float64 `json:"v"`
	Q string  `json:"q"`
}

// stationView is one entry of GET /api/v1/stations.
type stationView struct {
	ID         string                  `json:"id"`
	Name       string                  `json:"name"`
	Kind       string                  `json:"kind"`
	Province   string                  `json:"province"`
	Lat        float64                 `json:"lat"`
	Lon        float64                 `json:"lon"`
	Parameters []string                `json:"parameters,omitempty"`
	Status     string                  `json:"status"`
	LastSeen   int64                   `json:"last_seen"`
	AgeSeconds int64                   `json:"age_s"`
	Values     map[string]stationValue `json:"values"`
	Known      bool                    `json:"registered"`
}

// Station statuses.
const (
	StatusOnline  = "online"
	StatusStale   = "stale"
	StatusFault   = "fault"
	StatusOffline = "offline"
)

// stationStatus decides a station's status from its newest readings:
// offline past offline_after (or never seen), fault when a fresh reading
// reports device error (status 02), stale past stale_after, else online.
func (s *Server) stationStatus(now int64, v *stationView) string {
	if v.LastSeen == 0 {
		return StatusOffline
	}
	age := time.Duration(now-v.LastSeen) * time.Millisecond
	if age > s.cfg.Stations.OfflineAfter {
		return StatusOffline
	}
	for _, val := range v.Values {
		if q, err := model.ParseQuality(val.Q); err == nil && q.Status() == model.QualityDeviceError &&
			time.Duration(now-val.T)*time.Millisecond <= s.cfg.Stations.StaleAfter {
			return StatusFault
		}
	}
	if age > s.cfg.Stations.StaleAfter {
		return StatusStale
	}
	return StatusOnline
}

// handleStations is GET /api/v1/stations[?province=&kind=&status=].
func (s *Server) handleStations(c *fiber.Ctx) error {
	if err := checkParams(c, "province", "kind", "status"); err != nil {
		return err
	}
	p := principalOf(c)
	province, kind, status := c.Query("province"), c.Query("kind"), c.Query("status")
	switch status {
	case "", StatusOnline, StatusStale, StatusFault, StatusOffline:
	default:
		return badRequest("status %q: want online, stale, fault or offline", status)
	}
	switch kind {
	case "", model.KindAir, model.KindHydrological, model.KindWeather:
	default:
		return badRequest("kind %q: want hydrological, air or weather", kind)
	}
	views := map[string]*stationView{}
	for _, st := range s.stations.List() {
		views[st.ID] = &stationView{ID: st.ID, Name: st.Name, Kind: st.Kind, Province: st.Province, Lat: st.Lat, Lon: st.Lon,
			Parameters: st.Parameters, Values: map[string]stationValue{}, Known: true}
	}
	ms := []*model.Matcher{model.MustMatcher(model.MatchNotEqual, model.LabelStation, "")}
	if province != "" {
		ms = append(ms, model.MustMatcher(model.MatchEqual, model.LabelProvince, province))
	}
	ms = scopeMatchers(p, ms)
	err := s.store.Latest(c.UserContext(), ms, func(ls model.Labels, pt model.Point) error {
		id := ls.Get(model.LabelStation)
		v := views[id]
		if v == nil {
			v = &stationView{ID: id, Name: id, Kind: ls.Get(model.LabelKind), Province: ls.Get(model.LabelProvince), Values: map[string]stationValue{}}
			views[id] = v
		}
		name := ls.Metric()
		if old, ok := v.Values[name]; ok && old.T >= pt.T {
			return nil
		}
		v.Values[name] = stationValue{T: pt.T, V: pt.V, Q: pt.Q.String()}
		if pt.T > v.LastSeen {
			v.LastSeen = pt.T
		}
		return nil
	})
	if err != nil {
		return err
	}
	now := time.Now().UnixMilli()
	out := make([]*stationView, 0, len(views))
	for _, v := range views {
		if p.Province != "" && v.Province != p.Province {
			continue
		}
		if province != "" && v.Province != province {
			continue
		}
		if kind != "" && v.Kind != kind {
			continue
		}
		v.Status = s.stationStatus(now, v)
		if v.LastSeen > 0 {
			v.AgeSeconds = (now - v.LastSeen) / 1000
		}
		if status != "" && v.Status != status {
			continue
		}
		out = append(out, v)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return c.JSON(out)
}
