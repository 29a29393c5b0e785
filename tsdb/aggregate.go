package tsdb

import (
	"context"
	"fmt"
	"math"

	"github.com/quantrac/quantrac/model"
)

// agg accumulates one bucket.
type agg struct {
	count         int64
	sum           float64
	min, max      float64
	first, last   float64
	firstT, lastT int64
}

func (a *agg) reset() {
	*a = agg{min: math.Inf(1), max: math.Inf(-1), firstT: math.MaxInt64, lastT: math.MinInt64}
}

func (a *agg) add(t int64, v float64) {
	a.count++
	a.sum += v
	if v < a.min {
		a.min = v
	}
	if v > a.max {
		a.max = v
	}
	if t < a.firstT {
		a.firstT, a.first = t, v
	}
	if t >= a.lastT {
		a.lastT, a.last = t, v
	}
}

// merge folds another accumulator (of disjoint time) into a.
func (a *agg) merge(b *agg) {
	if b.count == 0 {
		return
	}
	a.count += b.count
	a.sum += b.sum
	if b.min < a.min {
		a.min = b.min
	}
	if b.max > a.max {
		a.max = b.max
	}
	if b.firstT < a.firstT {
		a.firstT, a.first = b.firstT, b.first
	}
	if b.lastT >= a.lastT {
		a.lastT, a.last = b.lastT, b.last
	}
}

func (a *agg) value(f model.AggFunc) float64 {
	switch f {
	case model.AggMin:
		return a.min
	case model.AggMax:
		return a.max
	case model.AggSum:
		return a.sum
	case model.AggCount:
		return float64(a.count)
	case model.AggFirst:
		return a.first
	case model.AggLast:
		return a.last
	}
	return a.sum / float64(a.count)
}

// Aggregate delivers, for each matching series in label order, one point per
// step bucket aligned to local midnight in q.Location. Hourly and daily
// rollups answer the buckets they cover exactly; raw data answers the rest.
func (db *DB) Aggregate(ctx context.Context, q model.AggregateQuery, fn model.SeriesFunc) error {
	if q.Step <= 0 {
		return fmt.Errorf("aggregate: step %v must be positive", q.Step)
	}
	if q.Step.Milliseconds() <= 0 {
		return fmt.Errorf("aggregate: step %v is shorter than a millisecond", q.Step)
	}
	if _, err := model.ParseAggFunc(string(q.Func)); err != nil {
		return fmt.Errorf("aggregate: %w", err)
	}
	if q.From > q.To {
		return fmt.Errorf("aggregate: from %d is after to %d", q.From, q.To)
	}
	series, err := db.matchSeries(q.Matchers)
	if err != nil {
		return err
	}
	r := db.newReader()
	defer r.release()
	plan := newAggPlan(q)
	var out []model.Point
	for i, s := range series {
		if i%64 == 0 {
			if err := ctx.Err(); err != nil {
				return err
			}
		}
		out, err = r.aggregate(s, plan, out[:0])
		if err != nil {
			return err
		}
		if len(out) == 0 {
			continue
		}
		if err := fn(s.labels, out); err != nil {
			return err
		}
	}
	return nil
}

// aggPlan is the bucket layout of a query: bucket starts in [From, To].
type aggPlan struct {
	q      model.AggregateQuery
	b      *bucketer
	firstB int64 // first bucket start >= From
	end    int64 // end of the last bucket starting <= To (exclusive)
	empty  bool
}

func newAggPlan(q model.AggregateQuery) *aggPlan {
	p := &aggPlan{q: q, b: newBucketer(q.Location, q.Step)}
	bs := p.b.start(q.From)
	if bs < q.From {
		bs = p.b.next(bs)
	}
	p.firstB = bs
	if bs > q.To {
		p.empty = true
		return p
	}
	last := p.b.start(q.To)
	p.end = p.b.next(last)
	return p
}

// aggregate computes the buckets of one series from raw points.
func (r *reader) aggregate(s *memSeries, p *aggPlan, dst []model.Point) ([]model.Point, error) {
	if p.empty {
		return dst, nil
	}
	pts, err := r.points(s, p.firstB, p.end-1)
	if err != nil {
		return nil, err
	}
	var a agg
	a.reset()
	cur := int64(math.MinInt64)
	curEnd := int64(math.MinInt64)
	for _, pt := range pts {
		if !p.q.IncludeBad && !pt.Q.Good() {
			continue
		}
		if pt.T >= curEnd || pt.T < cur {
			if a.count > 0 {
				dst = append(dst, model.Point{T: cur, V: a.value(p.q.Func)})
			}
			a.reset()
			cur = p.b.start(pt.T)
			curEnd = p.b.next(cur)
		}
		a.add(pt.T, pt.V)
	}
	if a.count > 0 {
		dst = append(dst, model.Point{T: cur, V: a.value(p.q.Func)})
	}
	return dst, nil
}
