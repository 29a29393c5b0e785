package vmstore

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"math"
	"net/url"
	"sort"
	"strconv"
	"time"

	"github.com/quantrac/quantrac/model"
)

// exportLine is one line of /api/v1/export.
type exportLine struct {
	Metric     map[string]string `json:"metric"`
	Values     []float64         `json:"values"`
	Timestamps []int64           `json:"timestamps"`
}

type rawSeries struct {
	ls  model.Labels
	key string
	pts []model.Point
}

// export fetches raw samples of the selector in [from, to] from every tenant.
func (s *Store) export(ctx context.Context, tenants []int, sel string, from, to int64) (map[string]*rawSeries, error) {
	out := map[string]*rawSeries{}
	for _, tenant := range tenants {
		params := url.Values{"match[]": {sel}, "start": {secs(from)}, "end": {secs(to)}}
		body, err := s.get(ctx, s.readURL(tenant, "/api/v1/export"), params)
		if err != nil {
			return nil, err
		}
		sc := bufio.NewScanner(bytes.NewReader(body))
		sc.Buffer(make([]byte, 0, 1<<20), 1<<30)
		for sc.Scan() {
			line := sc.Bytes()
			if len(bytes.TrimSpace(line)) == 0 {
				continue
			}
			var el exportLine
			if err := json.Unmarshal(line, &el); err != nil {
				return nil, fmt.Errorf("victoriametrics export: decode line: %w", err)
			}
			if len(el.Values) != len(el.Timestamps) {
				return nil, fmt.Errorf("victoriametrics export: %d values, %d timestamps", len(el.Values), len(el.Timestamps))
			}
			ls := model.FromMap(el.Metric)
			key := ls.String()
			rs := out[key]
			if rs == nil {
				rs = &rawSeries{ls: ls, key: key}
				out[key] = rs
			}
			for i, t := range el.Timestamps {
				if t < from || t > to {
					continue
				}
				rs.pts = append(rs.pts, model.Point{T: t, V: el.Values[i]})
			}
		}
		if err := sc.Err(); err != nil {
			return nil, fmt.Errorf("victoriametrics export: %w", err)
		}
	}
	for _, rs := range out {
		sortDedup(rs)
	}
	return out, nil
}

// sortDedup orders points by time and keeps the last written per timestamp.
func sortDedup(rs *rawSeries) {
	sort.SliceStable(rs.pts, func(i, j int) bool { return rs.pts[i].T < rs.pts[j].T })
	out := rs.pts[:0]
	for _, p := range rs.pts {
		if len(out) > 0 && out[len(out)-1].T == p.T {
			out[len(out)-1] = p
			continue
		}
		out = append(out, p)
	}
	rs.pts = out
}

// load reads raw points with their quality applied: bad samples are
// dropped unless includeBad, in which case their code is set.
func (s *Store) load(ctx context.Context, ms []*model.Matcher, from, to int64, includeBad bool) ([]*rawSeries, error) {
	if len(ms) == 0 {
		return nil, errEmptySelector
	}
	tenants := s.readTenants(ms)
	data, err := s.export(ctx, tenants, selector(ms), from, to)
	if err != nil {
		return nil, err
	}
	qsel, err := qualitySelector(ms)
	if err != nil {
		return nil, err
	}
	qual, err := s.export(ctx, tenants, qsel, from, to)
	if err != nil {
		return nil, err
	}
	qidx := map[string]map[int64]model.Quality{}
	for _, rs := range qual {
		orig := rs.ls.Get("metric")
		ls := rs.ls.Without(model.MetricName, "metric").With(model.MetricName, orig)
		m := map[int64]model.Quality{}
		for _, p := range rs.pts {
			m[p.T] = model.Quality(p.V)
		}
		qidx[ls.String()] = m
	}
	out := make([]*rawSeries, 0, len(data))
	for key, rs := range data {
		q := qidx[key]
		if len(q) > 0 {
			pts := rs.pts[:0]
			for _, p := range rs.pts {
				p.Q = q[p.T]
				if !p.Q.Good() && !includeBad {
					continue
				}
				pts = append(pts, p)
			}
			rs.pts = pts
		}
		if len(rs.pts) > 0 {
			out = append(out, rs)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ls.Compare(out[j].ls) < 0 })
	return out, nil
}

// Select delivers raw points of matching series in label order.
func (s *Store) Select(ctx context.Context, q model.SelectQuery, fn model.SeriesFunc) error {
	series, err := s.load(ctx, q.Matchers, q.From, q.To, q.IncludeBad)
	if err != nil {
		return err
	}
	for _, rs := range series {
		if err := fn(rs.ls, rs.pts); err != nil {
			return err
		}
	}
	return nil
}

// Aggregate buckets raw points by step, aligned to midnight in q.Location.
func (s *Store) Aggregate(ctx context.Context, q model.AggregateQuery, fn model.SeriesFunc) error {
	if q.Step <= 0 {
		return fmt.Errorf("aggregate: step %s must be positive", q.Step)
	}
	loc := q.Location
	if loc == nil {
		loc = time.UTC
	}
	start := BucketStart(q.From, q.Step, loc)
	end := q.To + q.Step.Milliseconds()
	series, err := s.load(ctx, q.Matchers, start, end, q.IncludeBad)
	if err != nil {
		return err
	}
	for _, rs := range series {
		pts := AggregatePoints(rs.pts, q.Step, loc, q.Func)
		kept := pts[:0]
		for _, p := range pts {
			if p.T >= q.From && p.T <= q.To {
				kept = append(kept, p)
			}
		}
		if len(kept) == 0 {
			continue
		}
		if err := fn(rs.ls, kept); err != nil {
			return err
		}
	}
	return nil
}

