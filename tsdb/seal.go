package tsdb

import (
	"context"
	"fmt"
	"path/filepath"
	"sort"

	"github.com/quantrac/quantrac/model"
)

// seal moves the whole head into a memory part, starts a new WAL segment
// (beginning with every series' labels), then writes every pending memory
// part, oldest first: one part file per partition it touched, installed
// atomically, after which the WAL segments it came from are deleted. A
// memory part that fails to be written stays readable and is retried by the
// next seal; its WAL segments are kept until then.
func (db *DB) seal(ctx context.Context) error {
	db.sealMu.Lock()
	defer db.sealMu.Unlock()
	if err := db.freezeHead(); err != nil {
		return err
	}
	for {
		db.mu.RLock()
		var m *memPart
		if db.parts != nil && len(db.parts.mem) > 0 {
			m = db.parts.mem[0]
		}
		db.mu.RUnlock()
		if m == nil {
			return nil
		}
		if err := db.sealMemPart(m); err != nil {
			return err
		}
	}
}

// freezeHead moves every series' head into a new memory part and cuts the
// WAL. Caller holds sealMu.
func (db *DB) freezeHead() error {
	db.appendMu.Lock()
	defer db.appendMu.Unlock()
	if db.headSamples.Load() == 0 {
		return nil
	}
	// Wait for the appenders between head and WAL: a batch whose WAL write
	// fails is taken back out of the head by its appender, which it could
	// not do once its points are in a memory part. With appendMu held no
	// new one starts, so afterwards every head point is acknowledged.
	db.inflight.Lock()
	defer db.inflight.Unlock()
	mp := &memPart{series: make(map[uint32][]model.Point), lastSeg: -1}
	db.mu.Lock()
	var n int64
	for _, s := range db.idx.byRef {
		if s == nil {
			continue
		}
		s.mu.Lock()
		if len(s.head) > 0 {
			s.sortHeadLocked()
			mp.series[s.ref] = s.head
			n += int64(len(s.head))
			s.head = nil
			s.sorted = true
		}
		s.mu.Unlock()
	}
	mp.samples = n
	old := db.parts
	mem := append(append([]*memPart(nil), old.mem...), mp)
	db.installPartsLocked(newPartSet(old.partitions, mem))
	snap := db.seriesSnapshotLocked()
	db.mu.Unlock()
	db.headSamples.Add(-n)
	lastSeg, err := db.wal.cut(snap)
	if err != nil {
		// The data is in the old segments, which are kept.
		return fmt.Errorf("cut wal: %w", err)
	}
	mp.lastSeg = lastSeg
	return nil
}

// sealMemPart writes one memory part as part files and installs them.
func (db *DB) sealMemPart(mp *memPart) error {
	byPart := map[int64][]sealedSeries{}
	for ref, pts := range mp.series {
		s := db.seriesByRef(ref)
		for len(pts) > 0 {
			ps := db.partitionStart(pts[0].T)
			end := ps + db.opts.PartitionDuration.Milliseconds()
			k := sort.Search(len(pts), func(i int) bool { return pts[i].T >= end })
			byPart[ps] = append(byPart[ps], sealedSeries{s: s, pts: pts[:k]})
			pts = pts[k:]
		}
	}
	var newParts []*part
	for start, series := range byPart {
		p, err := db.buildPart(start, series)
		if err != nil {
			for _, np := range newParts {
				np.obsolete.Store(true)
				np.decRef()
			}
			return err
		}
		newParts = append(newParts, p)
	}

	db.mu.Lock()
	cur := db.parts
	partitions := addParts(cur.partitions, newParts, db.opts.PartitionDuration.Milliseconds(), nil)
	var rest []*memPart
	for _, m := range cur.mem {
		if m != mp {
			rest = append(rest, m)
		}
	}
	db.installPartsLocked(newPartSet(partitions, rest))
	db.mu.Unlock()
	for _, p := range newParts {
		p.decRef() // the build reference
	}
	db.stats.Seals.Add(1)
	if mp.lastSeg >= 0 {
		if err := db.wal.removeUpTo(mp.lastSeg); err != nil {
			return err
		}
	}
	db.log.Debug().Int64("samples", mp.samples).Int("parts", len(newParts)).Msg("sealed head")
	return nil
}

// buildPart writes and opens a part for one partition. The returned part
// holds one reference for the caller.
func (db *DB) buildPart(start int64, series []sealedSeries) (*part, error) {
	sort.Slice(series, func(i, j int) bool { return series[i].s.labels.Compare(series[j].s.labels) < 0 })
	seq := db.partSeq.Add(1)
	dir := filepath.Join(db.dir, partitionsDir, partitionDirName(start))
	path, err := writePart(dir, seq, series, &db.opts, db.levelFor(start))
	if err != nil {
		return nil, err
	}
	p, err := openPart(path, seq, start, func(i int, e *partSeries) *memSeries {
		if i < len(series) {
			return series[i].s
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	p.cache = db.rollCache
	if len(p.series) != len(series) {
		p.obsolete.Store(true)
		p.decRef()
		return nil, fmt.Errorf("part %s: %d series written, %d read back", path, len(series), len(p.series))
	}
	return p, nil
}

// levelFor is the zstd level for a part of the partition starting at start:
// ColdCompressLevel once the partition is older than ColdAfter.
func (db *DB) levelFor(start int64) int {
	end := start + db.opts.PartitionDuration.Milliseconds()
	if end+db.opts.ColdAfter.Milliseconds() <= db.maxT.Load() {
		return db.opts.ColdCompressLevel
	}
	return db.opts.CompressLevel
}

// addParts returns a copy of partitions with newParts added and the parts in
// drop removed (copy on write: partitions are shared by readers' sets).
func addParts(partitions []*partition, newParts []*part, pd int64, drop map[*part]bool) []*partition {
	out := make([]*partition, 0, len(partitions)+len(newParts))
	byStart := map[int64]*partition{}
	for _, pt := range partitions {
		npt := &partition{start: pt.start, end: pt.end}
		for _, p := range pt.parts {
			if !drop[p] {
				npt.parts = append(npt.parts, p)
			}
		}
		byStart[pt.start] = npt
		out = append(out, npt)
	}
	for _, p := range newParts {
		pt := byStart[p.pstart]
		if pt == nil {
			pt = &partition{start: p.pstart, end: p.pstart + pd}
			byStart[p.pstart] = pt
			out = append(out, pt)
		}
		pt.parts = append(pt.parts, p)
		sort.Slice(pt.parts, func(i, j int) bool { return pt.parts[i].seq < pt.parts[j].seq })
	}
	kept := out[:0]
	for _, pt := range out {
		if len(pt.parts) > 0 {
			kept = append(kept, pt)
		}
	}
	sort.Slice(kept, func(i, j int) bool { return kept[i].start < kept[j].start })
	return kept
}

func (db *DB) seriesByRef(ref uint32) *memSeries {
	db.mu.RLock()
	defer db.mu.RUnlock()
	return db.idx.byRef[ref]
}

// seriesSnapshotLocked encodes a series record of every series; caller holds db.mu.
func (db *DB) seriesSnapshotLocked() []byte {
	ss := make([]walSeries, 0, len(db.idx.byRef))
	for _, s := range db.idx.byRef {
		if s != nil {
			ss = append(ss, walSeries{ref: s.ref, labels: s.labels})
		}
	}
	return appendSeriesRecord(nil, ss)
}
