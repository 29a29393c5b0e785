package tsdb

import (
	"context"
	"fmt"
	"sort"
	"time"

	"github.com/quantrac/quantrac/model"
)

// matchSeries returns matching series in label order.
func (db *DB) matchSeries(ms []*model.Matcher) ([]*memSeries, error) {
	db.mu.RLock()
	defer db.mu.RUnlock()
	if db.closed {
		return nil, ErrClosed
	}
	return db.idx.match(ms), nil
}

// Select delivers the raw points of every matching series in [From, To],
// in label order, merging sealed blocks and the head (last write wins).
func (db *DB) Select(ctx context.Context, q model.SelectQuery, fn model.SeriesFunc) error {
	if q.From > q.To {
		return fmt.Errorf("select: from %d is after to %d", q.From, q.To)
	}
	series, err := db.matchSeries(q.Matchers)
	if err != nil {
		return err
	}
	r := db.newReader()
	defer r.release()
	for i, s := range series {
		if i%64 == 0 {
			if err := ctx.Err(); err != nil {
				return err
			}
		}
		pts, err := r.points(s, q.From, q.To)
		if err != nil {
			return err
		}
		if !q.IncludeBad {
			pts = filterGood(pts)
		}
		if len(pts) == 0 {
			continue
		}
		if err := fn(s.labels, pts); err != nil {
			return err
		}
	}
	return nil
}

func filterGood(pts []model.Point) []model.Point {
	out := pts[:0]
	for _, p := range pts {
		if p.Q.Good() {
			out = append(out, p)
		}
	}
	return out
}

// Latest delivers the newest sample (any quality) of each matching series.
func (db *DB) Latest(ctx context.Context, ms []*model.Matcher, fn func(ls model.Labels, p model.Point) error) error {
	series, err := db.matchSeries(ms)
	if err != nil {
		return err
	}
	for _, s := range series {
		if err := ctx.Err(); err != nil {
			return err
		}
		s.mu.Lock()
		p, ok := s.last, s.hasLast
		s.mu.Unlock()
		if !ok {
			continue
		}
		if err := fn(s.labels, p); err != nil {
			return err
		}
	}
	return nil
}

// LabelNames lists the label names of matching series (all when ms is empty), sorted.
func (db *DB) LabelNames(ctx context.Context, ms []*model.Matcher) ([]string, error) {
	db.mu.RLock()
	defer db.mu.RUnlock()
	if db.closed {
		return nil, ErrClosed
	}
	var names []string
	if len(ms) == 0 {
		for n := range db.idx.postings {
			names = append(names, n)
		}
	} else {
		seen := map[string]bool{}
		for _, s := range db.idx.match(ms) {
			for _, l := range s.labels {
				if !seen[l.Name] {
					seen[l.Name] = true
					names = append(names, l.Name)
				}
			}
		}
	}
	sort.Strings(names)
	return names, nil
}

// LabelValues lists the values of one label across matching series, sorted.
func (db *DB) LabelValues(ctx context.Context, name string, ms []*model.Matcher) ([]string, error) {
	db.mu.RLock()
	defer db.mu.RUnlock()
	if db.closed {
		return nil, ErrClosed
	}
	var vals []string
	if len(ms) == 0 {
		for v, refs := range db.idx.postings[name] {
			if len(refs) > 0 {
				vals = append(vals, v)
			}
		}
	} else {
		seen := map[string]bool{}
		for _, s := range db.idx.match(ms) {
			if v := s.labels.Get(name); v != "" && !seen[v] {
				seen[v] = true
				vals = append(vals, v)
			}
		}
	}
	sort.Strings(vals)
	return vals, nil
}

// bucketer maps a timestamp to the start of its step bucket, aligned to
// local midnight in loc. It caches the current local day so most calls
// are integer arithmetic.
type bucketer struct {
	loc      *time.Location
	step     int64 // ms
	days     int64 // step in whole days, 0 when step < 24h or not whole days
	dayStart int64 // cached local day [dayStart, dayEnd)
	dayEnd   int64
	dayNum   int64 // days since 1970-01-01 (local calendar)
}

func newBucketer(loc *time.Location, step time.Duration) *bucketer {
	if loc == nil {
		loc = time.UTC
	}
	b := &bucketer{loc: loc, step: step.Milliseconds(), dayStart: 1, dayEnd: 0}
	if step >= 24*time.Hour && step%(24*time.Hour) == 0 {
		b.days = int64(step / (24 * time.Hour))
	}
	return b
}

func (b *bucketer) setDay(t int64) {
	tm := time.UnixMilli(t).In(b.loc)
	y, m, d := tm.Date()
	start := time.Date(y, m, d, 0, 0, 0, 0, b.loc)
	end := time.Date(y, m, d+1, 0, 0, 0, 0, b.loc)
	b.dayStart = start.UnixMilli()
	b.dayEnd = end.UnixMilli()
	b.dayNum = civilDays(y, int(m), d)
}

// start returns the bucket start of t.
func (b *bucketer) start(t int64) int64 {
	if t < b.dayStart || t >= b.dayEnd {
		b.setDay(t)
	}
	if b.days == 0 {
		if b.step <= 0 {
			return t
		}
		return b.dayStart + (t-b.dayStart)/b.step*b.step
	}
	if b.days == 1 {
		return b.dayStart
	}
	k := floorDiv(b.dayNum, b.days) * b.days
	y, m, d := civilFromDays(k)
	return time.Date(y, time.Month(m), d, 0, 0, 0, 0, b.loc).UnixMilli()
}

// next returns the start of the bucket after the one starting at bs.
func (b *bucketer) next(bs int64) int64 {
	if b.days == 0 {
		nb := bs + b.step
		// A bucket never crosses local midnight.
		s := b.start(bs)
		_ = s
		if nb > b.dayEnd {
			nb = b.dayEnd
		}
		return nb
	}
	tm := time.UnixMilli(bs).In(b.loc)
	y, m, d := tm.Date()
	return time.Date(y, m, d+int(b.days), 0, 0, 0, 0, b.loc).UnixMilli()
}

func floorDiv(a, b int64) int64 {
	q := a / b
	if (a%b != 0) && ((a < 0) != (b < 0)) {
		q--
	}
	return q
}

// civilDays returns days since 1970-01-01 of a proleptic Gregorian date.
func civilDays(y, m, d int) int64 {
	yy := int64(y)
	if m <= 2 {
		yy--
	}
	era := floorDiv(yy, 400)
	yoe := yy - era*400
	mm := int64(m)
	var mp int64
	if mm > 2 {
		mp = mm - 3
	} else {
		mp = mm + 9
	}
	doy := (153*mp+2)/5 + int64(d) - 1
	doe := yoe*365 + yoe/4 - yoe/100 + doy
	return era*146097 + doe - 719468
}

// civilFromDays is the inverse of civilDays.
func civilFromDays(z int64) (int, int, int) {
	z += 719468
	era := floorDiv(z, 146097)
	doe := z - era*146097
	yoe := (doe - doe/1460 + doe/36524 - doe/146096) / 365
	y := yoe + era*400
	doy := doe - (365*yoe + yoe/4 - yoe/100)
	mp := (5*doy + 2) / 153
	d := doy - (153*mp+2)/5 + 1
	var m int64
	if mp < 10 {
		m = mp + 3
	} else {
		m = mp - 9
	}
	if m <= 2 {
		y++
	}
	return int(y), int(m), int(d)
}
