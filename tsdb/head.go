package tsdb

import (
	"hash/maphash"
	"math"
	"slices"
	"sort"
	"sync"

	"github.com/quantrac/quantrac/model"
)

// memSeries is one series: its labels, its in-memory head and what is being
// sealed. Fields below mu are guarded by it; maxT only by DB.appendMu.
type memSeries struct {
	ref    uint32
	labels model.Labels
	hash   uint64
	next   *memSeries // same hash

	// maxT is the newest timestamp ever appended (guarded by DB.appendMu);
	// it bounds the out-of-order window.
	maxT int64

	mu      sync.Mutex
	head    []model.Point // unsorted appends
	sorted  bool          // head is sorted by T without duplicates
	last    model.Point   // newest sample (any quality)
	hasLast bool
}

func newMemSeries(ref uint32, ls model.Labels, h uint64) *memSeries {
	return &memSeries{ref: ref, labels: ls, hash: h, maxT: math.MinInt64, sorted: true}
}

// appendLocked adds a point; caller holds s.mu.
func (s *memSeries) appendLocked(p model.Point) {
	if n := len(s.head); n > 0 && s.sorted && s.head[n-1].T >= p.T {
		s.sorted = false
	}
	s.head = append(s.head, p)
	s.updateLast(p)
}

func (s *memSeries) updateLast(p model.Point) {
	if !s.hasLast || p.T >= s.last.T {
		s.last = p
		s.hasLast = true
	}
}

// sortHeadLocked sorts the head by time and keeps the last write of each
// timestamp. Caller holds s.mu.
func (s *memSeries) sortHeadLocked() {
	if s.sorted {
		return
	}
	s.head = sortDedup(s.head)
	s.sorted = true
}

// sortDedup sorts points by T (stable, so later appends stay later) and keeps
// the last point of each timestamp.
func sortDedup(ps []model.Point) []model.Point {
	slices.SortStableFunc(ps, func(a, b model.Point) int {
		switch {
		case a.T < b.T:
			return -1
		case a.T > b.T:
			return 1
		}
		return 0
	})
	out := ps[:0]
	for i := range ps {
		if i+1 < len(ps) && ps[i+1].T == ps[i].T {
			continue
		}
		out = append(out, ps[i])
	}
	return out
}

// seriesIndex maps labels to series and label pairs to series refs.
type seriesIndex struct {
	seed     maphash.Seed
	byHash   map[uint64]*memSeries
	byRef    []*memSeries
	postings map[string]map[string][]uint32 // name -> value -> refs ascending
}

func newSeriesIndex() *seriesIndex {
	return &seriesIndex{
		seed:     maphash.MakeSeed(),
		byHash:   make(map[uint64]*memSeries),
		postings: make(map[string]map[string][]uint32),
	}
}

func (ix *seriesIndex) hash(h *maphash.Hash, ls model.Labels) uint64 {
	h.Reset()
	for _, l := range ls {
		h.WriteString(l.Name)
		h.WriteByte(0xff)
		h.WriteString(l.Value)
		h.WriteByte(0xfe)
	}
	return h.Sum64()
}

func (ix *seriesIndex) get(h uint64, ls model.Labels) *memSeries {
	for s := ix.byHash[h]; s != nil; s = s.next {
		if s.labels.Equal(ls) {
			return s
		}
	}
	return nil
}

// add creates a series with the given ref (byRef grows as needed).
func (ix *seriesIndex) add(ref uint32, h uint64, ls model.Labels) *memSeries {
	s := newMemSeries(ref, ls, h)
	s.next = ix.byHash[h]
	ix.byHash[h] = s
	for int(ref) >= len(ix.byRef) {
		ix.byRef = append(ix.byRef, nil)
	}
	ix.byRef[ref] = s
	for _, l := range ls {
		vals := ix.postings[l.Name]
		if vals == nil {
			vals = make(map[string][]uint32)
			ix.postings[l.Name] = vals
		}
		refs := vals[l.Value]
		if n := len(refs); n > 0 && refs[n-1] > ref {
			i := sort.Search(n, func(i int) bool { return refs[i] > ref })
			refs = slices.Insert(refs, i, ref)
		} else {
			refs = append(refs, ref)
		}
		vals[l.Value] = refs
	}
	return s
}

// match returns the series matching every matcher, in label order.
// Prometheus semantics: a missing label has the value "".
func (ix *seriesIndex) match(ms []*model.Matcher) []*memSeries {
	var cand []uint32
	useCand := false
	for _, m := range ms {
		if m.Matches("") {
			continue
		}
		var refs []uint32
		vals := ix.postings[m.Name]
		if m.Type == model.MatchEqual {
			refs = vals[m.Value]
		} else {
			for v, rs := range vals {
				if m.Matches(v) {
					refs = mergeRefs(refs, rs)
				}
			}
		}
		if !useCand {
			cand = refs
			useCand = true
		} else {
			cand = intersectRefs(cand, refs)
		}
		if len(cand) == 0 {
			return nil
		}
	}
	var out []*memSeries
	if useCand {
		for _, r := range cand {
			if s := ix.byRef[r]; s != nil && model.MatchLabels(ms, s.labels) {
				out = append(out, s)
			}
		}
	} else {
		for _, s := range ix.byRef {
			if s != nil && model.MatchLabels(ms, s.labels) {
				out = append(out, s)
			}
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].labels.Compare(out[j].labels) < 0 })
	return out
}

func mergeRefs(a, b []uint32) []uint32 {
	out := make([]uint32, 0, len(a)+len(b))
	i, j := 0, 0
	for i < len(a) && j < len(b) {
		switch {
		case a[i] < b[j]:
			out = append(out, a[i])
			i++
		case a[i] > b[j]:
			out = append(out, b[j])
			j++
		default:
			out = append(out, a[i])
			i++
			j++
		}
	}
	out = append(out, a[i:]...)
	return append(out, b[j:]...)
}

func intersectRefs(a, b []uint32) []uint32 {
	var out []uint32
	i, j := 0, 0
	for i < len(a) && j < len(b) {
		switch {
		case a[i] < b[j]:
			i++
		case a[i] > b[j]:
			j++
		default:
			out = append(out, a[i])
			i++
			j++
		}
	}
	return out
}
