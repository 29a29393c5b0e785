// Package promstore adapts a model.Reader to Prometheus' storage.Queryable,
// so that the Prometheus promql engine evaluates PromQL over quantrac's
// storage (the embedded tsdb or VictoriaMetrics).
//
// Only good samples are visible to PromQL unless IncludeBad is set, as in
// every other aggregate of quantrac. Extra matchers (a token's province
// scope) are added to every selection.
package promstore

import (
	"context"
	"fmt"
	"sort"

	"github.com/prometheus/prometheus/model/histogram"
	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/storage"
	"github.com/prometheus/prometheus/tsdb/chunkenc"
	"github.com/prometheus/prometheus/tsdb/chunks"
	"github.com/prometheus/prometheus/util/annotations"

	"github.com/quantrac/quantrac/model"
)

// Queryable is a storage.Queryable over a model.Reader.
type Queryable struct {
	Reader model.Reader
	// Extra matchers added to every selection (province scope).
	Extra []*model.Matcher
	// IncludeBad makes samples of any quality visible.
	IncludeBad bool
}

// Querier returns a querier for [mint, maxt] (ms, inclusive).
func (q *Queryable) Querier(mint, maxt int64) (storage.Querier, error) {
	return &querier{q: q, mint: mint, maxt: maxt}, nil
}

type querier struct {
	q          *Queryable
	mint, maxt int64
}

// ConvertMatchers turns Prometheus matchers into quantrac matchers.
func ConvertMatchers(pms []*labels.Matcher) ([]*model.Matcher, error) {
	out := make([]*model.Matcher, 0, len(pms))
	for _, pm := range pms {
		var t model.MatchType
		switch pm.Type {
		case labels.MatchEqual:
			t = model.MatchEqual
		case labels.MatchNotEqual:
			t = model.MatchNotEqual
		case labels.MatchRegexp:
			t = model.MatchRegexp
		case labels.MatchNotRegexp:
			t = model.MatchNotRegexp
		default:
			return nil, fmt.Errorf("matcher %s: unsupported type", pm)
		}
		m, err := model.NewMatcher(t, pm.Name, pm.Value)
		if err != nil {
			return nil, err
		}
		out = append(out, m)
	}
	return out, nil
}

// ToLabels converts quantrac labels to Prometheus labels.
func ToLabels(ls model.Labels) labels.Labels {
	b := labels.NewScratchBuilder(len(ls))
	for _, l := range ls {
		b.Add(l.Name, l.Value)
	}
	b.Sort()
	return b.Labels()
}

func (qr *querier) matchers(pms []*labels.Matcher) ([]*model.Matcher, error) {
	ms, err := ConvertMatchers(pms)
	if err != nil {
		return nil, err
	}
	return append(ms, qr.q.Extra...), nil
}

// Select loads the matching series in the hinted range. Series come back
// sorted by labels, as the Reader delivers them.
func (qr *querier) Select(ctx context.Context, _ bool, hints *storage.SelectHints, pms ...*labels.Matcher) storage.SeriesSet {
	ms, err := qr.matchers(pms)
	if err != nil {
		return storage.ErrSeriesSet(err)
	}
	from, to := qr.mint, qr.maxt
	if hints != nil {
		from, to = hints.Start, hints.End
	}
	if from < model.MinTime {
		from = model.MinTime
	}
	if to >= model.MaxTime {
		to = model.MaxTime - 1
	}
	if to < from {
		return storage.EmptySeriesSet()
	}
	set := &seriesSet{idx: -1}
	err = qr.q.Reader.Select(ctx, model.SelectQuery{Matchers: ms, From: from, To: to, IncludeBad: qr.q.IncludeBad}, func(ls model.Labels, pts []model.Point) error {
		if len(pts) == 0 {
			return nil
		}
		fp := make([]fpoint, len(pts))
		for i, p := range pts {
			fp[i] = fpoint{t: p.T, f: p.V}
		}
		set.series = append(set.series, &series{ls: ToLabels(ls), pts: fp})
		return nil
	})
	if err != nil {
		return storage.ErrSeriesSet(err)
	}
	sort.Slice(set.series, func(i, j int) bool { return labels.Compare(set.series[i].ls, set.series[j].ls) < 0 })
	return set
}

// LabelValues lists values of a label among matching series.
func (qr *querier) LabelValues(ctx context.Context, name string, hints *storage.LabelHints, pms ...*labels.Matcher) ([]string, annotations.Annotations, error) {
	ms, err := qr.matchers(pms)
	if err != nil {
		return nil, nil, err
	}
	vals, err := qr.q.Reader.LabelValues(ctx, name, ms)
	if err != nil {
		return nil, nil, err
	}
	if hints != nil && hints.Limit > 0 && len(vals) > hints.Limit {
		vals = vals[:hints.Limit]
	}
	return vals, nil, nil
}

// LabelNames lists label names among matching series.
func (qr *querier) LabelNames(ctx context.Context, hints *storage.LabelHints, pms ...*labels.Matcher) ([]string, annotations.Annotations, error) {
	ms, err := qr.matchers(pms)
	if err != nil {
		return nil, nil, err
	}
	names, err := qr.q.Reader.LabelNames(ctx, ms)
	if err != nil {
		return nil, nil, err
	}
	if hints != nil && hints.Limit > 0 && len(names) > hints.Limit {
		names = names[:hints.Limit]
	}
	return names, nil, nil
}

// Close releases nothing.
func (qr *querier) Close() error { return nil }

type seriesSet struct {
	series []*series
	idx    int
}

func (s *seriesSet) Next() bool {
	s.idx++
	return s.idx < len(s.series)
}
func (s *seriesSet) At() storage.Series                { return s.series[s.idx] }
func (s *seriesSet) Err() error                        { return nil }
func (s *seriesSet) Warnings() annotations.Annotations { return nil }

type series struct {
	ls  labels.Labels
	pts []fpoint
}

func (s *series) Labels() labels.Labels { return s.ls }

func (s *series) Iterator(it chunkenc.Iterator) chunkenc.Iterator {
	return storage.NewListSeriesIterator(points(s.pts))
}

// points exposes float samples as storage.Samples.
type points []fpoint

func (ps points) Get(i int) chunks.Sample { return &ps[i] }
func (ps points) Len() int                { return len(ps) }

// fpoint is a float sample as chunks.Sample.
type fpoint struct {
	t int64
	f float64
}

func (p *fpoint) T() int64                      { return p.t }
func (p *fpoint) ST() int64                     { return 0 }
func (p *fpoint) F() float64                    { return p.f }
func (p *fpoint) H() *histogram.Histogram       { return nil }
func (p *fpoint) FH() *histogram.FloatHistogram { return nil }
func (p *fpoint) Type() chunkenc.ValueType      { return chunkenc.ValFloat }
func (p *fpoint) Copy() chunks.Sample           { c := *p; return &c }
