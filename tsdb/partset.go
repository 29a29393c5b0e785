package tsdb

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync/atomic"

	"github.com/quantrac/quantrac/model"
)

// partition is the set of parts covering [start, end).
type partition struct {
	start, end int64
	parts      []*part // ascending seq: later parts win on equal timestamps
}

// memPart is a head being sealed: readable until its parts are installed.
type memPart struct {
	series  map[uint32][]model.Point // sorted, distinct T
	samples int64
	// lastSeg is the last WAL segment holding this data (-1: keep all).
	lastSeg int
}

// partSet is an immutable snapshot of the sealed data. Readers hold a
// reference while they read; parts are unmapped when no set holds them.
type partSet struct {
	refs       atomic.Int64
	partitions []*partition // ascending start
	mem        []*memPart   // oldest first
}

func (ps *partSet) incRef() { ps.refs.Add(1) }

func (ps *partSet) decRef() {
	if ps.refs.Add(-1) != 0 {
		return
	}
	for _, pt := range ps.partitions {
		for _, p := range pt.parts {
			p.decRef()
		}
	}
}

// newPartSet builds a set (holding one reference for the DB) and takes a
// reference on each part.
func newPartSet(partitions []*partition, mem []*memPart) *partSet {
	ps := &partSet{partitions: partitions, mem: mem}
	ps.refs.Store(1)
	for _, pt := range partitions {
		for _, p := range pt.parts {
			p.refs.Add(1)
		}
	}
	return ps
}

// currentParts returns the current set with a reference for the caller.
func (db *DB) currentParts() *partSet {
	db.mu.RLock()
	ps := db.parts
	ps.incRef()
	db.mu.RUnlock()
	return ps
}

// installParts replaces the current set; caller holds db.mu.
func (db *DB) installPartsLocked(ps *partSet) {
	old := db.parts
	db.parts = ps
	if old != nil {
		old.decRef()
	}
}

// appendSeriesPoints appends the sealed points of s within [from, to].
func (ps *partSet) appendSeriesPoints(dec *blockDecoder, dst []model.Point, tmp *[]model.Point, s *memSeries, from, to int64) ([]model.Point, error) {
	i := sort.Search(len(ps.partitions), func(i int) bool { return ps.partitions[i].end > from })
	for ; i < len(ps.partitions); i++ {
		pt := ps.partitions[i]
		if pt.start > to {
			break
		}
		n := 0
		for _, p := range pt.parts {
			if e := p.series[s.ref]; e != nil && e.maxT >= from && e.minT <= to {
				n++
			}
		}
		if n == 0 {
			continue
		}
		if n == 1 {
			for _, p := range pt.parts {
				if e := p.series[s.ref]; e != nil && e.maxT >= from && e.minT <= to {
					var err error
					if dst, err = p.appendPoints(dec, dst, e, from, to); err != nil {
						return dst, err
					}
				}
			}
			continue
		}
		// Several parts: merge them, later parts winning.
		var acc []model.Point
		for _, p := range pt.parts {
			e := p.series[s.ref]
			if e == nil || e.maxT < from || e.minT > to {
				continue
			}
			var err error
			*tmp, err = p.appendPoints(dec, (*tmp)[:0], e, from, to)
			if err != nil {
				return dst, err
			}
			acc = mergePoints(nil, acc, *tmp)
		}
		dst = append(dst, acc...)
	}
	for _, m := range ps.mem {
		pts := rangeOf(m.series[s.ref], from, to)
		if len(pts) == 0 {
			continue
		}
		if len(dst) == 0 || dst[len(dst)-1].T < pts[0].T {
			dst = append(dst, pts...)
			continue
		}
		merged := mergePoints(nil, dst, pts)
		dst = append(dst[:0], merged...)
	}
	return dst, nil
}

func partitionDirName(start int64) string { return fmt.Sprintf(partitionNameFmt, start) }

// loadParts opens every part file, registering its series.
func (db *DB) loadParts() error {
	root := filepath.Join(db.dir, partitionsDir)
	ents, err := os.ReadDir(root)
	if err != nil {
		return fmt.Errorf("list partitions: %w", err)
	}
	pd := db.opts.PartitionDuration.Milliseconds()
	var partitions []*partition
	var maxSeq uint64
	var parts []*part
	for _, e := range ents {
		if !e.IsDir() || !strings.HasPrefix(e.Name(), "p") {
			continue
		}
		start, err := strconv.ParseInt(e.Name()[1:], 10, 64)
		if err != nil {
			continue
		}
		dir := filepath.Join(root, e.Name())
		files, err := os.ReadDir(dir)
		if err != nil {
			return fmt.Errorf("list partition %s: %w", dir, err)
		}
		pt := &partition{start: start, end: start + pd}
		for _, f := range files {
			name := f.Name()
			path := filepath.Join(dir, name)
			if strings.HasSuffix(name, tmpSuffix) {
				os.Remove(path)
				continue
			}
			if !strings.HasSuffix(name, partFileExt) {
				continue
			}
			seq, err := strconv.ParseUint(strings.TrimSuffix(name, partFileExt), 10, 64)
			if err != nil {
				continue
			}
			p, err := openPart(path, seq, start, func(i int, e *partSeries) *memSeries {
				if e.labels.Validate() != nil {
					return nil
				}
				s := db.seriesForLoad(e.labels)
				if e.maxT > s.maxT {
					s.maxT = e.maxT
				}
				s.updateLast(e.last)
				return s
			})
			if err != nil {
				db.log.Error().Err(err).Str("part", path).Msg("damaged part file set aside")
				os.Rename(path, path+".broken")
				continue
			}
			p.cache = db.rollCache
			if p.maxT > db.maxT.Load() {
				db.maxT.Store(p.maxT)
			}
			maxSeq = max(maxSeq, seq)
			pt.parts = append(pt.parts, p)
			parts = append(parts, p)
		}
		if len(pt.parts) == 0 {
			continue
		}
		if pt.end <= pt.start || pt.start%pd != 0 {
			// Written with another partition duration: keep the span
			// implied by the data.
			pt.end = pt.start
			for _, p := range pt.parts {
				pt.end = max(pt.end, p.maxT+1)
			}
		}
		slices.SortFunc(pt.parts, func(a, b *part) int {
			if a.seq < b.seq {
				return -1
			}
			return 1
		})
		partitions = append(partitions, pt)
	}
	sort.Slice(partitions, func(i, j int) bool { return partitions[i].start < partitions[j].start })
	db.partSeq.Store(maxSeq)
	db.parts = newPartSet(partitions, nil)
	// newPartSet took a reference per part; drop the opening one.
	for _, p := range parts {
		p.decRef()
	}
	return nil
}

// seriesForLoad finds or creates a series while opening (single-threaded).
func (db *DB) seriesForLoad(ls model.Labels) *memSeries {
	h := db.idx.hash(&db.hasher, ls)
	if s := db.idx.get(h, ls); s != nil {
		return s
	}
	ref := db.nextRef
	db.nextRef++
	return db.idx.add(ref, h, ls)
}

func (db *DB) closeParts() {
	if db.parts != nil {
		db.parts.decRef()
		db.parts = nil
	}
}

// partitionStart returns the start of the partition holding t.
func (db *DB) partitionStart(t int64) int64 {
	pd := db.opts.PartitionDuration.Milliseconds()
	return floorDiv(t, pd) * pd
}