// queryVector runs an instant query and returns label key → (labels, value).
func (s *Store) queryVector(ctx context.Context, tenants []int, query string, at time.Time) (map[string]model.Labels, map[string]float64, error) {
	lsOut := map[string]model.Labels{}
	vals := map[string]float64{}
	for _, tenant := range tenants {
		params := url.Values{"query": {query}, "time": {strconv.FormatInt(at.Unix(), 10)}, "nocache": {"1"}}
		body, err := s.get(ctx, s.readURL(tenant, "/api/v1/query"), params)
		if err != nil {
			return nil, nil, err
		}
		var ans struct {
			Status string `json:"status"`
			Data   struct {
				Result []struct {
					Metric map[string]string `json:"metric"`
					Value  [2]any            `json:"value"`
				} `json:"result"`
			} `json:"data"`
		}
		if err := json.Unmarshal(body, &ans); err != nil {
			return nil, nil, fmt.Errorf("victoriametrics query %q: decode: %w", query, err)
		}
		for _, r := range ans.Data.Result {
			ls := model.FromMap(r.Metric)
			vs, _ := r.Value[1].(string)
			v, err := strconv.ParseFloat(vs, 64)
			if err != nil {
				continue
			}
			k := ls.String()
			lsOut[k] = ls
			vals[k] = v
		}
	}
	return lsOut, vals, nil
}

// Latest gives the newest sample of each matching series within
// Options.LatestLookback, with its quality code.
func (s *Store) Latest(ctx context.Context, ms []*model.Matcher, fn func(ls model.Labels, p model.Point) error) error {
	if len(ms) == 0 {
		return errEmptySelector
	}
	tenants := s.readTenants(ms)
	win := fmt.Sprintf("[%ds]", int64(s.opts.LatestLookback/time.Second))
	sel := selector(ms)
	now := time.Now().Add(time.Minute)
	lss, vals, err := s.queryVector(ctx, tenants, "last_over_time("+sel+win+") keep_metric_names", now)
	if err != nil {
		return err
	}
	_, ts, err := s.queryVector(ctx, tenants, "tlast_over_time("+sel+win+") keep_metric_names", now)
	if err != nil {
		return err
	}
	qsel, err := qualitySelector(ms)
	if err != nil {
		return err
	}
	qls, qvals, err := s.queryVector(ctx, tenants, "last_over_time("+qsel+win+") keep_metric_names", now)
	if err != nil {
		return err
	}
	_, qts, err := s.queryVector(ctx, tenants, "tlast_over_time("+qsel+win+") keep_metric_names", now)
	if err != nil {
		return err
	}
	type qv struct {
		t int64
		q model.Quality
	}
	qmap := map[string]qv{}
	for k, ls := range qls {
		orig := ls.Get("metric")
		key := ls.Without(model.MetricName, "metric").With(model.MetricName, orig).String()
		qmap[key] = qv{t: int64(math.Round(qts[k] * 1000)), q: model.Quality(qvals[k])}
	}
	keys := make([]string, 0, len(lss))
	for k := range lss {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool { return lss[keys[i]].Compare(lss[keys[j]]) < 0 })
	for _, k := range keys {
		tsec, ok := ts[k]
		if !ok {
			continue
		}
		p := model.Point{T: int64(math.Round(tsec * 1000)), V: vals[k]}
		if q, ok := qmap[k]; ok && q.t == p.T {
			p.Q = q.q
		}
		if err := fn(lss[k], p); err != nil {
			return err
		}
	}
	return nil
}

// labelsAPI calls /api/v1/labels or /api/v1/label/<name>/values over all time.
func (s *Store) labelsAPI(ctx context.Context, path string, ms []*model.Matcher) ([]string, error) {
	set := map[string]bool{}
	tenants := []int{0}
	params := url.Values{"start": {"1"}, "end": {strconv.FormatInt(time.Now().Add(24*time.Hour).Unix(), 10)}}
	if len(ms) > 0 {
		params.Set("match[]", selector(ms))
		tenants = s.readTenants(ms)
	} else {
		params.Set("match[]", selector(nil))
		tenants = s.readTenants(nil)
	}
	for _, tenant := range tenants {
		body, err := s.get(ctx, s.readURL(tenant, path), params)
		if err != nil {
			return nil, err
		}
		var ans struct {
			Data []string `json:"data"`
		}
		if err := json.Unmarshal(body, &ans); err != nil {
			return nil, fmt.Errorf("victoriametrics %s: decode: %w", path, err)
		}
		for _, v := range ans.Data {
			set[v] = true
		}
	}
	out := make([]string, 0, len(set))
	for v := range set {
		out = append(out, v)
	}
	sort.Strings(out)
	return out, nil
}

// LabelNames lists label names of matching series.
func (s *Store) LabelNames(ctx context.Context, ms []*model.Matcher) ([]string, error) {
	return s.labelsAPI(ctx, "/api/v1/labels", ms)
}

// LabelValues lists values of one label across matching series.
func (s *Store) LabelValues(ctx context.Context, name string, ms []*model.Matcher) ([]string, error) {
	if !model.ValidLabelName(name) && name != model.MetricName {
		return nil, fmt.Errorf("label values: invalid label name %q", name)
	}
	vals, err := s.labelsAPI(ctx, "/api/v1/label/"+url.PathEscape(name)+"/values", ms)
	if err != nil {
		return nil, err
	}
	if name == model.MetricName {
		out := vals[:0]
		for _, v := range vals {
			if v != QualityMetric {
				out = append(out, v)
			}
		}
		vals = out
	}
	return vals, nil
}
