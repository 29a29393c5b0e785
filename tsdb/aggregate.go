package tsdb

import (
	"context"
	"fmt"
	"math"
	"sort"
	"time"

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
	level := db.rollupLevel(plan)
	var out []model.Point
	for i, s := range series {
		if i%64 == 0 {
			if err := ctx.Err(); err != nil {
				return err
			}
		}
		out, err = r.aggregate(s, plan, level, out[:0])
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

// rollupLevel picks the rollup level a plan can read: daily rows when
// buckets are whole days in the rollup zone, hourly rows when the step is
// whole hours (buckets are then checked one by one for UTC hour alignment).
func (db *DB) rollupLevel(p *aggPlan) int {
	loc := p.q.Location
	if loc == nil {
		loc = time.UTC
	}
	if p.b.days >= 1 && sameDays(loc, db.opts.RollupLocation, p.firstB, p.end) {
		return levelDaily
	}
	if p.q.Step%time.Hour == 0 {
		return levelHourly
	}
	return levelNone
}

// sameDays reports whether a and b have the same local days over
// [from, to): the same zone, or one fixed UTC offset in both over the range
// (for example a fixed "+07:00" zone and Asia/Ho_Chi_Minh).
func sameDays(a, b *time.Location, from, to int64) bool {
	if a.String() == b.String() {
		return true
	}
	fixed := func(loc *time.Location) (int, bool) {
		t := time.UnixMilli(from).In(loc)
		_, off := t.Zone()
		_, end := t.ZoneBounds()
		return off, end.IsZero() || end.UnixMilli() >= to
	}
	oa, okA := fixed(a)
	ob, okB := fixed(b)
	return okA && okB && oa == ob
}

const (
	levelNone = iota
	levelHourly
	levelDaily
)

// aggregate computes the buckets of one series, from rollups where they
// cover a bucket exactly and from raw points elsewhere.
func (r *reader) aggregate(s *memSeries, p *aggPlan, level int, dst []model.Point) ([]model.Point, error) {
	if p.empty {
		return dst, nil
	}
	if level == levelNone {
		return r.aggregateRaw(s, p, p.firstB, p.end, dst)
	}
	// Points not yet in parts (head, parts being sealed) force raw buckets.
	clear(r.rolls) // rollups decoded for the previous series
	r.curRef = s.ref
	extra, err := r.unsealedPoints(s, p.firstB, p.end-1)
	if err != nil {
		return nil, err
	}
	rawFrom := int64(-1)
	flushRaw := func(to int64) error {
		if rawFrom < 0 {
			return nil
		}
		var err error
		dst, err = r.aggregateRaw(s, p, rawFrom, to, dst)
		rawFrom = -1
		return err
	}
	var a agg
	for bs := p.firstB; bs < p.end; {
		be := p.b.next(bs)
		ok := level == levelDaily || (bs%hourMs == 0 && be%hourMs == 0)
		if ok && len(rangeOf(extra, bs, be-1)) > 0 {
			ok = false
		}
		if ok {
			a.reset()
			if ok, err = r.rollupBucket(s.ref, level, bs, be, p.q.IncludeBad, &a); err != nil {
				return nil, err
			}
		}
		if !ok {
			if rawFrom < 0 {
				rawFrom = bs
			}
			bs = be
			continue
		}
		if err := flushRaw(bs); err != nil {
			return nil, err
		}
		if a.count > 0 {
			dst = append(dst, model.Point{T: bs, V: a.value(p.q.Func)})
		}
		bs = be
	}
	if err := flushRaw(p.end); err != nil {
		return nil, err
	}
	return dst, nil
}

// rollupBucket folds the rollup rows of [bs, be) into a. It reports false
// when rollups cannot answer the bucket exactly: a partition holds the
// series in more than one part, or a part lacks rows of that level, or bad
// samples are asked for and the part has some.
func (r *reader) rollupBucket(ref uint32, level int, bs, be int64, includeBad bool, a *agg) (bool, error) {
	ps := r.ps
	i := sort.Search(len(ps.partitions), func(i int) bool { return ps.partitions[i].end > bs })
	for ; i < len(ps.partitions) && ps.partitions[i].start < be; i++ {
		var e *partSeries
		var ep *part
		for _, pp := range ps.partitions[i].parts {
			pe := pp.series[ref]
			if pe == nil || pe.maxT < bs || pe.minT >= be {
				continue
			}
			if e != nil {
				return false, nil
			}
			e, ep = pe, pp
		}
		if e == nil {
			continue
		}
		if includeBad && !e.allGood {
			return false, nil
		}
		rr, err := r.rollupsOf(ep, e)
		if err != nil {
			return false, err
		}
		rows := rr.hourly
		if level == levelDaily {
			rows = rr.daily
		}
		if rows == nil {
			return false, nil
		}
		k := sort.Search(len(rows.keys), func(k int) bool { return rows.keys[k] >= bs })
		for ; k < len(rows.keys) && rows.keys[k] < be; k++ {
			ra := rows.agg(k)
			a.merge(&ra)
		}
	}
	return true, nil
}

// decodedRollups are the rollups of one series in one part.
type decodedRollups struct {
	hourly, daily *rollupRows
}

// rollupsOf decodes (once per series of a query) the rollups of e in p.
func (r *reader) rollupsOf(p *part, e *partSeries) (decodedRollups, error) {
	if d, ok := r.rolls[p]; ok {
		return d, nil
	}
	key := rollupCacheKey{p, r.curRef}
	d, ok := r.db.rollCache.get(key)
	if !ok {
		h, dl, err := p.rollups(&r.dec, e)
		if err != nil {
			return decodedRollups{}, err
		}
		d = decodedRollups{hourly: h, daily: dl}
		r.db.rollCache.put(key, d)
	}
	if r.rolls == nil {
		r.rolls = map[*part]decodedRollups{}
	}
	r.rolls[p] = d
	return d, nil
}

// aggregateRaw computes buckets starting in [from, to) from raw points.
func (r *reader) aggregateRaw(s *memSeries, p *aggPlan, from, to int64, dst []model.Point) ([]model.Point, error) {
	pts, err := r.points(s, from, to-1)
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
