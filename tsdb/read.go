package tsdb

import (
	"sync"

	"github.com/quantrac/quantrac/model"
)

// reader gathers one series' points from its sealed parts, the frozen head
// being sealed and the live head, merged with later sources winning on
// equal timestamps. Buffers are reused across series.
type reader struct {
	db     *DB
	ps     *partSet
	out    []model.Point
	tmp    []model.Point
	head   []model.Point
	extra  []model.Point
	rolls  map[*part]decodedRollups // of the current series
	curRef uint32
	dec    blockDecoder
}

var readerPool sync.Pool

func (db *DB) newReader() *reader {
	r, _ := readerPool.Get().(*reader)
	if r == nil {
		r = &reader{}
	}
	r.db = db
	return r
}

func (r *reader) release() {
	if r.ps != nil {
		r.ps.decRef()
	}
	r.db, r.ps = nil, nil
	r.dec.resetFrames()
	clear(r.rolls)
	if cap(r.out) > 1<<20 {
		r.out, r.tmp, r.head = nil, nil, nil
	}
	readerPool.Put(r)
}

// snapshot refreshes the part set and copies the head of s in [from, to]
// into r.head. Both are read under db.mu so that a seal, which moves the
// head into the set under db.mu, is seen whole.
func (r *reader) snapshot(s *memSeries, from, to int64) error {
	r.db.mu.RLock()
	if r.db.parts == nil {
		r.db.mu.RUnlock()
		return ErrClosed
	}
	if r.db.parts != r.ps {
		if r.ps != nil {
			r.ps.decRef()
		}
		r.ps = r.db.parts
		r.ps.incRef()
	}
	s.mu.Lock()
	s.sortHeadLocked()
	r.head = append(r.head[:0], rangeOf(s.head, from, to)...)
	s.mu.Unlock()
	r.db.mu.RUnlock()
	return nil
}

// unsealedPoints returns the points of s in [from, to] that are not in
// part files yet (parts being sealed and the head).
func (r *reader) unsealedPoints(s *memSeries, from, to int64) ([]model.Point, error) {
	if err := r.snapshot(s, from, to); err != nil {
		return nil, err
	}
	r.out = r.out[:0]
	for _, m := range r.ps.mem {
		r.mergeIn(rangeOf(m.series[s.ref], from, to))
	}
	r.mergeIn(r.head)
	r.extra = append(r.extra[:0], r.out...)
	return r.extra, nil
}

// points returns the merged points of s in [from, to]; valid until the next call.
func (r *reader) points(s *memSeries, from, to int64) ([]model.Point, error) {
	if err := r.snapshot(s, from, to); err != nil {
		return nil, err
	}

	r.out = r.out[:0]
	var err error
	r.out, err = r.ps.appendSeriesPoints(&r.dec, r.out, &r.tmp, s, from, to)
	if err != nil {
		return nil, err
	}
	r.mergeIn(r.head)
	return r.out, nil
}

// mergeIn merges sorted, deduplicated src into r.out; src wins on equal T.
func (r *reader) mergeIn(src []model.Point) {
	if len(src) == 0 {
		return
	}
	if len(r.out) == 0 || r.out[len(r.out)-1].T < src[0].T {
		r.out = append(r.out, src...)
		return
	}
	r.tmp = mergePoints(r.tmp[:0], r.out, src)
	r.out, r.tmp = r.tmp, r.out
}

// mergePoints merges two sorted deduplicated slices; b wins on equal T.
func mergePoints(dst, a, b []model.Point) []model.Point {
	i, j := 0, 0
	for i < len(a) && j < len(b) {
		switch {
		case a[i].T < b[j].T:
			dst = append(dst, a[i])
			i++
		case a[i].T > b[j].T:
			dst = append(dst, b[j])
			j++
		default:
			dst = append(dst, b[j])
			i++
			j++
		}
	}
	dst = append(dst, a[i:]...)
	return append(dst, b[j:]...)
}

// rangeOf returns the sub-slice of sorted ps within [from, to].
func rangeOf(ps []model.Point, from, to int64) []model.Point {
	lo, hi := 0, len(ps)
	for lo < hi {
		m := int(uint(lo+hi) >> 1)
		if ps[m].T < from {
			lo = m + 1
		} else {
			hi = m
		}
	}
	start := lo
	hi = len(ps)
	for lo < hi {
		m := int(uint(lo+hi) >> 1)
		if ps[m].T <= to {
			lo = m + 1
		} else {
			hi = m
		}
	}
	return ps[start:lo]
}
